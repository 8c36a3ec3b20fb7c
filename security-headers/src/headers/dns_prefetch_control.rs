use http::HeaderValue;

/// `X-DNS-Prefetch-Control`: whether the browser resolves link targets ahead of time
/// (which tells DNS resolvers what the user is looking at).
///
/// [MDN: X-DNS-Prefetch-Control](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-DNS-Prefetch-Control)
///
/// ```
/// use portcullis_security_headers::headers::DnsPrefetchControl;
///
/// assert_eq!(DnsPrefetchControl::Off.as_str(), "off");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DnsPrefetchControl {
    /// `off` (the strict preset).
    Off,
    /// `on`.
    On,
}

impl DnsPrefetchControl {
    /// The header value text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
        }
    }
}

impl From<DnsPrefetchControl> for HeaderValue {
    fn from(control: DnsPrefetchControl) -> Self {
        HeaderValue::from_static(control.as_str())
    }
}
