//! The verdict on a report request: the checks before its body is read, the
//! judgement of the body (parse, limit, deduplicate, hand to the handler, log), and
//! every rejection on the way, counted. The [`CspReportCollector`](super::CspReportCollector)
//! asks it in `call`, its future once the body is read.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Empty;
use portcullis_core::body::ResponseBody;
use portcullis_core::clock::Clock;
use portcullis_core::problem::Problem;

use super::dedup::Deduplicator;
use super::handler::ReportHandler;
use super::violation::{CspViolation, ParseError, ReportFormat};

pub(super) use portcullis_core::boxed::BoxError;

const TRACING_TARGET: &str = "portcullis_security_headers::report";

/// The response of a [`CspReportCollector`]: `204 No Content`, or an
/// `application/problem+json` rejection.
pub(super) type CollectorResponse = Response<ResponseBody<Empty<Bytes>>>;

/// How many violations the `warn` line of a request describes at most.
const LOGGED_EXAMPLES: usize = 3;

/// The settings and the shared state a collector judges with; cheap to clone (the
/// state is behind one `Arc`).
pub(super) struct Judge<H> {
    pub(super) max_body_size: usize,
    pub(super) max_reports: usize,
    pub(super) dedup_window: Duration,
    pub(super) dedup_capacity: usize,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) shared: Arc<Shared<H>>,
}

impl<H> Clone for Judge<H> {
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

impl<H> fmt::Debug for Judge<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Judge").finish_non_exhaustive()
    }
}

/// What the checks before the body decide.
pub(super) enum BeforeBody {
    /// Read the body, of this format, into a buffer of this capacity.
    Read {
        format: ReportFormat,
        capacity: usize,
    },
    /// Answer at once.
    Answer(CollectorResponse),
}

pub(super) struct Shared<H> {
    pub(super) handler: H,
    pub(super) dedup: Deduplicator,
    pub(super) counters: Counters,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) accepted: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) ignored: AtomicU64,
    pub(super) over_limit: AtomicU64,
}

impl<H> Shared<H> {
    pub(super) fn new(handler: H) -> Self {
        Self {
            handler,
            dedup: Deduplicator::default(),
            counters: Counters::default(),
        }
    }
}

impl<H> Judge<H> {
    /// Counts and builds a rejection.
    pub(super) fn reject(&self, problem: Problem) -> CollectorResponse {
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

    /// The checks before the body is read: `POST` only (`405`), a report media type
    /// (`415`), a declared length within the limit (`413`). Gives the report format
    /// and the buffer to reserve.
    pub(super) fn before_body(
        &self,
        method: &Method,
        headers: &HeaderMap,
        size_hint: u64,
    ) -> BeforeBody {
        if *method != Method::POST {
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
            return BeforeBody::Answer(response);
        }

        let format = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(ReportFormat::from_content_type);
        let Some(format) = format else {
            return BeforeBody::Answer(
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
        let declared = content_length(headers);
        if declared.is_some_and(|length| length > limit) || size_hint > limit {
            return BeforeBody::Answer(self.reject(too_large(self.max_body_size)));
        }

        // Reserve what was announced, never more than the limit.
        let capacity = declared
            .and_then(|length| usize::try_from(length).ok())
            .unwrap_or(0)
            .min(self.max_body_size);
        BeforeBody::Read { format, capacity }
    }
}

impl<H: ReportHandler> Judge<H> {
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
