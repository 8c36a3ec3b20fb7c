//! The audit [`Record`] and its JSON form, with Elastic Common Schema field names.
//!
//! Each record is one JSON object on one line. Field names follow the [Elastic Common
//! Schema](https://www.elastic.co/guide/en/ecs/current/ecs-field-reference.html) (and
//! so map one-to-one to OpenTelemetry's HTTP semantic conventions), nested as ECS
//! prescribes, so a SIEM ingests them without a mapping:
//!
//! | field | value |
//! |---|---|
//! | `@timestamp` | RFC 3339 UTC, microseconds, from the layer's [`Clock`](portcullis_core::clock::Clock) |
//! | `event.id` | `<request id>:<phase>`, unique per record |
//! | `event.action` | the [`Phase`]: `request`, `response`, `panic`, `cancelled` (and `checkpoint`) |
//! | `event.outcome` | `unknown` before the handler ran, `success` below 400, else `failure` |
//! | `event.duration` | nanoseconds from the request to this record (not in `request` records) |
//! | `event.kind`, `event.category`, `event.type`, `event.dataset` | `event`, `["web"]`, `["access"]`, `portcullis.audit` |
//! | `http.request.id` | the [request id](crate::request_id), the same in every record of a request |
//! | `http.request.method`, `url.path`, `url.query` | the request line, the query [redacted](crate::redact) |
//! | `http.request.headers`, `http.request.body` | at [`Level::Request`] and above, redacted; in `request` records only |
//! | `http.response.status_code`, `http.response.headers`, `http.response.body` | the response (body at [`Level::RequestResponse`]) |
//! | `source.ip` | the client, behind trusted proxies ([`ClientIpResolver`](portcullis_core::client_ip::ClientIpResolver)) |
//! | `user.id`, `organization.id` | the principal and its tenant ([`Principal`]) |
//! | `user_agent.original` | the `User-Agent` header |
//! | `trace.id`, `span.id` | the trace and the caller's span, from a valid W3C [`traceparent`](crate::trace_context) header |
//! | `error.type` | `panic`, `service_error` or `client_gone` |
//! | `portcullis.api_key.id` | the API key that authenticated the request |
//! | `portcullis.client_request_id` | the [request id](crate::request_id) a client that is not a trusted proxy sent (not used as `http.request.id`) |
//! | `portcullis.rejection.code` | the stable `code` of a Portcullis [`Problem`](portcullis_core::problem::Problem) rejection |
//! | `portcullis.rate_limit` | the rate limiter's decision: `plan`, `allowed`, `violated`, `degraded`, `shadow` |
//! | `labels` | anything an [enricher](crate::context::Enricher) added |
//! | `seq`, `prev_hash` | the [hash chain](crate::chain), when on |
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, UNIX_EPOCH};
//! use portcullis_audit_log::record::{Phase, Record, RequestInfo};
//! use portcullis_audit_log::request_id::RequestId;
//!
//! let request = RequestInfo::new(RequestId::parse("r-1").unwrap(), http::Method::GET, "/v1/invoices");
//! let mut record = Record::new(Phase::Request, Arc::new(request), UNIX_EPOCH + Duration::from_secs(1));
//! record.principal.user_id = Some("ada".into());
//! let json: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
//! assert_eq!(json["@timestamp"], "1970-01-01T00:00:01.000000Z");
//! assert_eq!(json["event"]["id"], "r-1:request");
//! assert_eq!(json["event"]["outcome"], "unknown");
//! assert_eq!(json["http"]["request"]["method"], "GET");
//! assert_eq!(json["url"]["path"], "/v1/invoices");
//! assert_eq!(json["user"]["id"], "ada");
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderName, Method, StatusCode};

use crate::json::{JsonWriter, rfc3339};
use crate::level::Level;
use crate::request_id::RequestId;
use crate::trace_context::TraceContext;

/// Which moment of a request a record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Before the inner service runs.
    Request,
    /// After the inner service answered (or failed with an error).
    Response,
    /// The inner service panicked.
    Panic,
    /// The response future was dropped before it completed: the client went away.
    Cancelled,
}

