use http::HeaderValue;

/// `X-Frame-Options`: whether the page may be framed (the legacy twin of CSP
/// `frame-ancestors`, still read by old browsers).
///
/// [MDN: X-Frame-Options](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-Frame-Options)
///
/// ```
/// use portcullis_security_headers::headers::FrameOptions;
///
/// assert_eq!(FrameOptions::Deny.as_str(), "DENY");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FrameOptions {
    /// `DENY`: never framed.
    Deny,
    /// `SAMEORIGIN`: framed by the own origin only.
    SameOrigin,
}

impl FrameOptions {
    /// The header value text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "DENY",
            Self::SameOrigin => "SAMEORIGIN",
        }
    }
}

impl From<FrameOptions> for HeaderValue {
    fn from(options: FrameOptions) -> Self {
        HeaderValue::from_static(options.as_str())
    }
}
