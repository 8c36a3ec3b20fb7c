//! A Tower service that collects Content-Security-Policy violation reports.
//!
//! Browsers report CSP violations to the endpoint named by the policy's
//! [`report-uri`] directive (a `POST` of `application/csp-report`) or by its
//! [`report-to`] directive through the Reporting API (a `POST` of
//! `application/reports+json` carrying a batch of reports). [`CspReportCollector`]
//! accepts both, normalizes each violation into one [`CspViolation`], and:
//!
//! - takes at most 20 violations of one request
//!   ([`max_reports_per_request`](CspReportCollector::max_reports_per_request)), and
//!   counts the rest as over the limit;
//! - drops the same violation seen again within a window (60 s by default, bounded
//!   memory, measured with an injectable [`Clock`](portcullis_core::clock::Clock));
//! - hands the rest to your [`ReportHandler`], any `Fn(CspViolation)` closure;
//! - logs one `warn` event per request (target `portcullis_security_headers::report`):
//!   how many violations it held, a sample of up to three, and the first one's
//!   structured fields with its [`Disposition`], so report-only violations stand apart
//!   from blocked ones. Never a line per report: anyone can post reports;
//! - counts accepted, duplicate, rejected, ignored and over-the-limit reports
//!   ([`ReportStats`]).
//!
//! The collector is unauthenticated by nature: put a per-client rate limit in front of
//! it (`portcullis-rate-limit`, keyed by client IP) so that one client cannot flood it.
//!
//! It answers `204 No Content` on success and `application/problem+json` otherwise:
//! `405` to methods other than `POST`, `415` to other media types, `413` past the body
//! limit (64 KiB by default, checked on `Content-Length` and while reading), `400` to
//! empty, non-UTF-8 or malformed bodies. It never fails and never answers `5xx`.
//!
//! A report endpoint on another origin than the page receives a CORS preflight for
//! `application/reports+json`; put a CORS layer in front of the collector then.
//!
//! [`report-uri`]: https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/report-uri
//! [`report-to`]: https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/report-to
//!
//! # Example
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use http::{Request, StatusCode};
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use portcullis_security_headers::report::{CspReportCollector, CspViolation};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let received = Arc::new(Mutex::new(Vec::new()));
//! let sink = received.clone();
//! let collector = CspReportCollector::new()
//!     .handler(move |violation: CspViolation| sink.lock().unwrap().push(violation));
//! // With axum: Router::new().route_service("/csp-reports", collector.clone())
//!
//! let report = r#"{"csp-report": {
//!     "document-uri": "https://example.com/checkout",
//!     "effective-directive": "script-src-elem",
//!     "blocked-uri": "https://cdn.evil.example/skimmer.js",
//!     "disposition": "enforce"
//! }}"#;
//! let request = Request::post("/csp-reports")
//!     .header("content-type", "application/csp-report")
//!     .body(Full::new(Bytes::from(report)))
//!     .unwrap();
//! let response = collector.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::NO_CONTENT);
//!
//! let violations = received.lock().unwrap();
//! assert_eq!(violations[0].effective_directive, "script-src-elem");
//! assert_eq!(collector.stats().accepted, 1);
//!
//! // Anything but POST is refused with a problem document.
//! let response = collector.oneshot(Request::get("/csp-reports").body(Full::default()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
//! assert_eq!(response.headers()["allow"], "POST");
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! # }
//! ```

mod dedup;
mod future;
mod handler;
mod service;
mod verdict;
mod violation;

pub use self::future::ResponseFuture;
pub use self::handler::{LogOnly, ReportHandler};
pub use self::service::{
    CspReportCollector, DEFAULT_DEDUP_CAPACITY, DEFAULT_DEDUP_WINDOW, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_REPORTS_PER_REQUEST, ReportStats,
};
pub use self::violation::{CspViolation, Disposition, ParseError, ReportFormat};
