use http::HeaderValue;

/// `Cross-Origin-Opener-Policy` (COOP): whether cross-origin windows may share a
/// browsing context group with this page.
///
/// [MDN: Cross-Origin-Opener-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cross-Origin-Opener-Policy)
///
/// ```
/// use portcullis_security_headers::headers::CrossOriginOpenerPolicy;
///
/// assert_eq!(CrossOriginOpenerPolicy::SameOrigin.as_str(), "same-origin");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CrossOriginOpenerPolicy {
    /// `same-origin`: full isolation (the strict preset).
    SameOrigin,
    /// `same-origin-allow-popups`: keep references to popups this page opens.
    SameOriginAllowPopups,
    /// `noopener-allow-popups`.
    NoopenerAllowPopups,
    /// `unsafe-none`: the browser default.
    UnsafeNone,
}

impl CrossOriginOpenerPolicy {
    /// The header value text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SameOrigin => "same-origin",
            Self::SameOriginAllowPopups => "same-origin-allow-popups",
            Self::NoopenerAllowPopups => "noopener-allow-popups",
            Self::UnsafeNone => "unsafe-none",
        }
    }
}

/// `Cross-Origin-Embedder-Policy` (COEP): which cross-origin resources the page may
/// load.
///
/// [MDN: Cross-Origin-Embedder-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cross-Origin-Embedder-Policy)
///
/// ```
/// use portcullis_security_headers::headers::CrossOriginEmbedderPolicy;
///
/// assert_eq!(CrossOriginEmbedderPolicy::RequireCorp.as_str(), "require-corp");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CrossOriginEmbedderPolicy {
    /// `require-corp`: only resources that opt in with CORP or CORS (the strict preset).
    RequireCorp,
    /// `credentialless`: cross-origin no-cors requests go without credentials.
    Credentialless,
    /// `unsafe-none`: the browser default.
    UnsafeNone,
}

impl CrossOriginEmbedderPolicy {
    /// The header value text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequireCorp => "require-corp",
            Self::Credentialless => "credentialless",
            Self::UnsafeNone => "unsafe-none",
        }
    }
}

/// `Cross-Origin-Resource-Policy` (CORP): who may load this response as a
/// subresource.
///
/// [MDN: Cross-Origin-Resource-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cross-Origin-Resource-Policy)
///
/// ```
/// use portcullis_security_headers::headers::CrossOriginResourcePolicy;
///
/// assert_eq!(CrossOriginResourcePolicy::SameOrigin.as_str(), "same-origin");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CrossOriginResourcePolicy {
    /// `same-origin` (the presets).
    SameOrigin,
    /// `same-site`.
    SameSite,
    /// `cross-origin`: anyone (for public assets and CDNs).
    CrossOrigin,
}

impl CrossOriginResourcePolicy {
    /// The header value text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SameOrigin => "same-origin",
            Self::SameSite => "same-site",
            Self::CrossOrigin => "cross-origin",
        }
    }
}

impl From<CrossOriginOpenerPolicy> for HeaderValue {
    fn from(policy: CrossOriginOpenerPolicy) -> Self {
        HeaderValue::from_static(policy.as_str())
    }
}

impl From<CrossOriginEmbedderPolicy> for HeaderValue {
    fn from(policy: CrossOriginEmbedderPolicy) -> Self {
        HeaderValue::from_static(policy.as_str())
    }
}

impl From<CrossOriginResourcePolicy> for HeaderValue {
    fn from(policy: CrossOriginResourcePolicy) -> Self {
        HeaderValue::from_static(policy.as_str())
    }
}
