use std::collections::BTreeMap;

use http::HeaderValue;

use crate::ConfigError;

/// The features the OWASP Secure Headers Project denies in its recommended
/// `Permissions-Policy`.
pub const OWASP_FEATURES: [&str; 29] = [
    "accelerometer",
    "autoplay",
    "camera",
    "cross-origin-isolated",
    "display-capture",
    "encrypted-media",
    "fullscreen",
    "geolocation",
    "gyroscope",
    "keyboard-map",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "picture-in-picture",
    "publickey-credentials-get",
    "screen-wake-lock",
    "sync-xhr",
    "usb",
    "web-share",
    "xr-spatial-tracking",
    "clipboard-read",
    "clipboard-write",
    "gamepad",
    "hid",
    "idle-detection",
    "interest-cohort",
    "serial",
    "unload",
];

/// The `Permissions-Policy` header: which browser features the page and its frames
/// may use.
///
/// Features are named by their string (new ones appear every year); each gets an
/// allowlist of `self`, `*` and origins, or nothing (`feature=()`: denied). Setting a
/// feature again replaces its allowlist, so `deny_all().allow_self("fullscreen")` works.
///
/// In configuration files: a map from feature to allowlist,
/// `{ camera = [], fullscreen = ["self"] }`.
///
/// [MDN: Permissions-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Permissions-Policy)
///
/// ```
/// use portcullis_security_headers::headers::PermissionsPolicy;
///
/// let policy = PermissionsPolicy::new()
///     .deny("camera")?
///     .allow_self("fullscreen")?
///     .allow("geolocation", ["self", "https://maps.example.com"])?;
/// assert_eq!(
///     policy.to_header_value().unwrap(),
///     r#"camera=(), fullscreen=(self), geolocation=(self "https://maps.example.com")"#
/// );
/// assert!(PermissionsPolicy::new().deny("Camera").is_err());
/// # Ok::<(), portcullis_security_headers::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "BTreeMap<String, Vec<String>>")]
pub struct PermissionsPolicy {
    features: Vec<(Box<str>, Vec<Allowed>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Allowed {
    SelfOrigin,
    Any,
    Origin(Box<str>),
}

impl PermissionsPolicy {
    /// No features listed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every feature of the OWASP Secure Headers Project's list denied (OWASP keeps
    /// `sync-xhr=(self)`; this denies it too).
    ///
    /// ```
    /// use portcullis_security_headers::headers::PermissionsPolicy;
    ///
    /// let value = PermissionsPolicy::deny_all().to_header_value().unwrap();
    /// assert!(value.to_str().unwrap().starts_with("accelerometer=(), autoplay=(), camera=()"));
    /// assert!(value.to_str().unwrap().ends_with("serial=(), unload=()"));
    /// ```
    pub fn deny_all() -> Self {
        Self {
            features: OWASP_FEATURES
                .iter()
                .map(|feature| ((*feature).into(), Vec::new()))
                .collect(),
        }
    }

    /// Denies `feature` everywhere: `feature=()`.
    pub fn deny(self, feature: &str) -> Result<Self, ConfigError> {
        self.set(feature, Vec::new())
    }

    /// Allows `feature` for the own origin only: `feature=(self)`.
    pub fn allow_self(self, feature: &str) -> Result<Self, ConfigError> {
        self.set(feature, vec![Allowed::SelfOrigin])
    }

    /// Allows `feature` for these entries: `"self"`, `"*"` (anyone) or origins such as
    /// `"https://maps.example.com"`.
    pub fn allow<I>(self, feature: &str, allowlist: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let allowed = allowlist
            .into_iter()
            .map(|entry| parse_allowed(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        self.set(feature, allowed)
    }

    fn set(mut self, feature: &str, allowed: Vec<Allowed>) -> Result<Self, ConfigError> {
        if !is_feature_name(feature) {
            return Err(ConfigError::InvalidPermissionsPolicy {
                value: feature.to_owned(),
                reason: "a feature name is lower-case letters, digits and `-`",
            });
        }
        match self
            .features
            .iter_mut()
            .find(|(name, _)| &**name == feature)
        {
            Some((_, existing)) => *existing = allowed,
            None => self.features.push((feature.into(), allowed)),
        }
        Ok(self)
    }

    /// The header value, or `None` when no feature is listed.
    pub fn to_header_value(&self) -> Option<HeaderValue> {
        if self.features.is_empty() {
            return None;
        }
        let mut text = String::new();
        for (index, (feature, allowed)) in self.features.iter().enumerate() {
            if index > 0 {
                text.push_str(", ");
            }
            text.push_str(feature);
            if allowed.contains(&Allowed::Any) {
                text.push_str("=*");
                continue;
            }
            text.push_str("=(");
            for (index, entry) in allowed.iter().enumerate() {
                if index > 0 {
                    text.push(' ');
                }
                match entry {
                    Allowed::SelfOrigin => text.push_str("self"),
                    Allowed::Any => text.push('*'),
                    Allowed::Origin(origin) => {
                        text.push('"');
                        text.push_str(origin);
                        text.push('"');
                    }
                }
            }
            text.push(')');
        }
        HeaderValue::try_from(text).ok()
    }
}

fn is_feature_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn parse_allowed(entry: &str) -> Result<Allowed, ConfigError> {
    match entry {
        "self" | "'self'" => return Ok(Allowed::SelfOrigin),
        "*" => return Ok(Allowed::Any),
        _ => {}
    }
    let lower = entry.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let valid = rest.is_some_and(|host| {
        !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'*')
            })
    });
    if valid {
        Ok(Allowed::Origin(entry.into()))
    } else {
        Err(ConfigError::InvalidPermissionsPolicy {
            value: entry.to_owned(),
            reason: "an allowlist entry is `self`, `*` or an origin such as https://example.com",
        })
    }
}

impl TryFrom<BTreeMap<String, Vec<String>>> for PermissionsPolicy {
    type Error = ConfigError;

