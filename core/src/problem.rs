//! RFC 9457 problem details, the one shape of every Portcullis rejection.
//!
//! A layer that refuses a request answers with a [`Problem`]: an
//! `application/problem+json` document with the standard `type`, `title`, `status` and
//! `detail` members plus a stable machine-readable `code` (`QUOTA_EXCEEDED`,
//! `API_KEY_INVALID`, …) that clients can branch on. Extension members (the violated
//! quotas, say) are added with [`Problem::with_extension`].
//!
//! When the request came from a gRPC client (its `content-type` is `application/grpc…`)
//! the same rejection is answered the way gRPC clients understand: HTTP 200 with
//! `grpc-status` and `grpc-message` headers and no body (see [`crate::grpc`]).
//!
//! The [`Problem`] itself travels in the response extensions, so an outer layer (an
//! audit log, metrics) can read why a request was refused.
//!
//! # Example
//!
//! ```
//! use http::{HeaderMap, HeaderValue, StatusCode};
//! use portcullis_core::problem::Problem;
//!
//! let problem = Problem::new(StatusCode::TOO_MANY_REQUESTS, "QUOTA_EXCEEDED", "Quota exceeded")
//!     .with_detail("The minute quota is used up.")
//!     .with_extension("quotas", serde_json::json!(["minute"]));
//!
//! let json: serde_json::Value = serde_json::from_slice(&problem.to_json()).unwrap();
//! assert_eq!(json["status"], 429);
//! assert_eq!(json["code"], "QUOTA_EXCEEDED");
//! assert_eq!(json["quotas"][0], "minute");
//!
//! // The same problem, asked for by a gRPC client.
//! let mut headers = HeaderMap::new();
//! headers.insert("content-type", HeaderValue::from_static("application/grpc"));
//! let response = problem.into_response::<()>(&headers);
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["grpc-status"], "8");
//! ```
#![doc = include_str!("problem_types.md")]

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::body::ResponseBody;
use crate::grpc::{GrpcCode, encode_grpc_message, is_grpc_request};

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The gRPC metadata carrying a refusal's stable code (`QUOTA_EXCEEDED`,
/// `API_KEY_REVOKED`, …), the `code` member of the problem+json body.
pub const PORTCULLIS_CODE: &str = "portcullis-code";

/// Where default problem `type` URIs point: this module's documentation.
pub const PROBLEM_TYPE_BASE: &str =
    "https://docs.rs/portcullis-core/latest/portcullis_core/problem/index.html#";

/// Every `code` a Portcullis layer answers with, in the order of the
/// [problem types](self#problem-types) table, where each has its anchor: the fragment of
/// its default `type` URI.
///
/// ```
/// use http::StatusCode;
/// use portcullis_core::problem::{PROBLEM_CODES, Problem};
///
/// assert!(PROBLEM_CODES.contains(&"QUOTA_EXCEEDED"));
/// let problem = Problem::new(StatusCode::TOO_MANY_REQUESTS, "QUOTA_EXCEEDED", "Quota exceeded");
/// assert_eq!(
///     problem.type_uri(),
///     "https://docs.rs/portcullis-core/latest/portcullis_core/problem/index.html#quota-exceeded",
/// );
/// ```
pub const PROBLEM_CODES: &[&str] = &[
    // portcullis-security-headers
    "CORS_PREFLIGHT_REJECTED",
    "CORS_ORIGIN_REJECTED",
    "CSP_NONCE_MISSING",
    "CSP_REPORT_METHOD_NOT_ALLOWED",
    "CSP_REPORT_UNSUPPORTED_MEDIA_TYPE",
    "CSP_REPORT_TOO_LARGE",
    "CSP_REPORT_BODY_UNREADABLE",
    "CSP_REPORT_EMPTY",
    "CSP_REPORT_NOT_UTF8",
    "CSP_REPORT_MALFORMED",
    // portcullis-rate-limit
    "QUOTA_EXCEEDED",
    "RATE_LIMIT_UNAVAILABLE",
    "RATE_LIMIT_KEY_MISSING",
    // portcullis-api-keys
    "API_KEY_MISSING",
    "API_KEY_MALFORMED",
    "API_KEY_INVALID",
    "API_KEY_REVOKED",
    "API_KEY_EXPIRED",
    "INSUFFICIENT_SCOPE",
    "API_KEY_UNAVAILABLE",
    "API_KEY_CONTEXT_MISSING",
    // portcullis-audit-log
    "AUDIT_UNAVAILABLE",
    "INTERNAL_ERROR",
    // portcullis-stripe-webhook
    "METHOD_NOT_ALLOWED",
    "WEBHOOK_BODY_TOO_LARGE",
    "WEBHOOK_BODY_UNREADABLE",
    "WEBHOOK_BODY_EMPTY",
    "WEBHOOK_SIGNATURE_INVALID",
    "WEBHOOK_PAYLOAD_INVALID",
    "WEBHOOK_IN_PROGRESS",
    "WEBHOOK_STORE_UNAVAILABLE",
    "WEBHOOK_HANDLER_FAILED",
];

