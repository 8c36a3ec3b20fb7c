//! The request id: honoured from a trusted proxy's `X-Request-Id` when it is sane,
//! generated otherwise.
//!
//! The id correlates a request's audit records (`http.request.id`, and `event.id` is
//! `<request id>:<phase>`) and the logs of every service it went through. The
//! [`AuditLayer`](crate::layer::AuditLayer) keeps the `X-Request-Id` of a request whose
//! peer is one of its [trusted proxies](crate::layer::AuditLayer::trusted_proxies) when
//! it is 1 to [`MAX_LEN`] visible ASCII characters; anything else is replaced by a fresh
//! random UUID-formatted id. A client that is not a trusted proxy could otherwise pick
//! the id of another request's records: its value is recorded apart, as
//! `portcullis.client_request_id`. The id is put into the request extensions as a
//! [`RequestId`] for handlers and echoed on the response.
//!
//! # Example
//!
//! ```
//! use http::Request;
//! use portcullis_audit_log::request_id::RequestId;
//!
//! let request = Request::builder().header("x-request-id", "req-42").body(()).unwrap();
//! assert_eq!(RequestId::from_headers(request.headers(), &"x-request-id".parse().unwrap()).as_str(), "req-42");
//!
//! let spoofed = Request::builder().header("x-request-id", "two words").body(()).unwrap();
//! let id = RequestId::from_headers(spoofed.headers(), &"x-request-id".parse().unwrap());
//! assert_ne!(id.as_str(), "two words");
//! assert_eq!(id.as_str().len(), 36);
//! ```

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The longest request id taken from a request header.
pub const MAX_LEN: usize = 128;

/// The header carrying the request id by default.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request's id, in its extensions; cheap to clone.
///
/// ```
/// use portcullis_audit_log::request_id::RequestId;
/// let id = RequestId::generate();
/// assert_eq!(id.as_str().as_bytes()[14], b'4');
/// assert_eq!(RequestId::parse("abc").unwrap().to_string(), "abc");
/// assert!(RequestId::parse("").is_none());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A fresh random id formatted as a version-4 UUID.
    pub fn generate() -> Self {
        let mut bytes: [u8; 16] = rand::random();
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 36];
        let mut at = 0;
        for (index, byte) in bytes.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                text[at] = b'-';
                at += 1;
            }
            text[at] = DIGITS[usize::from(byte >> 4)];
            text[at + 1] = DIGITS[usize::from(byte & 0xf)];
            at += 2;
        }
        // 36 lower-case hex digits and dashes are always a valid header value.
        Self(HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid")))
    }

    /// `text` as an id when it is 1 to [`MAX_LEN`] visible ASCII characters.
    pub fn parse(text: &str) -> Option<Self> {
        Self::from_value(&HeaderValue::from_str(text).ok()?)
    }

    pub(crate) fn from_value(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let valid = (1..=MAX_LEN).contains(&bytes.len())
            && bytes.iter().all(|byte| (0x21..=0x7e).contains(byte));
        valid.then(|| Self(value.clone()))
    }

    /// The id in `header` when it is valid, else a fresh one.
    pub fn from_headers(headers: &HeaderMap, header: &HeaderName) -> Self {
        headers
            .get(header)
            .and_then(Self::from_value)
            .unwrap_or_else(Self::generate)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII gets in.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value, to send it on.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_bounds_length_and_characters() {
        assert!(RequestId::parse(&"a".repeat(MAX_LEN)).is_some());
        assert!(RequestId::parse(&"a".repeat(MAX_LEN + 1)).is_none());
        assert!(RequestId::parse("tab\there").is_none());
        let value = HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
        assert!(RequestId::from_value(&value).is_none());
    }

    #[test]
    fn generated_ids_are_unique_uuid_shaped() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        let text = a.as_str();
        assert_eq!(text.len(), 36);
        assert_eq!(text.matches('-').count(), 4);
        assert!(matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }
}
