use http::HeaderValue;

/// The `Referrer-Policy`: how much of the page URL other sites see.
///
/// [MDN: Referrer-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Referrer-Policy)
///
/// ```
/// use portcullis_security_headers::headers::ReferrerPolicy;
///
/// assert_eq!(ReferrerPolicy::NoReferrer.as_str(), "no-referrer");
/// let parsed: ReferrerPolicy = serde_json::from_str(r#""strict-origin-when-cross-origin""#).unwrap();
/// assert_eq!(parsed, ReferrerPolicy::StrictOriginWhenCrossOrigin);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReferrerPolicy {
    /// `no-referrer`: never send a referrer (the presets' choice).
    NoReferrer,
    /// `no-referrer-when-downgrade`.
    NoReferrerWhenDowngrade,
    /// `origin`.
    Origin,
    /// `origin-when-cross-origin`.
    OriginWhenCrossOrigin,
    /// `same-origin`: full URL to the own origin, nothing elsewhere.
    SameOrigin,
    /// `strict-origin`.
    StrictOrigin,
    /// `strict-origin-when-cross-origin` (the browsers' default).
    StrictOriginWhenCrossOrigin,
    /// `unsafe-url`: always the full URL.
    UnsafeUrl,
}

impl ReferrerPolicy {
    /// The header value text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoReferrer => "no-referrer",
            Self::NoReferrerWhenDowngrade => "no-referrer-when-downgrade",
            Self::Origin => "origin",
            Self::OriginWhenCrossOrigin => "origin-when-cross-origin",
            Self::SameOrigin => "same-origin",
            Self::StrictOrigin => "strict-origin",
            Self::StrictOriginWhenCrossOrigin => "strict-origin-when-cross-origin",
            Self::UnsafeUrl => "unsafe-url",
        }
    }
}

impl From<ReferrerPolicy> for HeaderValue {
    fn from(policy: ReferrerPolicy) -> Self {
        HeaderValue::from_static(policy.as_str())
    }
}
