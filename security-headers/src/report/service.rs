//! The [`CspReportCollector`] service.

use std::any::type_name;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{Empty, Limited};
use portcullis_core::body::ResponseBody;
use portcullis_core::clock::{Clock, SystemClock};
use portcullis_core::problem::Problem;
use tower_service::Service;

use super::dedup::Deduplicator;
use super::future::ResponseFuture;
use super::handler::{LogOnly, ReportHandler};
use super::report::{CspViolation, ParseError, ReportFormat};

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

const TRACING_TARGET: &str = "portcullis_security_headers::report";

/// The response of a [`CspReportCollector`]: `204 No Content`, or an
/// `application/problem+json` rejection.
pub(super) type CollectorResponse = Response<ResponseBody<Empty<Bytes>>>;

/// The default largest accepted report body: 64 KiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 64 * 1024;

/// The default time during which a repeated violation is dropped: 60 seconds.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(60);

/// The default number of violation fingerprints remembered for deduplication.
pub const DEFAULT_DEDUP_CAPACITY: usize = 10_000;

/// The default largest number of violations taken from one request: 20.
///
/// A browser batches the reports of one page into one Reporting API request, a few at
/// a time; hundreds in one body come from a script, not a browser.
pub const DEFAULT_MAX_REPORTS_PER_REQUEST: usize = 20;

/// How many violations the `warn` line of a request describes at most.
const LOGGED_EXAMPLES: usize = 3;

/// A Tower service that receives CSP violation reports.
///
/// Mount it where your policy's `report-uri` / `report-to` endpoint points. It answers
/// `POST` requests of type `application/csp-report` or `application/reports+json` with
/// `204 No Content`, takes at most [`max_reports_per_request`](Self::max_reports_per_request)
/// violations of it, drops repeats within the [dedup window](Self::dedup_window),
/// hands every other violation to the [handler](Self::handler) and logs one `warn`
/// event per request summing them up. Everything else gets an `application/problem+json`
/// rejection: `405` (with `Allow: POST`), `415`, `413` or `400`. The service never
/// fails and never answers `5xx`.
///
/// Clones share one state (deduplication memory, counters, handler).
///
/// See the [module documentation](super) for an example.
pub struct CspReportCollector<H = LogOnly> {
    max_body_size: usize,
    max_reports: usize,
    dedup_window: Duration,
    dedup_capacity: usize,
    clock: Arc<dyn Clock>,
    shared: Arc<Shared<H>>,
}

struct Shared<H> {
    handler: H,
    dedup: Deduplicator,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    ignored: AtomicU64,
    over_limit: AtomicU64,
}

/// A snapshot of what a [`CspReportCollector`] has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportStats {
    /// Violations handed to the handler.
    pub accepted: u64,
    /// Violations dropped as repeats within the dedup window.
    pub duplicates: u64,
    /// Requests answered with a 4xx rejection.
    pub rejected: u64,
    /// Well-formed Reporting API batches that held no CSP violation (only
    /// `deprecation` reports, say).
    pub ignored: u64,
    /// Violations dropped unread because their request held more than
    /// [`max_reports_per_request`](CspReportCollector::max_reports_per_request).
    pub over_limit: u64,
}

impl CspReportCollector {
    /// A collector with the [`LogOnly`] handler, a 64 KiB body limit, at most 20
    /// violations a request and a 60 second dedup window over up to 10 000
    /// fingerprints.
    pub fn new() -> Self {
        Self {
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            max_reports: DEFAULT_MAX_REPORTS_PER_REQUEST,
            dedup_window: DEFAULT_DEDUP_WINDOW,
            dedup_capacity: DEFAULT_DEDUP_CAPACITY,
            clock: Arc::new(SystemClock),
            shared: Arc::new(Shared::new(LogOnly)),
        }
    }
}

impl Default for CspReportCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl<H> CspReportCollector<H> {
    /// Sets the handler that receives each accepted, non-duplicate violation: any
    /// [`ReportHandler`], such as a `Fn(CspViolation)` closure.
    ///
    /// Starts a fresh state (counters and dedup memory), so call it while building.
    #[must_use]
    pub fn handler<H2: ReportHandler>(self, handler: H2) -> CspReportCollector<H2> {
        CspReportCollector {
            max_body_size: self.max_body_size,
            max_reports: self.max_reports,
            dedup_window: self.dedup_window,
            dedup_capacity: self.dedup_capacity,
            clock: self.clock,
            shared: Arc::new(Shared::new(handler)),
        }
    }

