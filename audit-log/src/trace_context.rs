//! W3C Trace Context: the `traceparent` header, recorded as ECS `trace.id` and
//! `span.id` so that audit records join the distributed trace of their request.
//!
//! [`TraceContext::parse`] reads a `traceparent` value as the
//! [W3C Trace Context](https://www.w3.org/TR/trace-context/#traceparent-header)
//! recommendation writes it, strictly: `{version}-{trace-id}-{parent-id}-{flags}` in
//! lower-case hex, 2, 32, 16 and 2 digits, the ids not all zeros, the version not `ff`;
//! version `00` exactly 55 characters, a later version at least that and followed by
//! `-` if longer (its extra fields are ignored, as the recommendation asks). Anything
//! else is no trace context: the records are written without one, never refused. A
//! request with more than one `traceparent` header has none either.
//!
//! `trace.id` is the trace id; `span.id` is the parent id: the caller's span, of
//! which the audited request is part.
//!
//! # Example
//!
//! ```
//! use portcullis_audit_log::trace_context::TraceContext;
//!
//! let parent = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
//! assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! assert_eq!(parent.span_id(), "00f067aa0ba902b7");
//! assert!(parent.sampled());
//!
//! // Upper case, an all-zero id, a version-00 header with extra fields: ignored.
//! assert!(TraceContext::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
//! assert!(TraceContext::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
//! assert!(TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x").is_none());
//! ```

use std::fmt;

use http::HeaderMap;
use http::header::HeaderName;

/// The `traceparent` request header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The length of a version-00 `traceparent`.
const LEN: usize = 55;

/// A request's place in a distributed trace, from its `traceparent` header; see the
/// [module docs](self). `Copy`, and no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: [u8; 32],
    span_id: [u8; 16],
    flags: u8,
}

impl TraceContext {
    /// Reads a `traceparent` value; `None` unless it is well formed.
    ///
    /// ```
    /// use portcullis_audit_log::trace_context::TraceContext;
    /// // A later version may carry more fields after a `-`.
    /// let later = TraceContext::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-ever").unwrap();
    /// assert!(!later.sampled());
    /// assert!(TraceContext::parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").is_none());
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        Self::from_bytes(value.as_bytes())
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < LEN {
            return None;
        }
        let version = hex_byte(&bytes[0..2])?;
        if version == 0xff || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        match (version, bytes.get(LEN)) {
            (_, None) => {}
            (0, Some(_)) => return None,
            (_, Some(&next)) if next != b'-' => return None,
            _ => {}
        }
        let trace_id: [u8; 32] = bytes[3..35].try_into().ok()?;
        let span_id: [u8; 16] = bytes[36..52].try_into().ok()?;
        let flags = hex_byte(&bytes[53..55])?;
        let valid_id =
            |id: &[u8]| id.iter().all(|&b| is_lower_hex(b)) && id.iter().any(|&b| b != b'0');
        (valid_id(&trace_id) && valid_id(&span_id)).then_some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The trace context of a request: its one `traceparent` header, if well formed.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use portcullis_audit_log::trace_context::{TRACEPARENT, TraceContext};
    /// let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    /// let mut headers = HeaderMap::new();
    /// headers.append(TRACEPARENT, value.parse().unwrap());
    /// assert!(TraceContext::from_headers(&headers).is_some());
    /// headers.append(TRACEPARENT, value.parse().unwrap());
    /// assert!(TraceContext::from_headers(&headers).is_none(), "two headers: none");
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers.get_all(TRACEPARENT).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        Self::from_bytes(value.as_bytes())
    }

    /// The trace id: 32 lower-case hex digits (`trace.id`).
    pub fn trace_id(&self) -> &str {
        // Checked to be ASCII hex when parsed.
        std::str::from_utf8(&self.trace_id).unwrap_or_default()
    }

    /// The caller's span id: 16 lower-case hex digits (`span.id`).
    pub fn span_id(&self) -> &str {
        std::str::from_utf8(&self.span_id).unwrap_or_default()
    }

    /// Whether the caller sampled the trace (the `sampled` flag).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContext")
            .field("trace_id", &self.trace_id())
            .field("span_id", &self.span_id())
            .field("flags", &self.flags)
            .finish()
    }
}

fn is_lower_hex(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    Some(digit(pair[0])? << 4 | digit(pair[1])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn hostile_and_malformed_values_are_ignored() {
        let long = format!("{VALID}{}", "-x".repeat(100_000));
        let cases: &[&str] = &[
            "",
            "00",
            &VALID[..54],
            &format!("{VALID}0"),
            &format!(" {VALID}"),
            &format!("{VALID} "),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9é2b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            &long[..],
        ];
        for &case in cases {
            assert!(TraceContext::parse(case).is_none(), "{case:?}");
        }
        // A later version with many extra fields is still read, in bounded time.
        let later = long.replacen("00", "01", 1);
        assert!(TraceContext::parse(&later).is_some());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
            let _ = TraceContext::parse(&text);
        }

        #[test]
        fn what_is_read_is_what_was_written(
            version in 0u8..0xff,
            trace in "[0-9a-f]{32}",
            span in "[0-9a-f]{16}",
            flags in proptest::prelude::any::<u8>(),
        ) {
            let value = format!("{version:02x}-{trace}-{span}-{flags:02x}");
            let parsed = TraceContext::parse(&value);
            let zero = trace.bytes().all(|b| b == b'0') || span.bytes().all(|b| b == b'0');
            proptest::prop_assert_eq!(parsed.is_some(), !zero);
            if let Some(parsed) = parsed {
                proptest::prop_assert_eq!(parsed.trace_id(), trace.as_str());
                proptest::prop_assert_eq!(parsed.span_id(), span.as_str());
                proptest::prop_assert_eq!(parsed.sampled(), flags & 1 == 1);
            }
        }
    }
}
