//! The request headers a preflight may ask for.

use std::str::FromStr;

use http::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::list::{HeaderNames, StringList, split_list};
use crate::ConfigError;

/// The request headers allowed in `Access-Control-Request-Headers`, answered as
/// [`Access-Control-Allow-Headers`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Headers).
///
/// Names are validated when parsed and compared case-insensitively; the wildcard `*`
/// is refused (list the names). The default is empty: only
/// [CORS-safelisted](https://fetch.spec.whatwg.org/#cors-safelisted-request-header)
/// headers, which browsers never preflight.
///
/// ```
/// use portcullis_security_headers::cors::AllowHeaders;
///
/// let headers: AllowHeaders = "Content-Type, authorization".parse()?;
/// assert_eq!(headers.header_value().unwrap(), "content-type, authorization");
/// assert!("x ray".parse::<AllowHeaders>().is_err());
/// # Ok::<(), portcullis_security_headers::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "StringList")]
pub struct AllowHeaders {
    names: HeaderNames,
}

impl AllowHeaders {
    /// Parses and validates header names; blank items are skipped.
    ///
    /// ```
    /// # use portcullis_security_headers::{ConfigError, cors::AllowHeaders};
    /// assert_eq!(AllowHeaders::list(["X-Api-Key"])?.names()[0], "x-api-key");
    /// assert!(matches!(AllowHeaders::list(["*"]), Err(ConfigError::CorsInvalidHeaderName { .. })));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn list<I>(names: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        HeaderNames::parse(names).map(|names| Self { names })
    }

    /// The allowed header names, in lower case.
    pub fn names(&self) -> &[HeaderName] {
        self.names.names()
    }

    /// The prebuilt `Access-Control-Allow-Headers` value, `None` when empty.
    pub fn header_value(&self) -> Option<&HeaderValue> {
        self.names.value()
    }

    /// The first requested header (from all `Access-Control-Request-Headers` lines)
    /// that is not allowed. Items are trimmed, blank items skipped, and names compared
    /// case-insensitively.
    pub(crate) fn first_refused<'a, I>(&self, lines: I) -> Option<&'a [u8]>
    where
        I: IntoIterator<Item = &'a HeaderValue>,
    {
        for line in lines {
            for item in line.as_bytes().split(|&b| b == b',') {
                let item = item.trim_ascii();
                if item.is_empty() {
                    continue;
                }
                if !self
                    .names()
                    .iter()
                    .any(|name| name.as_str().as_bytes().eq_ignore_ascii_case(item))
                {
                    return Some(item);
                }
            }
        }
        None
    }
}

impl From<Vec<HeaderName>> for AllowHeaders {
    fn from(names: Vec<HeaderName>) -> Self {
        Self {
            names: HeaderNames::from(names),
        }
    }
}

impl<const N: usize> From<[HeaderName; N]> for AllowHeaders {
    fn from(names: [HeaderName; N]) -> Self {
        Self::from(Vec::from(names))
    }
}

impl From<HeaderName> for AllowHeaders {
    fn from(name: HeaderName) -> Self {
        Self::from(vec![name])
    }
}

impl FromStr for AllowHeaders {
    type Err = ConfigError;

    /// Parses a comma-separated list.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::list(split_list(text))
    }
}

impl TryFrom<StringList> for AllowHeaders {
    type Error = ConfigError;

    fn try_from(list: StringList) -> Result<Self, Self::Error> {
        Self::list(list.items())
    }
}
