//! [`ApiKeyConfig`]: the layer's configuration as loaded from a file, and
//! [`LayerConfigError`].

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::environment::EnvironmentPolicy;
use super::source::KeySource;
use crate::error::ParseError;
use crate::format::KeyFormat;
use crate::scopes::Scopes;

/// An invalid [`ApiKeyLayer`](super::ApiKeyLayer) configuration, reported when the
/// layer is built; never at request time.
///
/// ```
/// use portcullis_api_keys::{hash::KeyHasher, api_key::{ApiKeyLayer, LayerConfigError}};
/// use portcullis_api_keys::store::memory::MemoryKeyStore;
///
/// let layer = ApiKeyLayer::new(MemoryKeyStore::new(), KeyHasher::sha256());
/// let error = layer.realm("say \"hi\"").unwrap_err();
/// assert!(matches!(error, LayerConfigError::Realm { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerConfigError {
    /// A realm that cannot stand in a `WWW-Authenticate` quoted string.
    #[error(
        "invalid realm `{realm}`: use 1 to 128 visible ASCII characters or spaces, without `\"` or `\\`"
    )]
    Realm {
        /// The realm as written.
        realm: String,
    },
    /// A query parameter name that is empty or needs escaping.
    #[error(
        "invalid query parameter name `{name}`: use 1 to 64 characters among `A-Z a-z 0-9 - _ .`"
    )]
    QueryParameter {
        /// The name as written.
        name: String,
    },
    /// No source to read keys from: every request would be refused.
    #[error("no key source: give at least one header or `bearer`")]
    NoSources,
    /// A required scope that is not a scope token.
    #[error(transparent)]
    Scope(#[from] ParseError),
}

/// Which [`ApiKeyLayer`](super::ApiKeyLayer) preset an [`ApiKeyConfig`] starts from.
///
/// ```
/// use portcullis_api_keys::api_key::ApiKeyPreset;
/// let preset: ApiKeyPreset = serde_json::from_str(r#""strict""#).unwrap();
/// assert_eq!(preset, ApiKeyPreset::Strict);
/// assert_eq!(ApiKeyPreset::default(), ApiKeyPreset::Default);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApiKeyPreset {
    /// [`ApiKeyLayer::new`](super::ApiKeyLayer::new).
    #[default]
    Default,
    /// [`ApiKeyLayer::strict`](super::ApiKeyLayer::strict).
    Strict,
    /// [`ApiKeyLayer::development`](super::ApiKeyLayer::development).
    Development,
}

/// The configuration of an [`ApiKeyLayer`](super::ApiKeyLayer), deserialized from a
/// config file and turned into a layer with
/// [`ApiKeyLayer::from_config`](super::ApiKeyLayer::from_config), which checks it like
/// the setters. Every field is optional: unset fields keep the preset's value. TTLs
/// are in seconds.
///
/// ```
/// use portcullis_api_keys::{hash::KeyHasher, api_key::{ApiKeyConfig, ApiKeyLayer}};
/// use portcullis_api_keys::store::memory::MemoryKeyStore;
///
/// let config: ApiKeyConfig = serde_json::from_str(r#"{
///     "preset": "strict",
///     "sources": ["x-api-key"],
///     "environments": "both",
///     "realm": "billing",
///     "positive_ttl": 15,
///     "negative_ttl": 1.5
/// }"#)?;
/// let layer = ApiKeyLayer::from_config(MemoryKeyStore::new(), KeyHasher::sha256(), config)?;
/// assert_eq!(layer.key_cache().config().positive_ttl.as_secs(), 15);
///
/// let bad: ApiKeyConfig = serde_json::from_str(r#"{ "insecure_query_parameter": "api key" }"#)?;
/// assert!(ApiKeyLayer::from_config(MemoryKeyStore::new(), KeyHasher::sha256(), bad).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiKeyConfig {
    /// The preset to start from.
    pub preset: ApiKeyPreset,
    /// [`ApiKeyLayer::format`](super::ApiKeyLayer::format).
    pub format: Option<KeyFormat>,
    /// [`ApiKeyLayer::sources`](super::ApiKeyLayer::sources).
    pub sources: Option<Vec<KeySource>>,
    /// [`ApiKeyLayer::insecure_query_parameter`](super::ApiKeyLayer::insecure_query_parameter).
    pub insecure_query_parameter: Option<String>,
    /// [`ApiKeyLayer::environments`](super::ApiKeyLayer::environments).
    pub environments: Option<EnvironmentPolicy>,
    /// [`ApiKeyLayer::realm`](super::ApiKeyLayer::realm).
    pub realm: Option<String>,
    /// [`ApiKeyLayer::require_scopes`](super::ApiKeyLayer::require_scopes).
    pub required_scopes: Option<Scopes>,
    /// [`KeyCacheConfig::positive_ttl`](crate::cache::KeyCacheConfig::positive_ttl),
    /// in seconds.
    #[serde(deserialize_with = "optional_seconds")]
    pub positive_ttl: Option<Duration>,
    /// [`KeyCacheConfig::negative_ttl`](crate::cache::KeyCacheConfig::negative_ttl),
    /// in seconds.
    #[serde(deserialize_with = "optional_seconds")]
    pub negative_ttl: Option<Duration>,
    /// [`KeyCacheConfig::max_capacity`](crate::cache::KeyCacheConfig::max_capacity).
    pub max_capacity: Option<u64>,
    /// [`KeyCacheConfig::max_unknown`](crate::cache::KeyCacheConfig::max_unknown).
    pub max_unknown: Option<u64>,
}

fn optional_seconds<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    crate::cache::seconds(deserializer).map(Some)
}

/// Whether `name` is a query parameter name that needs no escaping.
pub(crate) fn is_valid_query_parameter(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