    fn try_from(map: BTreeMap<String, Vec<String>>) -> Result<Self, ConfigError> {
        map.iter()
            .try_fold(Self::new(), |policy, (feature, allowlist)| {
                policy.allow(feature, allowlist)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_all_is_the_full_owasp_list() {
        let value = PermissionsPolicy::deny_all().to_header_value().unwrap();
        let expected = "accelerometer=(), autoplay=(), camera=(), cross-origin-isolated=(), \
            display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), \
            keyboard-map=(), magnetometer=(), microphone=(), midi=(), payment=(), \
            picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), \
            sync-xhr=(), usb=(), web-share=(), xr-spatial-tracking=(), clipboard-read=(), \
            clipboard-write=(), gamepad=(), hid=(), idle-detection=(), interest-cohort=(), \
            serial=(), unload=()";
        assert_eq!(value, expected);
    }

    #[test]
    fn setting_again_replaces() {
        let policy = PermissionsPolicy::deny_all()
            .allow_self("fullscreen")
            .unwrap()
            .allow("payment", ["*"])
            .unwrap();
        let value = policy.to_header_value().unwrap();
        let text = value.to_str().unwrap();
        assert!(text.contains("fullscreen=(self)"));
        assert!(text.contains("payment=*"));
        assert_eq!(text.matches("fullscreen").count(), 1);
    }

    #[test]
    fn invalid_entries_are_refused() {
        for feature in [
            "",
            "Camera",
            "camera=()",
            "cam era",
            "1camera",
            "camera,mic",
        ] {
            assert!(matches!(
                PermissionsPolicy::new().deny(feature),
                Err(ConfigError::InvalidPermissionsPolicy { .. })
            ));
        }
        for origin in [
            "example.com",
            "https://",
            "https://a\"b",
            "https://a b",
            "https://a.example/path",
            "none",
        ] {
            assert!(
                PermissionsPolicy::new().allow("camera", [origin]).is_err(),
                "{origin}"
            );
        }
        assert_eq!(PermissionsPolicy::new().to_header_value(), None);
    }

    #[test]
    fn deserializes_from_a_map() {
        let policy: PermissionsPolicy =
            serde_json::from_str(r#"{"camera": [], "fullscreen": ["self"]}"#).unwrap();
        assert_eq!(
            policy.to_header_value().unwrap(),
            "camera=(), fullscreen=(self)"
        );
    }
}
