//! [`EnvironmentPolicy`]: which environments' keys a layer accepts.

use serde::Deserialize;

use crate::format::Environment;

/// Which keys a layer accepts by their [`Environment`], the `live` or `test` in
/// `sk_live_…`. Checked right after the format, before any cache or store is asked.
///
/// A deployment that accepts both tells handlers which one a request used
/// ([`ApiKeyContext::environment`](super::ApiKeyContext::environment)), so that test
/// keys reach sandbox data only.
///
/// In a configuration file: `"live_only"`, `"test_only"` or `"both"`.
///
/// ```
/// use portcullis_api_keys::format::Environment;
/// use portcullis_api_keys::api_key::EnvironmentPolicy;
///
/// assert_eq!(EnvironmentPolicy::default(), EnvironmentPolicy::LiveOnly);
/// assert!(!EnvironmentPolicy::LiveOnly.accepts(Environment::Test));
/// assert!(EnvironmentPolicy::Both.accepts(Environment::Test));
/// let policy: EnvironmentPolicy = serde_json::from_str(r#""test_only""#).unwrap();
/// assert_eq!(policy, EnvironmentPolicy::TestOnly);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EnvironmentPolicy {
    /// `live` keys only: production.
    #[default]
    LiveOnly,
    /// `test` keys only: a sandbox or staging deployment, which a leaked live key
    /// cannot reach.
    TestOnly,
    /// Both; handlers read [`ApiKeyContext::environment`](super::ApiKeyContext::environment).
    Both,
}

impl EnvironmentPolicy {
    /// Whether keys of `environment` are accepted.
    ///
    /// ```
    /// use portcullis_api_keys::{format::Environment, api_key::EnvironmentPolicy};
    /// assert!(EnvironmentPolicy::TestOnly.accepts(Environment::Test));
    /// assert!(!EnvironmentPolicy::TestOnly.accepts(Environment::Live));
    /// ```
    pub fn accepts(self, environment: Environment) -> bool {
        match self {
            Self::LiveOnly => environment == Environment::Live,
            Self::TestOnly => environment == Environment::Test,
            Self::Both => true,
        }
    }

    /// What a client presenting a key of a refused environment is told.
    pub(crate) fn refusal(self) -> &'static str {
        match self {
            Self::LiveOnly => "This API accepts live keys only.",
            Self::TestOnly => "This API accepts test keys only.",
            Self::Both => "This API does not accept keys of this environment.",
        }
    }
}
