//! The list of allowed origins.

use std::fmt;
use std::str::FromStr;

use http::HeaderValue;
use serde::Deserialize;

use super::list::{StringList, split_list};
use super::origin::{OriginPattern, PatternKind, RawOrigin};
use crate::ConfigError;

/// The origins a [`CorsLayer`](super::CorsLayer) answers for: exact origins and
/// wildcard patterns (see [`OriginPattern`]), no regular expressions.
///
/// Built from a comma-separated list, as found in an environment variable such as
/// `ALLOWED_ORIGINS=https://app.example.com,https://*.example.com` (blank items are
/// skipped), from an iterator of strings, or deserialized from a string or an array
/// of strings. See [MDN on
/// `Access-Control-Allow-Origin`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Origin).
///
/// ```
/// use portcullis_security_headers::cors::AllowOrigin;
///
/// let origins: AllowOrigin = "https://app.example.com, https://*.example.com".parse()?;
/// assert_eq!(origins.len(), 2);
/// assert_eq!(origins.to_string(), "https://app.example.com,https://*.example.com");
///
/// let same = AllowOrigin::list(["https://app.example.com", "https://*.example.com"])?;
/// assert_eq!(origins, same);
///
/// let from_json: AllowOrigin = serde_json::from_str(r#"["https://app.example.com"]"#).unwrap();
/// assert_eq!(from_json.len(), 1);
/// # Ok::<(), portcullis_security_headers::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "StringList")]
pub struct AllowOrigin {
    patterns: Vec<OriginPattern>,
    /// The canonical serialization of every exact origin, compared byte for byte
    /// before any parsing: browsers always send this form.
    exact: Vec<HeaderValue>,
}

impl AllowOrigin {
    /// No origin at all: the default.
    pub fn none() -> Self {
        Self::default()
    }

    /// The origins and patterns of an iterator; blank items are skipped.
    ///
    /// ```
    /// # use portcullis_security_headers::{ConfigError, cors::AllowOrigin};
    /// assert_eq!(AllowOrigin::list(["https://a.example", " "])?.len(), 1);
    /// assert!(AllowOrigin::list(["https://*.com"]).is_err());
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn list<I>(origins: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut list = Self::none();
        for origin in origins {
            let origin = origin.as_ref();
            if !origin.trim().is_empty() {
                list.push(origin.parse()?);
            }
        }
        Ok(list)
    }

    /// Adds a pattern, unless it is listed already.
    ///
    /// ```
    /// # use portcullis_security_headers::cors::AllowOrigin;
    /// let mut origins = AllowOrigin::none();
    /// origins.push("https://app.example.com".parse()?);
    /// origins.push("https://APP.example.com:443".parse()?);
    /// assert_eq!(origins.len(), 1);
    /// # Ok::<(), portcullis_security_headers::ConfigError>(())
    /// ```
    pub fn push(&mut self, pattern: OriginPattern) {
        if self.patterns.contains(&pattern) {
            return;
        }
        if let PatternKind::Exact(origin) = pattern.kind() {
            self.exact.push(origin.to_header_value());
        }
        self.patterns.push(pattern);
    }

    /// The patterns, in the order given.
    pub fn patterns(&self) -> &[OriginPattern] {
        &self.patterns
    }

    /// How many patterns there are.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether no origin is allowed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether a request's `Origin` header value is allowed, without allocating.
    ///
    /// ```
    /// # use http::HeaderValue;
    /// # use portcullis_security_headers::cors::AllowOrigin;
    /// let origins: AllowOrigin = "https://*.example.com".parse()?;
    /// assert!(origins.allows(&HeaderValue::from_static("https://a.b.example.com")));
    /// assert!(!origins.allows(&HeaderValue::from_static("https://example.com")));
    /// # Ok::<(), portcullis_security_headers::ConfigError>(())
    /// ```
    pub fn allows(&self, origin: &HeaderValue) -> bool {
        self.allow(origin).is_some()
    }

    /// The `Access-Control-Allow-Origin` value for an allowed request origin: the
    /// origin itself, echoed.
    pub(crate) fn allow(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        let bytes = origin.as_bytes();
        if let Some(exact) = self.exact.iter().find(|exact| exact.as_bytes() == bytes) {
            return Some(exact.clone());
        }
        let raw = RawOrigin::parse(bytes)?;
        self.patterns
            .iter()
            .any(|pattern| pattern.matches(&raw))
            .then(|| origin.clone())
    }
}

impl FromStr for AllowOrigin {
    type Err = ConfigError;

    /// Parses a comma-separated list.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::list(split_list(text))
    }
}

impl TryFrom<StringList> for AllowOrigin {
    type Error = ConfigError;

    fn try_from(list: StringList) -> Result<Self, Self::Error> {
        Self::list(list.items())
    }
}

impl From<OriginPattern> for AllowOrigin {
    fn from(pattern: OriginPattern) -> Self {
        let mut list = Self::none();
        list.push(pattern);
        list
    }
}

impl FromIterator<OriginPattern> for AllowOrigin {
    fn from_iter<I: IntoIterator<Item = OriginPattern>>(patterns: I) -> Self {
        let mut list = Self::none();
        for pattern in patterns {
            list.push(pattern);
        }
        list
    }
}

impl fmt::Display for AllowOrigin {
    /// The comma-separated list, canonical form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, pattern) in self.patterns.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            pattern.fmt(f)?;
        }
        Ok(())
    }
}
