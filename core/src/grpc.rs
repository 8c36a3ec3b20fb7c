//! gRPC status codes for HTTP rejections.
//!
//! gRPC clients do not read HTTP status codes: a rejection must be an HTTP 200
//! "trailers-only" response whose `grpc-status` header carries the reason. This module
//! maps the statuses Portcullis layers reject with onto gRPC codes and tells whether a
//! request came from a gRPC client.
//!
//! # Example
//!
//! ```
//! use http::{HeaderMap, HeaderValue, StatusCode};
//! use portcullis_core::grpc::{GrpcCode, is_grpc_request};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("content-type", HeaderValue::from_static("application/grpc+proto"));
//! assert!(is_grpc_request(&headers));
//! assert_eq!(GrpcCode::from_http_status(StatusCode::TOO_MANY_REQUESTS), GrpcCode::ResourceExhausted);
//! ```

use http::{HeaderMap, StatusCode, header};

/// The gRPC status codes Portcullis rejections map to.
///
/// See the [gRPC status code list](https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrpcCode {
    /// `2 UNKNOWN`: any status without a closer match.
    Unknown = 2,
    /// `3 INVALID_ARGUMENT`: HTTP 400.
    InvalidArgument = 3,
    /// `7 PERMISSION_DENIED`: HTTP 403.
    PermissionDenied = 7,
    /// `8 RESOURCE_EXHAUSTED`: HTTP 429 and 413.
    ResourceExhausted = 8,
    /// `12 UNIMPLEMENTED`: HTTP 404, 405 and 415.
    Unimplemented = 12,
    /// `13 INTERNAL`: HTTP 500.
    Internal = 13,
    /// `14 UNAVAILABLE`: HTTP 502, 503 and 504.
    Unavailable = 14,
    /// `16 UNAUTHENTICATED`: HTTP 401.
    Unauthenticated = 16,
}

impl GrpcCode {
    /// The gRPC code a rejection with this HTTP status becomes.
    ///
    /// ```
    /// use http::StatusCode;
    /// use portcullis_core::grpc::GrpcCode;
    /// assert_eq!(GrpcCode::from_http_status(StatusCode::UNAUTHORIZED).as_u8(), 16);
    /// assert_eq!(GrpcCode::from_http_status(StatusCode::PAYLOAD_TOO_LARGE).as_u8(), 8);
    /// ```
    pub fn from_http_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::InvalidArgument,
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            404 | 405 | 415 => Self::Unimplemented,
            413 | 429 => Self::ResourceExhausted,
            500 => Self::Internal,
            502..=504 => Self::Unavailable,
            _ => Self::Unknown,
        }
    }

    /// The numeric code carried in the `grpc-status` header.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// Whether the request's `content-type` is `application/grpc` or one of its
/// `application/grpc+…` / `application/grpc;…` forms.
pub fn is_grpc_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let value = value.trim_start();
            value.len() >= 16
                && value[..16].eq_ignore_ascii_case("application/grpc")
                && matches!(value.as_bytes().get(16), None | Some(b'+' | b';' | b' '))
        })
}

/// Percent-encodes a `grpc-message` as the gRPC HTTP/2 protocol requires: every byte
/// outside printable ASCII, and `%` itself.
///
/// ```
/// use portcullis_core::grpc::encode_grpc_message;
/// assert_eq!(encode_grpc_message("100% über"), "100%25 %C3%BCber");
/// ```
pub fn encode_grpc_message(message: &str) -> String {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::ops::Not;

    fn with_content_type(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn recognises_grpc_content_types_only() {
        assert!(is_grpc_request(&with_content_type("application/grpc")));
        assert!(is_grpc_request(&with_content_type(
            "application/grpc+proto"
        )));
        assert!(is_grpc_request(&with_content_type(
            "Application/GRPC;charset=utf-8"
        )));
        assert!(is_grpc_request(&with_content_type("application/grpc-web")).not());
        assert!(is_grpc_request(&with_content_type("application/grpcx")).not());
        assert!(is_grpc_request(&with_content_type("application/json")).not());
        assert!(is_grpc_request(&HeaderMap::new()).not());
    }

    #[test]
    fn issue_mapping_table() {
        let table = [(401, 16), (403, 7), (429, 8), (400, 3), (413, 8), (503, 14)];
        for (http, grpc) in table {
            let status = StatusCode::from_u16(http).unwrap();
            assert_eq!(GrpcCode::from_http_status(status).as_u8(), grpc, "{http}");
        }
    }
}
