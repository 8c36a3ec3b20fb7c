//! [`CorsConfig`]: the CORS configuration as loaded from a file; and the checked
//! configuration a [`Cors`](super::Cors) service decides with.

use serde::Deserialize;

use super::allow_headers::AllowHeaders;
use super::allow_methods::AllowMethods;
use super::allow_origin::AllowOrigin;
use super::expose_headers::ExposeHeaders;
use super::max_age::MaxAge;

/// Which [`CorsLayer`](super::CorsLayer) preset a [`CorsConfig`] starts from.
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
    /// [`CorsLayer::new`](super::CorsLayer::new).
    #[default]
    Default,
    /// [`CorsLayer::strict`](super::CorsLayer::strict).
    Strict,
    /// [`CorsLayer::api`](super::CorsLayer::api).
    Api,
    /// [`CorsLayer::development`](super::CorsLayer::development).
    Development,
}

/// The CORS configuration of a service, deserialized from its config file and turned
/// into a layer with [`CorsLayer::from_config`](super::CorsLayer::from_config) (which checks it like the setters).
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
    /// ([`CorsLayer::allow_origins`](super::CorsLayer::allow_origins)).
    pub allowed_origins: AllowOrigin,
    /// [`CorsLayer::insecure_allow_any_origin`](super::CorsLayer::insecure_allow_any_origin).
    pub insecure_allow_any_origin: bool,
    /// [`CorsLayer::allow_credentials`](super::CorsLayer::allow_credentials).
    pub allow_credentials: bool,
    /// [`CorsLayer::allow_methods`](super::CorsLayer::allow_methods).
    pub allow_methods: Option<AllowMethods>,
    /// [`CorsLayer::allow_headers`](super::CorsLayer::allow_headers).
    pub allow_headers: Option<AllowHeaders>,
    /// [`CorsLayer::expose_headers`](super::CorsLayer::expose_headers).
    pub expose_headers: Option<ExposeHeaders>,
    /// [`CorsLayer::max_age`](super::CorsLayer::max_age), in seconds.
    pub max_age: Option<MaxAge>,
    /// [`CorsLayer::allow_private_network`](super::CorsLayer::allow_private_network).
    pub allow_private_network: bool,
    /// [`CorsLayer::reject_disallowed_origins`](super::CorsLayer::reject_disallowed_origins).
    pub reject_disallowed_origins: Option<bool>,
}

/// Everything a [`Cors`](super::Cors) service decides with, shared behind one `Arc`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Config {
    pub(crate) origins: AllowOrigin,
    pub(crate) any_origin: bool,
    pub(crate) credentials: bool,
    pub(crate) methods: AllowMethods,
    pub(crate) headers: AllowHeaders,
    pub(crate) expose: ExposeHeaders,
    pub(crate) max_age: Option<MaxAge>,
    pub(crate) private_network: bool,
    pub(crate) reject_disallowed: bool,
    /// Whether a 403 says which origin, method or header was refused (development).
    pub(crate) detailed_rejections: bool,
    /// Whether `http://localhost:*` patterns are accepted (development).
    pub(crate) port_wildcards: bool,
}

impl Config {
    /// The values of a preset. Every preset goes through here: presets differ only in
    /// values, never in code paths.
    pub(crate) fn preset(
        methods: AllowMethods,
        headers: AllowHeaders,
        expose: ExposeHeaders,
        max_age: Option<MaxAge>,
        reject_disallowed: bool,
        development: bool,
    ) -> Self {
        Self {
            methods,
            headers,
            expose,
            max_age,
            reject_disallowed,
            detailed_rejections: development,
            port_wildcards: development,
            ..Self::default()
        }
    }
}
