//! The [`CspReportCollector`] service.

use std::any::type_name;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http::header::USER_AGENT;
use http_body::Body;
use http_body_util::Limited;
use portcullis_core::clock::{Clock, SystemClock};
use tower_service::Service;

use super::future::ResponseFuture;
use super::handler::{LogOnly, ReportHandler};
use super::verdict::{BeforeBody, BoxError, CollectorResponse, Judge, Shared};

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
    judge: Judge<H>,
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
            judge: Judge {
                max_body_size: DEFAULT_MAX_BODY_SIZE,
                max_reports: DEFAULT_MAX_REPORTS_PER_REQUEST,
                dedup_window: DEFAULT_DEDUP_WINDOW,
                dedup_capacity: DEFAULT_DEDUP_CAPACITY,
                clock: Arc::new(SystemClock),
                shared: Arc::new(Shared::new(LogOnly)),
            },
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
        let judge = self.judge;
        CspReportCollector {
            judge: Judge {
                max_body_size: judge.max_body_size,
                max_reports: judge.max_reports,
                dedup_window: judge.dedup_window,
                dedup_capacity: judge.dedup_capacity,
                clock: judge.clock,
                shared: Arc::new(Shared::new(handler)),
            },
        }
    }

    /// Sets the largest accepted body, in bytes (default 64 KiB). Larger bodies are
    /// refused with `413 Content Too Large`, by their `Content-Length` before reading
    /// and while reading otherwise ([RFC 9110 §15.5.14]).
    ///
    /// [RFC 9110 §15.5.14]: https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.judge.max_body_size = bytes;
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
        self.judge.max_reports = reports;
        self
    }

    /// Sets how long a violation is remembered: the same (document URL, effective
    /// directive, blocked URL, source file, line) seen again within this window of its
    /// first report is counted as a duplicate and not handed to the handler. Default
    /// 60 seconds; `Duration::ZERO` turns deduplication off.
    #[must_use]
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.judge.dedup_window = window;
        self
    }

    /// Sets how many violation fingerprints are remembered at most (default 10 000).
    /// When full, expired fingerprints are forgotten first, then the oldest. Each costs
    /// a few dozen bytes. `0` turns deduplication off.
    #[must_use]
    pub fn dedup_capacity(mut self, capacity: usize) -> Self {
        self.judge.dedup_capacity = capacity;
        self
    }

    /// Sets the clock the dedup window is measured with (default [`SystemClock`]);
    /// tests pass a [`ManualClock`](portcullis_core::clock::ManualClock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.judge.clock = Arc::new(clock);
        self
    }

    /// The counters of this collector and all its clones.
    pub fn stats(&self) -> ReportStats {
        let counters = &self.judge.shared.counters;
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
        &self.judge.shared.handler
    }
}

impl<H> Clone for CspReportCollector<H> {
    fn clone(&self) -> Self {
        Self {
            judge: self.judge.clone(),
        }
    }
}

impl<H> fmt::Debug for CspReportCollector<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CspReportCollector")
            .field("max_body_size", &self.judge.max_body_size)
            .field("max_reports_per_request", &self.judge.max_reports)
            .field("dedup_window", &self.judge.dedup_window)
            .field("dedup_capacity", &self.judge.dedup_capacity)
            .field("clock", &self.judge.clock)
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
        match self
            .judge
            .before_body(&parts.method, &parts.headers, body.size_hint().lower())
        {
            BeforeBody::Answer(response) => ResponseFuture::ready(response),
            BeforeBody::Read { format, capacity } => ResponseFuture::reading(
                Limited::new(body, self.judge.max_body_size),
                Vec::with_capacity(capacity),
                format,
                parts.headers.get(USER_AGENT).cloned(),
                self.judge.clone(),
            ),
        }
    }
}