    /// Sets the largest accepted body, in bytes (default 64 KiB). Larger bodies are
    /// refused with `413 Content Too Large`, by their `Content-Length` before reading
    /// and while reading otherwise ([RFC 9110 §15.5.14]).
    ///
    /// [RFC 9110 §15.5.14]: https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Sets how many violations of one request are looked at (default
    /// [`DEFAULT_MAX_REPORTS_PER_REQUEST`], 20). The rest of a larger batch is dropped
    /// unread and counted in [`ReportStats::over_limit`]; the request is still answered
    /// `204`, since a rejection would make a browser retry the whole batch. The body
    /// size limit bounds the parsing; this bounds the handler calls and what is logged.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Request, StatusCode};
    /// use http_body_util::Full;
    /// use portcullis_security_headers::report::CspReportCollector;
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let collector = CspReportCollector::new().max_reports_per_request(1);
    /// let report = |url| format!(r#"{{"type":"csp-violation","body":{{"documentURL":"https://example.com/","effectiveDirective":"img-src","blockedURL":"{url}"}}}}"#);
    /// let batch = format!("[{},{}]", report("https://a.example/"), report("https://b.example/"));
    /// let request = Request::post("/csp-reports")
    ///     .header("content-type", "application/reports+json")
    ///     .body(Full::new(Bytes::from(batch)))
    ///     .unwrap();
    /// let response = collector.clone().oneshot(request).await.unwrap();
    /// assert_eq!(response.status(), StatusCode::NO_CONTENT);
    /// assert_eq!((collector.stats().accepted, collector.stats().over_limit), (1, 1));
    /// # }
    /// ```
    #[must_use]
    pub fn max_reports_per_request(mut self, reports: usize) -> Self {
        self.max_reports = reports;
        self
    }

    /// Sets how long a violation is remembered: the same (document URL, effective
    /// directive, blocked URL, source file, line) seen again within this window of its
    /// first report is counted as a duplicate and not handed to the handler. Default
    /// 60 seconds; `Duration::ZERO` turns deduplication off.
    #[must_use]
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// Sets how many violation fingerprints are remembered at most (default 10 000).
    /// When full, expired fingerprints are forgotten first, then the oldest. Each costs
    /// a few dozen bytes. `0` turns deduplication off.
    #[must_use]
    pub fn dedup_capacity(mut self, capacity: usize) -> Self {
        self.dedup_capacity = capacity;
        self
    }

    /// Sets the clock the dedup window is measured with (default [`SystemClock`]);
    /// tests pass a [`ManualClock`](portcullis_core::clock::ManualClock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The counters of this collector and all its clones.
    pub fn stats(&self) -> ReportStats {
        let counters = &self.shared.counters;
        ReportStats {
            accepted: counters.accepted.load(Ordering::Relaxed),
            duplicates: counters.duplicates.load(Ordering::Relaxed),
            rejected: counters.rejected.load(Ordering::Relaxed),
            ignored: counters.ignored.load(Ordering::Relaxed),
            over_limit: counters.over_limit.load(Ordering::Relaxed),
        }
    }

    /// The handler.
    pub fn get_handler(&self) -> &H {
        &self.shared.handler
    }

    /// Counts and builds a rejection.
    fn reject(&self, problem: Problem) -> CollectorResponse {
        self.shared
            .counters
            .rejected
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            target: TRACING_TARGET,
            status = problem.status().as_u16(),
            code = problem.code(),
            "CSP report rejected"
        );
        problem.into_http_response()
    }
}