impl Phase {
    /// The phase as written in `event.action`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
            Self::Panic => "panic",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Who made the request: `user.id`, `organization.id` and the API key id.
///
/// Set by any layer or handler: insert a `Principal` into the request extensions
/// (layers outside the audit layer) or the response extensions, or fill the request's
/// [`AuditContext`](crate::context::AuditContext) (layers and handlers inside it).
///
/// ```
/// use portcullis_audit_log::record::Principal;
/// let principal = Principal::user("ada").with_tenant("acme").with_api_key("key_123");
/// assert_eq!(principal.tenant_id.as_deref(), Some("acme"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Principal {
    /// `user.id`.
    pub user_id: Option<String>,
    /// The tenant, as `organization.id`.
    pub tenant_id: Option<String>,
    /// The id (never the secret) of the API key used, as `portcullis.api_key.id`.
    pub api_key_id: Option<String>,
}

impl Principal {
    /// A principal with a user id.
    pub fn user(id: impl Into<String>) -> Self {
        Self {
            user_id: Some(id.into()),
            ..Self::default()
        }
    }

    /// With a tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant.into());
        self
    }

    /// With an API key id.
    #[must_use]
    pub fn with_api_key(mut self, key_id: impl Into<String>) -> Self {
        self.api_key_id = Some(key_id.into());
        self
    }

    /// Fills the fields `other` has (later knowledge wins).
    ///
    /// ```
    /// use portcullis_audit_log::record::Principal;
    /// let mut principal = Principal::user("anonymous").with_tenant("acme");
    /// principal.merge(&Principal::user("ada"));
    /// assert_eq!(principal, Principal::user("ada").with_tenant("acme"));
    /// ```
    pub fn merge(&mut self, other: &Principal) {
        if other.user_id.is_some() {
            self.user_id.clone_from(&other.user_id);
        }
        if other.tenant_id.is_some() {
            self.tenant_id.clone_from(&other.tenant_id);
        }
        if other.api_key_id.is_some() {
            self.api_key_id.clone_from(&other.api_key_id);
        }
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.user_id.is_none() && self.tenant_id.is_none() && self.api_key_id.is_none()
    }
}

/// A captured body: its size, and its redacted content or its hash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyCapture {
    /// Bytes seen (up to the cap when `truncated`).
    pub bytes: u64,
    /// Whether the body was longer than the cap.
    pub truncated: bool,
    /// The redacted content (JSON and form bodies, or any body when raw capture is
    /// on), as `http.*.body.content`.
    pub content: Option<String>,
    /// `hmac-sha256:<hex>` of the captured bytes, for bodies recorded without content.
    pub hash: Option<String>,
}

/// The rate limiter's decision, as `portcullis.rate_limit`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitInfo {
    /// The plan the request was checked against.
    pub plan: Option<String>,
    /// Whether every quota allowed it; `None` when the limiter could not decide.
    pub allowed: Option<bool>,
    /// The quotas that denied it.
    pub violated: Vec<String>,
    /// The degraded mode (`fail-open`, `fail-closed`, `fallback`) when the store failed.
    pub degraded: Option<String>,
    /// Whether the limiter only observed (shadow mode).
    pub shadow: bool,
}

/// What is known of the request, shared by all of its records.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RequestInfo {
    /// `http.request.id`.
    pub id: RequestId,
    /// `http.request.method`.
    pub method: Method,
    /// `url.path`.
    pub path: String,
    /// `url.query`, redacted.
    pub query: Option<String>,
    /// `source.ip`.
    pub source_ip: Option<IpAddr>,
    /// `user_agent.original`.
    pub user_agent: Option<String>,
    /// `http.request.headers`, redacted (at [`Level::Request`] and above).
    pub headers: Vec<(HeaderName, String)>,
    /// `http.request.body` (at [`Level::Request`] and above).
    pub body: Option<BodyCapture>,
    /// The level the request was audited at.
    pub level: Level,
    /// `portcullis.client_request_id`: the request id sent by a client that is not a
    /// trusted proxy, kept apart so that it cannot pose as this request's id.
    pub client_request_id: Option<RequestId>,
    /// `trace.id` and `span.id`: the request's W3C trace context, if it sent a valid
    /// `traceparent`.
    pub trace: Option<TraceContext>,
}

