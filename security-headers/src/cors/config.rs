//! [`CorsConfig`]: the CORS configuration as loaded from a file.

use serde::Deserialize;

use super::allow_headers::AllowHeaders;
use super::allow_methods::AllowMethods;
use super::allow_origin::AllowOrigin;
use super::expose_headers::ExposeHeaders;
use super::layer::CorsLayer;
use super::max_age::MaxAge;
use crate::ConfigError;

/// Which [`CorsLayer`] preset a [`CorsConfig`] starts from.
///
/// ```
/// use portcullis_security_headers::cors::CorsPreset;
///
/// let preset: CorsPreset = serde_json::from_str(r#""strict""#).unwrap();
/// assert_eq!(preset, CorsPreset::Strict);
/// assert_eq!(CorsPreset::default(), CorsPreset::Default);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CorsPreset {
    /// [`CorsLayer::new`].
    #[default]
    Default,
    /// [`CorsLayer::strict`].
    Strict,
    /// [`CorsLayer::api`].
    Api,
    /// [`CorsLayer::development`].
    Development,
}

/// The CORS configuration of a service, deserialized from its config file and turned
/// into a layer with [`CorsLayer::from_config`] (which checks it like the setters).
///
/// Every field is optional; unset fields keep the preset's value. Lists are either
/// arrays of strings or one comma-separated string.
///
/// ```
/// use portcullis_security_headers::cors::{CorsConfig, CorsLayer, CorsPreset};
///
/// let config: CorsConfig = serde_json::from_str(r#"{
///     "preset": "strict",
///     "allowed_origins": ["https://app.example.com", "https://*.example.com"],
///     "allow_methods": "GET, POST, DELETE",
///     "max_age": 300
/// }"#).unwrap();
/// assert_eq!(config.preset, CorsPreset::Strict);
/// assert_eq!(config.allowed_origins.len(), 2);
/// let layer = CorsLayer::from_config(config)?;
///
/// let bad: CorsConfig = serde_json::from_str(r#"{
///     "insecure_allow_any_origin": true,
///     "allow_credentials": true
/// }"#).unwrap();
/// assert!(CorsLayer::from_config(bad).is_err());
/// # Ok::<(), portcullis_security_headers::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CorsConfig {
    /// The preset to start from.
    pub preset: CorsPreset,
    /// Origins allowed in addition to the preset's
    /// ([`CorsLayer::allow_origins`]).
    pub allowed_origins: AllowOrigin,
    /// [`CorsLayer::insecure_allow_any_origin`].
    pub insecure_allow_any_origin: bool,
    /// [`CorsLayer::allow_credentials`].
    pub allow_credentials: bool,
    /// [`CorsLayer::allow_methods`].
    pub allow_methods: Option<AllowMethods>,
    /// [`CorsLayer::allow_headers`].
    pub allow_headers: Option<AllowHeaders>,
    /// [`CorsLayer::expose_headers`].
    pub expose_headers: Option<ExposeHeaders>,
    /// [`CorsLayer::max_age`], in seconds.
    pub max_age: Option<MaxAge>,
    /// [`CorsLayer::allow_private_network`].
    pub allow_private_network: bool,
    /// [`CorsLayer::reject_disallowed_origins`].
    pub reject_disallowed_origins: Option<bool>,
}

impl CorsConfig {
    pub(crate) fn into_layer(self) -> Result<CorsLayer, ConfigError> {
        let mut layer = match self.preset {
            CorsPreset::Default => CorsLayer::new(),
            CorsPreset::Strict => CorsLayer::strict(),
            CorsPreset::Api => CorsLayer::api(),
            CorsPreset::Development => CorsLayer::development(),
        };
        layer = layer.allow_origins(self.allowed_origins)?;
        if self.insecure_allow_any_origin {
            layer = layer.insecure_allow_any_origin()?;
        }
        layer = layer.allow_credentials(self.allow_credentials)?;
        if let Some(methods) = self.allow_methods {
            layer = layer.allow_methods(methods);
        }
        if let Some(headers) = self.allow_headers {
            layer = layer.allow_headers(headers);
        }
        if let Some(exposed) = self.expose_headers {
            layer = layer.expose_headers(exposed);
        }
        if let Some(max_age) = self.max_age {
            layer = layer.max_age(max_age);
        }
        if let Some(reject) = self.reject_disallowed_origins {
            layer = layer.reject_disallowed_origins(reject);
        }
        Ok(layer.allow_private_network(self.allow_private_network))
    }
}
