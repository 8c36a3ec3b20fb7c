use std::fmt;

use http::HeaderName;
use http::header;

/// A response header the [`SecurityHeadersLayer`](super::SecurityHeadersLayer) manages.
///
/// Names a header in [`SecurityHeadersLayer::without`](super::SecurityHeadersLayer::without)
/// and in a per-response [`SecurityHeadersOverride`](super::SecurityHeadersOverride).
///
/// ```
/// use portcullis_security_headers::headers::SecurityHeader;
///
/// assert_eq!(SecurityHeader::StrictTransportSecurity.name(), "strict-transport-security");
/// assert_eq!(SecurityHeader::PermissionsPolicy.to_string(), "permissions-policy");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SecurityHeader {
    /// `Content-Security-Policy`.
    ContentSecurityPolicy,
    /// `Content-Security-Policy-Report-Only`.
    ContentSecurityPolicyReportOnly,
    /// `Reporting-Endpoints`.
    ReportingEndpoints,
    /// `Strict-Transport-Security` (HSTS).
    StrictTransportSecurity,
    /// `X-Frame-Options`.
    XFrameOptions,
    /// `X-Content-Type-Options`.
    XContentTypeOptions,
    /// `Referrer-Policy`.
    ReferrerPolicy,
    /// `Permissions-Policy`.
    PermissionsPolicy,
    /// `Cross-Origin-Opener-Policy` (COOP).
    CrossOriginOpenerPolicy,
    /// `Cross-Origin-Embedder-Policy` (COEP).
    CrossOriginEmbedderPolicy,
    /// `Cross-Origin-Resource-Policy` (CORP).
    CrossOriginResourcePolicy,
    /// `Origin-Agent-Cluster`.
    OriginAgentCluster,
    /// `X-DNS-Prefetch-Control`.
    XDnsPrefetchControl,
    /// `X-Permitted-Cross-Domain-Policies`.
    XPermittedCrossDomainPolicies,
    /// `X-Download-Options`.
    XDownloadOptions,
    /// `X-XSS-Protection`.
    XXssProtection,
    /// `Cache-Control` (also the `no-store` a nonce-carrying response gets).
    CacheControl,
}

impl SecurityHeader {
    /// The header name.
    pub fn name(self) -> HeaderName {
        match self {
            Self::ContentSecurityPolicy => header::CONTENT_SECURITY_POLICY,
            Self::ContentSecurityPolicyReportOnly => header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
            Self::ReportingEndpoints => HeaderName::from_static("reporting-endpoints"),
            Self::StrictTransportSecurity => header::STRICT_TRANSPORT_SECURITY,
            Self::XFrameOptions => header::X_FRAME_OPTIONS,
            Self::XContentTypeOptions => header::X_CONTENT_TYPE_OPTIONS,
            Self::ReferrerPolicy => header::REFERRER_POLICY,
            Self::PermissionsPolicy => HeaderName::from_static("permissions-policy"),
            Self::CrossOriginOpenerPolicy => HeaderName::from_static("cross-origin-opener-policy"),
            Self::CrossOriginEmbedderPolicy => {
                HeaderName::from_static("cross-origin-embedder-policy")
            }
            Self::CrossOriginResourcePolicy => {
                HeaderName::from_static("cross-origin-resource-policy")
            }
            Self::OriginAgentCluster => HeaderName::from_static("origin-agent-cluster"),
            Self::XDnsPrefetchControl => header::X_DNS_PREFETCH_CONTROL,
            Self::XPermittedCrossDomainPolicies => {
                HeaderName::from_static("x-permitted-cross-domain-policies")
            }
            Self::XDownloadOptions => HeaderName::from_static("x-download-options"),
            Self::XXssProtection => header::X_XSS_PROTECTION,
            Self::CacheControl => header::CACHE_CONTROL,
        }
    }

    /// The header name as a static string.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ContentSecurityPolicy => "content-security-policy",
            Self::ContentSecurityPolicyReportOnly => "content-security-policy-report-only",
            Self::ReportingEndpoints => "reporting-endpoints",
            Self::StrictTransportSecurity => "strict-transport-security",
            Self::XFrameOptions => "x-frame-options",
            Self::XContentTypeOptions => "x-content-type-options",
            Self::ReferrerPolicy => "referrer-policy",
            Self::PermissionsPolicy => "permissions-policy",
            Self::CrossOriginOpenerPolicy => "cross-origin-opener-policy",
            Self::CrossOriginEmbedderPolicy => "cross-origin-embedder-policy",
            Self::CrossOriginResourcePolicy => "cross-origin-resource-policy",
            Self::OriginAgentCluster => "origin-agent-cluster",
            Self::XDnsPrefetchControl => "x-dns-prefetch-control",
            Self::XPermittedCrossDomainPolicies => "x-permitted-cross-domain-policies",
            Self::XDownloadOptions => "x-download-options",
            Self::XXssProtection => "x-xss-protection",
            Self::CacheControl => "cache-control",
        }
    }

    /// The bit of this header in a set of headers.
    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for SecurityHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree() {
        let all = [
            SecurityHeader::ContentSecurityPolicy,
            SecurityHeader::ContentSecurityPolicyReportOnly,
            SecurityHeader::ReportingEndpoints,
            SecurityHeader::StrictTransportSecurity,
            SecurityHeader::XFrameOptions,
            SecurityHeader::XContentTypeOptions,
            SecurityHeader::ReferrerPolicy,
            SecurityHeader::PermissionsPolicy,
            SecurityHeader::CrossOriginOpenerPolicy,
            SecurityHeader::CrossOriginEmbedderPolicy,
            SecurityHeader::CrossOriginResourcePolicy,
            SecurityHeader::OriginAgentCluster,
            SecurityHeader::XDnsPrefetchControl,
            SecurityHeader::XPermittedCrossDomainPolicies,
            SecurityHeader::XDownloadOptions,
            SecurityHeader::XXssProtection,
            SecurityHeader::CacheControl,
        ];
        let mut bits = 0;
        for header in all {
            assert_eq!(header.name().as_str(), header.as_str());
            assert_eq!(bits & header.bit(), 0);
            bits |= header.bit();
        }
    }
}