impl RequestInfo {
    /// A request with an id, a method and a path; everything else unknown.
    pub fn new(id: RequestId, method: Method, path: impl Into<String>) -> Self {
        Self {
            id,
            method,
            path: path.into(),
            query: None,
            source_ip: None,
            user_agent: None,
            headers: Vec::new(),
            body: None,
            level: Level::Metadata,
            client_request_id: None,
            trace: None,
        }
    }
}

/// What is known of the response.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ResponseInfo {
    /// `http.response.status_code`; `None` when there is no response.
    pub status: Option<StatusCode>,
    /// `event.duration`.
    pub duration: Duration,
    /// `portcullis.rejection.code`.
    pub rejection_code: Option<String>,
    /// `portcullis.rate_limit`.
    pub rate_limit: Option<RateLimitInfo>,
    /// `http.response.headers`, redacted (at [`Level::RequestResponse`]).
    pub headers: Vec<(HeaderName, String)>,
    /// `http.response.body` (at [`Level::RequestResponse`]).
    pub body: Option<BodyCapture>,
    /// `error.type`.
    pub error: Option<Cow<'static, str>>,
}

impl ResponseInfo {
    /// A response with a status and the time it took.
    pub fn new(status: Option<StatusCode>, duration: Duration) -> Self {
        Self {
            status,
            duration,
            ..Self::default()
        }
    }
}

/// One audit record; see the [module docs](self).
///
/// ```
/// use std::sync::Arc;
/// use std::time::SystemTime;
/// use portcullis_audit_log::record::{Phase, Record, RequestInfo, ResponseInfo};
/// use portcullis_audit_log::request_id::RequestId;
///
/// let request = Arc::new(RequestInfo::new(RequestId::generate(), http::Method::GET, "/"));
/// let mut record = Record::new(Phase::Response, request, SystemTime::now());
/// record.response = Some(ResponseInfo::new(Some(http::StatusCode::FORBIDDEN), Default::default()));
/// assert_eq!(record.outcome(), "failure");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Record {
    /// `@timestamp`.
    pub timestamp: SystemTime,
    /// `event.action`.
    pub phase: Phase,
    /// The request, shared by the request's records.
    pub request: Arc<RequestInfo>,
    /// Who made it.
    pub principal: Principal,
    /// The response (all phases but `request`).
    pub response: Option<ResponseInfo>,
    /// `labels`: free-form keyword pairs from enrichers.
    pub labels: Vec<(String, String)>,
}

impl Record {
    /// A record of `phase` of `request` at `timestamp`.
    pub fn new(phase: Phase, request: Arc<RequestInfo>, timestamp: SystemTime) -> Self {
        Self {
            timestamp,
            phase,
            request,
            principal: Principal::default(),
            response: None,
            labels: Vec::new(),
        }
    }

    /// Makes this record a new one of `phase` at `timestamp`, for the same request
    /// (as [`Record::new`] would), keeping its allocations.
    pub(crate) fn renew(&mut self, phase: Phase, timestamp: SystemTime) {
        // Naming every field: a field added to `Record` must be reset here too.
        let Self {
            timestamp: record_timestamp,
            phase: record_phase,
            request: _,
            principal,
            response,
            labels,
        } = self;
        *record_timestamp = timestamp;
        *record_phase = phase;
        *principal = Principal::default();
        *response = None;
        labels.clear();
    }

    /// Adds a label (`labels.<key>`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_audit_log::record::{Phase, Record, RequestInfo};
    /// use portcullis_audit_log::request_id::RequestId;
    /// let request = Arc::new(RequestInfo::new(RequestId::generate(), http::Method::GET, "/"));
    /// let mut record = Record::new(Phase::Request, request, std::time::SystemTime::now());
    /// record.label("route", "/v1/invoices/{id}");
    /// assert!(record.to_json().contains(r#""labels":{"route":"/v1/invoices/{id}"}"#));
    /// ```
    pub fn label(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.labels.push((key.into(), value.into()));
    }