impl<H: ReportHandler> CspReportCollector<H> {
    /// Parses a complete body and dispatches its violations.
    pub(super) fn finish(
        &self,
        format: ReportFormat,
        body: &[u8],
        user_agent: Option<&HeaderValue>,
    ) -> CollectorResponse {
        let violations = match CspViolation::parse(format, body) {
            Ok(violations) => violations,
            Err(error) => return self.reject(parse_problem(&error)),
        };
        let counters = &self.shared.counters;
        if violations.is_empty() {
            counters.ignored.fetch_add(1, Ordering::Relaxed);
        }
        let over_limit = violations.len().saturating_sub(self.max_reports);
        if over_limit > 0 {
            counters.over_limit.fetch_add(
                u64::try_from(over_limit).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
        let now = self.clock.unix_time();
        let mut accepted = 0_usize;
        let mut duplicates = 0_usize;
        let mut examples: Vec<String> = Vec::new();
        let mut first: Option<CspViolation> = None;
        for mut violation in violations.into_iter().take(self.max_reports) {
            if violation.user_agent.is_none() {
                violation.user_agent = user_agent
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
            }
            if self.shared.dedup.is_duplicate(
                &violation,
                now,
                self.dedup_window,
                self.dedup_capacity,
            ) {
                counters.duplicates.fetch_add(1, Ordering::Relaxed);
                duplicates += 1;
                continue;
            }
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            accepted += 1;
            if examples.len() < LOGGED_EXAMPLES {
                // Debug formatting escapes control characters: report contents are
                // attacker-controlled and must not forge log lines.
                examples.push(format!(
                    "{:?} blocked {:?}",
                    violation.effective_directive, violation.blocked_url
                ));
            }
            if first.is_none() {
                first = Some(violation.clone());
            }
            self.shared.handler.handle_violation(violation);
        }
        // One line per request, not one per report: a report body is written by
        // anyone, and a line per report would let one request write thousands.
        if let Some(violation) = first {
            tracing::warn!(
                target: TRACING_TARGET,
                reports = accepted,
                duplicates,
                over_limit,
                examples = ?examples,
                format = violation.format.media_type(),
                disposition = violation.disposition.map(|d| d.as_str()),
                document_url = ?violation.document_url,
                effective_directive = ?violation.effective_directive,
                blocked_url = ?violation.blocked_url,
                source_file = ?violation.source_file,
                line_number = violation.line_number,
                column_number = violation.column_number,
                sample = ?violation.sample,
                user_agent = ?violation.user_agent,
                "CSP violation reported"
            );
        } else if duplicates > 0 || over_limit > 0 {
            tracing::debug!(
                target: TRACING_TARGET,
                duplicates,
                over_limit,
                "only duplicate CSP violations"
            );
        }
        no_content()
    }

    /// Counts and builds the rejection of a body that failed while being read.
    pub(super) fn body_failed(&self, error: &BoxError) -> CollectorResponse {
        if error.is::<http_body_util::LengthLimitError>() {
            self.reject(too_large(self.max_body_size))
        } else {
            self.reject(
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "CSP_REPORT_BODY_UNREADABLE",
                    "Report body could not be read",
                )
                .with_detail("The request body ended with an error."),
            )
        }
    }
}

impl<H> Shared<H> {
    fn new(handler: H) -> Self {
        Self {
            handler,
            dedup: Deduplicator::default(),
            counters: Counters::default(),
        }
    }
}

impl<H> Clone for CspReportCollector<H> {
    fn clone(&self) -> Self {
        Self {
            max_body_size: self.max_body_size,
            max_reports: self.max_reports,
            dedup_window: self.dedup_window,
            dedup_capacity: self.dedup_capacity,
            clock: Arc::clone(&self.clock),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<H> fmt::Debug for CspReportCollector<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CspReportCollector")
            .field("max_body_size", &self.max_body_size)
            .field("max_reports_per_request", &self.max_reports)
            .field("dedup_window", &self.dedup_window)
            .field("dedup_capacity", &self.dedup_capacity)
            .field("clock", &self.clock)
            .field("handler", &type_name::<H>())
            .field("stats", &self.stats())
            .finish()
    }
}

impl<H, B> Service<Request<B>> for CspReportCollector<H>
where
    H: ReportHandler,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = CollectorResponse;
    type Error = Infallible;
    type Future = ResponseFuture<B, H>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();

        if parts.method != Method::POST {
            let mut response = self.reject(
                Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "CSP_REPORT_METHOD_NOT_ALLOWED",
                    "Method not allowed",
                )
                .with_detail("CSP reports are sent with POST."),
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
            return ResponseFuture::ready(response);
        }

        let format = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(ReportFormat::from_content_type);
        let Some(format) = format else {
            return ResponseFuture::ready(
                self.reject(
                    Problem::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "CSP_REPORT_UNSUPPORTED_MEDIA_TYPE",
                        "Unsupported report media type",
                    )
                    .with_detail(
                        "Send application/csp-report (report-uri) or \
                         application/reports+json (report-to).",
                    ),
                ),
            );
        };

        let limit = u64::try_from(self.max_body_size).unwrap_or(u64::MAX);
        let declared = content_length(&parts.headers);
        if declared.is_some_and(|length| length > limit) || body.size_hint().lower() > limit {
            return ResponseFuture::ready(self.reject(too_large(self.max_body_size)));
        }

        // Reserve what was announced, never more than the limit.
        let capacity = declared
            .and_then(|length| usize::try_from(length).ok())
            .unwrap_or(0)
            .min(self.max_body_size);
        ResponseFuture::reading(
            Limited::new(body, self.max_body_size),
            Vec::with_capacity(capacity),
            format,
            parts.headers.get(USER_AGENT).cloned(),
            self.clone(),
        )
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "CSP_REPORT_TOO_LARGE",
        "Report too large",
    )
    .with_detail(format!("Reports are limited to {limit} bytes."))
    .with_extension("max_body_size", limit)
}

fn parse_problem(error: &ParseError) -> Problem {
    let (code, title) = match error {
        ParseError::Empty => ("CSP_REPORT_EMPTY", "Empty report"),
        ParseError::NotUtf8(_) => ("CSP_REPORT_NOT_UTF8", "Report is not UTF-8"),
        _ => ("CSP_REPORT_MALFORMED", "Malformed report"),
    };
    let problem = Problem::new(StatusCode::BAD_REQUEST, code, title);
    match error {
        ParseError::Json(source) => problem.with_detail(source.to_string()),
        _ => problem,
    }
}

fn no_content() -> CollectorResponse {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// What a future polled after completion answers, rather than panicking.
pub(super) fn polled_after_completion() -> CollectorResponse {
    no_content()
}
