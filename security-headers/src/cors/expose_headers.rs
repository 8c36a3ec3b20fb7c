//! The response headers scripts may read.

use std::str::FromStr;

use http::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::list::{HeaderNames, StringList, split_list};
use crate::ConfigError;

/// The response headers a cross-origin script may read beyond the
/// [CORS-safelisted](https://fetch.spec.whatwg.org/#cors-safelisted-response-header-name)
/// ones, sent as
/// [`Access-Control-Expose-Headers`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Expose-Headers)
/// on actual (non-preflight) responses.
///
/// Names are validated when parsed; the wildcard `*` is refused. The default is
/// empty (no header sent).
///
/// ```
/// use portcullis_security_headers::cors::ExposeHeaders;
///
/// let exposed: ExposeHeaders = "RateLimit, Retry-After".parse()?;
/// assert_eq!(exposed.header_value().unwrap(), "ratelimit, retry-after");
/// assert!(ExposeHeaders::default().header_value().is_none());
/// # Ok::<(), portcullis_security_headers::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "StringList")]
pub struct ExposeHeaders {
    names: HeaderNames,
}

impl ExposeHeaders {
    /// Parses and validates header names; blank items are skipped.
    ///
    /// ```
    /// # use portcullis_security_headers::{ConfigError, cors::ExposeHeaders};
    /// assert_eq!(ExposeHeaders::list(["X-Request-Id"])?.names().len(), 1);
    /// assert!(ExposeHeaders::list(["bad header"]).is_err());
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn list<I>(names: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        HeaderNames::parse(names).map(|names| Self { names })
    }

    /// The exposed header names, in lower case.
    pub fn names(&self) -> &[HeaderName] {
        self.names.names()
    }

    /// The prebuilt `Access-Control-Expose-Headers` value, `None` when empty.
    pub fn header_value(&self) -> Option<&HeaderValue> {
        self.names.value()
    }
}

impl From<Vec<HeaderName>> for ExposeHeaders {
    fn from(names: Vec<HeaderName>) -> Self {
        Self {
            names: HeaderNames::from(names),
        }
    }
}

impl<const N: usize> From<[HeaderName; N]> for ExposeHeaders {
    fn from(names: [HeaderName; N]) -> Self {
        Self::from(Vec::from(names))
    }
}

impl From<HeaderName> for ExposeHeaders {
    fn from(name: HeaderName) -> Self {
        Self::from(vec![name])
    }
}

impl FromStr for ExposeHeaders {
    type Err = ConfigError;

    /// Parses a comma-separated list.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::list(split_list(text))
    }
}

impl TryFrom<StringList> for ExposeHeaders {
    type Error = ConfigError;

    fn try_from(list: StringList) -> Result<Self, Self::Error> {
        Self::list(list.items())
    }
}