    /// `event.outcome`: `unknown`, `success` or `failure`.
    pub fn outcome(&self) -> &'static str {
        match self.phase {
            Phase::Request | Phase::Cancelled => "unknown",
            Phase::Panic => "failure",
            Phase::Response => match &self.response {
                Some(ResponseInfo {
                    status: Some(status),
                    error: None,
                    ..
                }) if status.as_u16() < 400 => "success",
                _ => "failure",
            },
        }
    }

    /// Appends the record as one JSON object (no newline) to `out`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_audit_log::record::{Phase, Record, RequestInfo};
    /// use portcullis_audit_log::request_id::RequestId;
    /// let request = Arc::new(RequestInfo::new(RequestId::generate(), http::Method::GET, "/"));
    /// let mut out = Vec::new();
    /// Record::new(Phase::Request, request, std::time::SystemTime::now()).write_json(&mut out);
    /// assert!(out.starts_with(b"{\"@timestamp\":"));
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let request = &*self.request;
        out.reserve(512);
        let mut w = JsonWriter::new(out);
        w.timestamp("@timestamp", self.timestamp);
        w.open("event");
        w.str_concat("id", &[request.id.as_str(), ":", self.phase.as_str()]);
        w.raw(r#""kind":"event","category":["web"],"type":["access"]"#);
        w.str("action", self.phase.as_str());
        w.str("outcome", self.outcome());
        if let Some(response) = &self.response {
            w.u64(
                "duration",
                u64::try_from(response.duration.as_nanos()).unwrap_or(u64::MAX),
            );
        }
        w.raw(r#""dataset":"portcullis.audit""#);
        w.close();

        w.open("http");
        w.open("request");
        w.str("id", request.id.as_str());
        w.str("method", request.method.as_str());
        // Headers and body once, in the `request` record.
        if self.phase == Phase::Request {
            write_headers(&mut w, &request.headers);
            if let Some(body) = &request.body {
                write_body(&mut w, body);
            }
        }
        w.close();
        if let Some(response) = &self.response {
            w.open("response");
            if let Some(status) = response.status {
                w.u64("status_code", u64::from(status.as_u16()));
            }
            write_headers(&mut w, &response.headers);
            if let Some(body) = &response.body {
                write_body(&mut w, body);
            }
            w.close();
        }
        w.close();

        w.open("url");
        w.str("path", &request.path);
        w.opt_str("query", request.query.as_deref());
        w.close();
        if let Some(ip) = request.source_ip {
            w.open("source");
            let mut text = [0u8; 45];
            let len = {
                let mut cursor = std::io::Cursor::new(&mut text[..]);
                // An IP address is at most 45 characters; it always fits.
                let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{ip}"));
                cursor.position() as usize
            };
            w.plain_str("ip", &text[..len]);
            w.close();
        }
        if let Some(user) = &self.principal.user_id {
            w.open("user");
            w.str("id", user);
            w.close();
        }
        if let Some(tenant) = &self.principal.tenant_id {
            w.open("organization");
            w.str("id", tenant);
            w.close();
        }
        if let Some(agent) = &request.user_agent {
            w.open("user_agent");
            w.str("original", agent);
            w.close();
        }
        if let Some(trace) = &request.trace {
            w.open("trace");
            w.plain_str("id", trace.trace_id().as_bytes());
            w.close();
            w.open("span");
            w.plain_str("id", trace.span_id().as_bytes());
            w.close();
        }
        let response = self.response.as_ref();
        if let Some(error) = response.and_then(|r| r.error.as_deref()) {
            w.open("error");
            w.str("type", error);
            w.close();
        }
        let rejection = response.and_then(|r| r.rejection_code.as_deref());
        let rate_limit = response.and_then(|r| r.rate_limit.as_ref());
        let client_request_id = request.client_request_id.as_ref();
        if self.principal.api_key_id.is_some()
            || rejection.is_some()
            || rate_limit.is_some()
            || client_request_id.is_some()
        {
            w.open("portcullis");
            if let Some(id) = client_request_id {
                w.str("client_request_id", id.as_str());
            }
            if let Some(key) = &self.principal.api_key_id {
                w.open("api_key");
                w.str("id", key);
                w.close();
            }
            if let Some(code) = rejection {
                w.open("rejection");
                w.str("code", code);
                w.close();
            }
            if let Some(limit) = rate_limit {
                w.open("rate_limit");
                w.opt_str("plan", limit.plan.as_deref());
                if let Some(allowed) = limit.allowed {
                    w.bool("allowed", allowed);
                }
                w.str_array("violated", limit.violated.iter().map(String::as_str));
                w.opt_str("degraded", limit.degraded.as_deref());
                w.bool("shadow", limit.shadow);
                w.close();
            }
            w.close();
        }
        if !self.labels.is_empty() {
            w.open("labels");
            for (key, value) in &self.labels {
                w.str(key, value);
            }
            w.close();
        }
        w.finish();
    }

    /// The record as one JSON line (without the newline).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_audit_log::record::{Phase, Record, RequestInfo};
    /// use portcullis_audit_log::request_id::RequestId;
    /// let request = Arc::new(RequestInfo::new(RequestId::generate(), http::Method::GET, "/"));
    /// let json = Record::new(Phase::Request, request, std::time::SystemTime::now()).to_json();
    /// assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(512);
        self.write_json(&mut out);
        // The writer only emits valid UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }

    /// A one-line human-readable summary, for development consoles.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_audit_log::record::{Phase, Record, RequestInfo};
    /// use portcullis_audit_log::request_id::RequestId;
    /// let request = Arc::new(RequestInfo::new(RequestId::parse("r1").unwrap(), http::Method::GET, "/x"));
    /// let line = Record::new(Phase::Request, request, std::time::UNIX_EPOCH).to_human();
    /// assert_eq!(line, "1970-01-01T00:00:00.000000Z request   GET /x id=r1");
    /// ```
    pub fn to_human(&self) -> String {
        let request = &*self.request;
        let mut line = format!(
            "{} {:<9} {} {}",
            rfc3339(self.timestamp),
            self.phase.as_str(),
            request.method,
            request.path
        );
        if let Some(query) = &request.query {
            let _ = write!(line, "?{query}");
        }
        if let Some(response) = &self.response {
            if let Some(status) = response.status {
                let _ = write!(line, " {}", status.as_u16());
            }
            if let Some(error) = &response.error {
                let _ = write!(line, " error={error}");
            }
            if let Some(code) = &response.rejection_code {
                let _ = write!(line, " code={code}");
            }
            let _ = write!(line, " {:.3}ms", response.duration.as_secs_f64() * 1e3);
        }
        if let Some(ip) = request.source_ip {
            let _ = write!(line, " src={ip}");
        }
        if let Some(user) = &self.principal.user_id {
            let _ = write!(line, " user={user}");
        }
        if let Some(tenant) = &self.principal.tenant_id {
            let _ = write!(line, " tenant={tenant}");
        }
        let _ = write!(line, " id={}", request.id);
        line
    }
}

fn write_headers(w: &mut JsonWriter<'_>, headers: &[(HeaderName, String)]) {
    if headers.is_empty() {
        return;
    }
    w.open("headers");
    // Repeated headers are joined with ", " as RFC 9110 allows for most fields.
    let mut index = 0;
    while index < headers.len() {
        let (name, value) = &headers[index];
        let mut joined = Cow::Borrowed(value.as_str());
        let mut next = index + 1;
        while next < headers.len() && headers[next].0 == *name {
            let text = joined.to_mut();
            text.push_str(", ");
            text.push_str(&headers[next].1);
            next += 1;
        }
        w.str(name.as_str(), &joined);
        index = next;
    }
    w.close();
}

fn write_body(w: &mut JsonWriter<'_>, body: &BodyCapture) {
    w.open("body");
    w.u64("bytes", body.bytes);
    w.bool("truncated", body.truncated);
    w.opt_str("content", body.content.as_deref());
    w.opt_str("hash", body.hash.as_deref());
    w.close();
}
