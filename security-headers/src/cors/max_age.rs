//! How long a browser may cache a preflight answer.

use std::time::Duration;

use http::HeaderValue;
use serde::Deserialize;

/// How long browsers may cache an allowed preflight, sent as
/// [`Access-Control-Max-Age`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Max-Age)
/// in whole seconds. Browsers cap it (Chromium at two hours, Firefox at a day).
///
/// Deserializes from a number of seconds.
///
/// ```
/// use std::time::Duration;
/// use portcullis_security_headers::cors::MaxAge;
///
/// let max_age = MaxAge::from(Duration::from_secs(600));
/// assert_eq!(max_age.as_secs(), 600);
/// assert_eq!(max_age.header_value(), "600");
/// let from_json: MaxAge = serde_json::from_str("7200").unwrap();
/// assert_eq!(from_json, MaxAge::from_secs(7200));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "u32")]
pub struct MaxAge {
    secs: u32,
    value: HeaderValue,
}

impl MaxAge {
    /// A max age of this many seconds.
    pub fn from_secs(secs: u32) -> Self {
        Self {
            secs,
            value: HeaderValue::from(secs),
        }
    }

    /// The max age in seconds.
    pub fn as_secs(&self) -> u32 {
        self.secs
    }

    /// The prebuilt `Access-Control-Max-Age` value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.value
    }
}

impl From<u32> for MaxAge {
    fn from(secs: u32) -> Self {
        Self::from_secs(secs)
    }
}

impl From<Duration> for MaxAge {
    /// Whole seconds, saturating at `u32::MAX`.
    fn from(duration: Duration) -> Self {
        Self::from_secs(u32::try_from(duration.as_secs()).unwrap_or(u32::MAX))
    }
}