/// An RFC 9457 problem detail with a stable machine `code`.
///
/// Cheap to build; the JSON is written only when a response is made.
///
/// ```
/// use http::StatusCode;
/// use portcullis_core::problem::Problem;
///
/// let problem = Problem::new(StatusCode::UNAUTHORIZED, "API_KEY_MISSING", "API key missing");
/// assert_eq!(problem.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(problem.code(), "API_KEY_MISSING");
/// assert!(problem.type_uri().ends_with("#api-key-missing"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    status: StatusCode,
    code: Cow<'static, str>,
    title: Cow<'static, str>,
    type_uri: Option<Cow<'static, str>>,
    detail: Option<Cow<'static, str>>,
    instance: Option<Cow<'static, str>>,
    extensions: Vec<(Cow<'static, str>, serde_json::Value)>,
}

impl Problem {
    /// A problem with an HTTP `status`, a stable `code` (`SCREAMING_SNAKE_CASE` by
    /// convention) and a short human `title` that is the same for every occurrence.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        title: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            title: title.into(),
            type_uri: None,
            detail: None,
            instance: None,
            extensions: Vec::new(),
        }
    }

    /// Sets the `type` URI (by default [`PROBLEM_TYPE_BASE`] followed by the code in
    /// kebab case).
    #[must_use]
    pub fn with_type(mut self, type_uri: impl Into<Cow<'static, str>>) -> Self {
        self.type_uri = Some(type_uri.into());
        self
    }

    /// Sets `detail`: an explanation specific to this occurrence. Never put secrets or
    /// facts that help an attacker here.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets `instance`: a URI reference identifying this occurrence.
    #[must_use]
    pub fn with_instance(mut self, instance: impl Into<Cow<'static, str>>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds an extension member. Names that collide with the standard members are
    /// ignored when serializing, as RFC 9457 §3.2 asks consumers to expect.
    #[must_use]
    pub fn with_extension(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.extensions.push((name.into(), value.into()));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable machine code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The short human title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The occurrence-specific detail, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The value of an extension member, if set.
    pub fn extension(&self, name: &str) -> Option<&serde_json::Value> {
        self.extensions
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The `type` URI.
    pub fn type_uri(&self) -> Cow<'_, str> {
        match &self.type_uri {
            Some(uri) => Cow::Borrowed(uri),
            None => Cow::Owned(format!(
                "{PROBLEM_TYPE_BASE}{}",
                self.code.to_ascii_lowercase().replace('_', "-")
            )),
        }
    }

    /// The gRPC code this problem maps to.
    pub fn grpc_code(&self) -> GrpcCode {
        GrpcCode::from_http_status(self.status)
    }

    /// The problem as an `application/problem+json` document.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing owned strings and JSON values into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The response for a request with these headers: problem+json, or a gRPC
    /// trailers-only answer for gRPC callers. The problem rides along in the response
    /// extensions.
    pub fn into_response<B>(self, request_headers: &HeaderMap) -> Response<ResponseBody<B>> {
        if is_grpc_request(request_headers) {
            self.into_grpc_response()
        } else {
            self.into_http_response()
        }
    }

    /// The `application/problem+json` response, whoever asked.
    pub fn into_http_response<B>(self) -> Response<ResponseBody<B>> {
        let body = ResponseBody::full(self.to_json());
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response.extensions_mut().insert(self);
        response
    }

    /// The gRPC trailers-only response: HTTP 200, `grpc-status`, `grpc-message`, and
    /// the stable code as `portcullis-code` metadata, so a gRPC client tells
    /// `API_KEY_REVOKED` from `API_KEY_MISSING` (both `UNAUTHENTICATED`) without
    /// parsing the message.
    ///
    /// ```
    /// use http::StatusCode;
    /// use portcullis_core::problem::Problem;
    /// let response = Problem::new(StatusCode::UNAUTHORIZED, "API_KEY_REVOKED", "API key revoked")
    ///     .into_grpc_response::<String>();
    /// assert_eq!(response.headers()["grpc-status"], "16");
    /// assert_eq!(response.headers()["portcullis-code"], "API_KEY_REVOKED");
    /// ```
    pub fn into_grpc_response<B>(self) -> Response<ResponseBody<B>> {
        let mut response = Response::new(ResponseBody::empty());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(
            "grpc-status",
            HeaderValue::from(u16::from(self.grpc_code().as_u8())),
        );
        let message = match &self.detail {
            Some(detail) => format!("{}: {detail}", self.title),
            None => self.title.to_string(),
        };
        if let Ok(value) = HeaderValue::try_from(encode_grpc_message(&message)) {
            headers.insert("grpc-message", value);
        }
        if let Ok(code) = HeaderValue::try_from(self.code.as_ref()) {
            headers.insert(PORTCULLIS_CODE, code);
        }
        response.extensions_mut().insert(self);
        response
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

const STANDARD_MEMBERS: [&str; 6] = ["type", "title", "status", "detail", "instance", "code"];

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &self.type_uri())?;
        map.serialize_entry("title", &self.title)?;
        map.serialize_entry("status", &self.status.as_u16())?;
        if let Some(detail) = &self.detail {
            map.serialize_entry("detail", detail)?;
        }
        if let Some(instance) = &self.instance {
            map.serialize_entry("instance", instance)?;
        }
        map.serialize_entry("code", &self.code)?;
        for (name, value) in &self.extensions {
            if !STANDARD_MEMBERS.contains(&name.as_ref()) {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Problem {
    fn into_response(self) -> axum::response::Response {
        let response: Response<ResponseBody<axum::body::Body>> = self.into_http_response();
        response.map(axum::body::Body::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};

    async fn body_json(response: Response<ResponseBody<Empty<Bytes>>>) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn http_response_is_problem_json_with_all_members() {
        let problem = Problem::new(
            StatusCode::FORBIDDEN,
            "CORS_FORBIDDEN",
            "Origin not allowed",
        )
        .with_detail("https://evil.example is not allowed")
        .with_instance("/v1/quote")
        .with_extension("origin", "https://evil.example");
        let response: Response<ResponseBody<Empty<Bytes>>> =
            problem.clone().into_response(&HeaderMap::new());
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.extensions().get::<Problem>(), Some(&problem));
        let json = body_json(response).await;
        assert_eq!(
            json,
            serde_json::json!({
                "type": format!("{PROBLEM_TYPE_BASE}cors-forbidden"),
                "title": "Origin not allowed",
                "status": 403,
                "detail": "https://evil.example is not allowed",
                "instance": "/v1/quote",
                "code": "CORS_FORBIDDEN",
                "origin": "https://evil.example",
            })
        );
    }

    #[tokio::test]
    async fn extensions_cannot_shadow_standard_members() {
        let problem = Problem::new(StatusCode::BAD_REQUEST, "BAD", "Bad")
            .with_extension("status", 200)
            .with_extension("code", "OK");
        let json = body_json(problem.into_http_response()).await;
        assert_eq!(json["status"], 400);
        assert_eq!(json["code"], "BAD");
    }

    #[test]
    fn custom_type_uri_wins() {
        let problem = Problem::new(StatusCode::BAD_REQUEST, "BAD", "Bad")
            .with_type("https://api.example.com/problems/bad");
        assert_eq!(problem.type_uri(), "https://api.example.com/problems/bad");
    }

    #[test]
    fn grpc_callers_get_trailers_only_status() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        for (status, grpc) in [
            (401, "16"),
            (403, "7"),
            (429, "8"),
            (400, "3"),
            (413, "8"),
            (503, "14"),
        ] {
            let problem = Problem::new(StatusCode::from_u16(status).unwrap(), "X", "Nope")
                .with_detail("100% denied");
            let response: Response<ResponseBody<Empty<Bytes>>> = problem.into_response(&headers);
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["grpc-status"], grpc);
            assert_eq!(response.headers()["grpc-message"], "Nope: 100%25 denied");
            assert_eq!(response.headers()[PORTCULLIS_CODE], "X");
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/grpc");
            assert!(response.extensions().get::<Problem>().is_some());
        }
    }

    #[test]
    fn display_names_status_code_and_title() {
        let problem = Problem::new(
            StatusCode::UNAUTHORIZED,
            "API_KEY_MISSING",
            "API key missing",
        );
        assert_eq!(problem.to_string(), "401 API_KEY_MISSING: API key missing");
    }

    /// Every code in `PROBLEM_CODES` has exactly one anchor on the problem types page,
    /// the page has no anchor for a code that is not listed, and the default `type` of a
    /// problem with that code points at it: a `type` link that resolves once published.
    #[test]
    fn every_problem_code_has_its_anchor_on_the_problem_types_page() {
        let page = include_str!("problem_types.md");
        let anchors: Vec<&str> = page
            .split("<a id=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        let mut unique = anchors.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), anchors.len(), "an anchor appears twice");
        assert_eq!(anchors.len(), PROBLEM_CODES.len(), "anchors {anchors:?}");
        for (code, anchor) in PROBLEM_CODES.iter().zip(&anchors) {
            let problem = Problem::new(StatusCode::BAD_REQUEST, *code, "Title");
            assert_eq!(
                problem.type_uri(),
                format!("{PROBLEM_TYPE_BASE}{anchor}"),
                "{code} is not the code of the row with anchor {anchor}"
            );
            assert!(
                page.contains(&format!("<a id=\"{anchor}\"></a>`{code}`")),
                "{code}'s row does not name it"
            );
        }
    }
}
