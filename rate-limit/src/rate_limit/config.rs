//! [`RateLimitConfig`]: the layer's configuration as loaded from a file.

use serde::Deserialize;

use super::failure::FailurePolicy;
use super::hooks::RefundOn;
use super::on_missing_key::OnMissingKey;
use crate::headers::HeaderMode;
use crate::resolver::Plans;

/// Which [`RateLimitLayer`](super::RateLimitLayer) preset a [`RateLimitConfig`] starts
/// from.
///
/// ```
/// use portcullis_rate_limit::rate_limit::RateLimitPreset;
///
/// let preset: RateLimitPreset = serde_json::from_str(r#""auth_bruteforce""#).unwrap();
/// assert_eq!(preset, RateLimitPreset::AuthBruteforce);
/// assert_eq!(RateLimitPreset::default(), RateLimitPreset::Default);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RateLimitPreset {
    /// [`RateLimitLayer::new`](super::RateLimitLayer::new).
    #[default]
    Default,
    /// [`RateLimitLayer::development`](super::RateLimitLayer::development).
    Development,
    /// [`RateLimitLayer::production`](super::RateLimitLayer::production).
    Production,
    /// [`RateLimitLayer::multi_tenant`](super::RateLimitLayer::multi_tenant).
    MultiTenant,
    /// [`RateLimitLayer::auth_bruteforce`](super::RateLimitLayer::auth_bruteforce).
    AuthBruteforce,
}

/// The configuration of a [`RateLimitLayer`](super::RateLimitLayer), deserialized from
/// a config file and turned into a layer with
/// [`RateLimitLayer::from_config`](super::RateLimitLayer::from_config) (feature
/// `memory`: the layer starts in memory; give it another store with
/// [`store`](super::RateLimitLayer::store)).
///
/// Every field is optional: unset fields keep the preset's value, and `plans` replaces
/// the preset's plans whole (see [`Plans`] for its form). What a file cannot hold is set
/// in code: the key, the store, the clock, the cost hook and the key secret.
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use portcullis_core::client_ip::PeerAddr;
/// use portcullis_rate_limit::{RateLimitLayer, rate_limit::RateLimitConfig};
/// use tower::ServiceExt;
///
/// let config: RateLimitConfig = toml::from_str(r#"
///     preset = "production"
///     headers = "ietf"
///     shadow = true
///     on_store_error = "fail_closed"
///     refund = "server_errors"
///
///     [plans]
///     default = "api"
///     [[plans.plans]]
///     name = "api"
///     quotas = [{ name = "minute", limit = 2, window = "1m" }]
/// "#).unwrap();
/// let layer = RateLimitLayer::from_config(config);
/// let app = Router::new().route("/", get(|| async { "hi" })).layer(layer.clone());
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// for _ in 0..3 {
///     let mut request = Request::get("/").body(Body::empty()).unwrap();
///     request.extensions_mut().insert(PeerAddr("203.0.113.9:5000".parse().unwrap()));
///     let response = app.clone().oneshot(request).await.unwrap();
///     // Shadow mode: the third request passes too. Only the IETF headers are sent.
///     assert_eq!(response.status(), StatusCode::OK);
///     assert_eq!(response.headers()["ratelimit-policy"], "\"minute\";q=2;w=60");
///     assert!(!response.headers().contains_key("x-ratelimit-limit"));
/// }
/// assert_eq!(layer.metrics().snapshot().shadow_denied, 1);
/// # });
///
/// // A misspelt setting is an error, not silently ignored.
/// assert!(toml::from_str::<RateLimitConfig>("sahdow = true").is_err());
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// The preset to start from.
    pub preset: RateLimitPreset,
    /// [`RateLimitLayer::plans`](super::RateLimitLayer::plans): replaces the preset's.
    pub plans: Option<Plans>,
    /// [`RateLimitLayer::headers`](super::RateLimitLayer::headers).
    pub headers: Option<HeaderMode>,
    /// [`RateLimitLayer::shadow`](super::RateLimitLayer::shadow).
    pub shadow: Option<bool>,
    /// [`RateLimitLayer::on_missing_key`](super::RateLimitLayer::on_missing_key).
    pub on_missing_key: Option<OnMissingKey>,
    /// [`RateLimitLayer::on_store_error`](super::RateLimitLayer::on_store_error).
    pub on_store_error: Option<FailurePolicy>,
    /// [`RateLimitLayer::degraded_header`](super::RateLimitLayer::degraded_header).
    pub degraded_header: Option<bool>,
    /// [`RateLimitLayer::refund_if`](super::RateLimitLayer::refund_if).
    pub refund: Option<RefundOn>,
}
