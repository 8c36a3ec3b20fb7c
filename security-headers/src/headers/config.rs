//! [`SecurityHeadersConfig`]: the security headers of a service as loaded from a file.

use portcullis_core::client_ip::{ForwardedHeader, TrustedProxies};
use serde::Deserialize;

use crate::csp::{Policy, ReportingEndpoints};

use super::{
    CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy,
    DnsPrefetchControl, FrameOptions, Hsts, PermissionsPolicy, PermittedCrossDomainPolicies,
    ReferrerPolicy, SecurityHeader,
};

/// Which [`SecurityHeadersLayer`](super::SecurityHeadersLayer) preset a
/// [`SecurityHeadersConfig`] starts from: `strict` unless set.
///
/// ```
/// use portcullis_security_headers::headers::SecurityHeadersPreset;
///
/// let preset: SecurityHeadersPreset = serde_json::from_str(r#""api""#).unwrap();
/// assert_eq!(preset, SecurityHeadersPreset::Api);
/// assert_eq!(SecurityHeadersPreset::default(), SecurityHeadersPreset::Strict);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecurityHeadersPreset {
    /// [`SecurityHeadersLayer::new`](super::SecurityHeadersLayer::new): nothing, every
    /// header from the configuration.
    None,
    /// [`SecurityHeadersLayer::strict`](super::SecurityHeadersLayer::strict).
    #[default]
    Strict,
    /// [`SecurityHeadersLayer::api`](super::SecurityHeadersLayer::api).
    Api,
    /// [`SecurityHeadersLayer::development`](super::SecurityHeadersLayer::development).
    Development,
}

/// The security headers of a service, deserialized from its config file and turned
/// into a layer with
/// [`SecurityHeadersLayer::from_config`](super::SecurityHeadersLayer::from_config),
/// which checks every value like the setter of the same name.
///
/// Every field is optional: the preset's value stays unless set. `without` drops
/// headers of the preset first; the other fields then set theirs.
///
/// ```
/// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersConfig, SecurityHeadersLayer};
///
/// let config: SecurityHeadersConfig = serde_json::from_str(r#"{
///     "preset": "api",
///     "referrer_policy": "strict-origin-when-cross-origin",
///     "hsts": { "max_age": 31536000, "include_subdomains": true, "preload": true },
///     "without": ["cross-origin-resource-policy"],
///     "trusted_proxies": ["10.0.0.0/8"]
/// }"#)?;
/// let layer = SecurityHeadersLayer::from_config(config)?;
/// assert_eq!(
///     layer.header_value(SecurityHeader::ReferrerPolicy).unwrap(),
///     "strict-origin-when-cross-origin"
/// );
/// assert_eq!(
///     layer.header_value(SecurityHeader::StrictTransportSecurity).unwrap(),
///     "max-age=31536000; includeSubDomains; preload"
/// );
/// assert!(layer.header_value(SecurityHeader::CrossOriginResourcePolicy).is_none());
///
/// // Checked like the setters: `preload` needs a year and includeSubDomains.
/// let bad: SecurityHeadersConfig =
///     serde_json::from_str(r#"{ "hsts": { "max_age": 600, "preload": true } }"#)?;
/// assert!(SecurityHeadersLayer::from_config(bad).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SecurityHeadersConfig {
    /// The preset to start from.
    pub preset: SecurityHeadersPreset,
    /// Headers of the preset not to send
    /// ([`without`](super::SecurityHeadersLayer::without)), by header name.
    pub without: Vec<SecurityHeader>,
    /// [`content_security_policy`](super::SecurityHeadersLayer::content_security_policy).
    pub content_security_policy: Option<Policy>,
    /// [`content_security_policy_report_only`](super::SecurityHeadersLayer::content_security_policy_report_only).
    pub content_security_policy_report_only: Option<Policy>,
    /// [`hsts`](super::SecurityHeadersLayer::hsts).
    pub hsts: Option<Hsts>,
    /// [`x_frame_options`](super::SecurityHeadersLayer::x_frame_options).
    pub x_frame_options: Option<FrameOptions>,
    /// [`referrer_policy`](super::SecurityHeadersLayer::referrer_policy).
    pub referrer_policy: Option<ReferrerPolicy>,
    /// [`permissions_policy`](super::SecurityHeadersLayer::permissions_policy).
    pub permissions_policy: Option<PermissionsPolicy>,
    /// [`cross_origin_opener_policy`](super::SecurityHeadersLayer::cross_origin_opener_policy).
    pub cross_origin_opener_policy: Option<CrossOriginOpenerPolicy>,
    /// [`cross_origin_embedder_policy`](super::SecurityHeadersLayer::cross_origin_embedder_policy).
    pub cross_origin_embedder_policy: Option<CrossOriginEmbedderPolicy>,
    /// [`cross_origin_resource_policy`](super::SecurityHeadersLayer::cross_origin_resource_policy).
    pub cross_origin_resource_policy: Option<CrossOriginResourcePolicy>,
    /// [`x_dns_prefetch_control`](super::SecurityHeadersLayer::x_dns_prefetch_control).
    pub x_dns_prefetch_control: Option<DnsPrefetchControl>,
    /// [`x_permitted_cross_domain_policies`](super::SecurityHeadersLayer::x_permitted_cross_domain_policies).
    pub x_permitted_cross_domain_policies: Option<PermittedCrossDomainPolicies>,
    /// [`reporting_endpoints`](super::SecurityHeadersLayer::reporting_endpoints).
    pub reporting_endpoints: Option<ReportingEndpoints>,
    /// [`trusted_proxies`](super::SecurityHeadersLayer::trusted_proxies).
    pub trusted_proxies: Option<TrustedProxies>,
    /// [`forwarded_header`](super::SecurityHeadersLayer::forwarded_header).
    pub forwarded_header: Option<ForwardedHeader>,
    /// [`assume_https`](super::SecurityHeadersLayer::assume_https).
    pub assume_https: Option<bool>,
}
