//! The CSP report collector driven as a plain Tower service.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use portcullis_core::clock::ManualClock;
use portcullis_core::problem::Problem;
use portcullis_security_headers::report::{
    CspReportCollector, CspViolation, Disposition, ReportFormat, ReportHandler, ReportStats,
};
use tower::ServiceExt;

const CSP_REPORT: &str = "application/csp-report";
const REPORTS_JSON: &str = "application/reports+json";

/// What Firefox sends for a blocked inline script under `report-uri`.
const FIREFOX_LEGACY: &str = r#"{"csp-report":{"blocked-uri":"inline","column-number":9,"disposition":"enforce","document-uri":"https://shop.example.com/checkout","effective-directive":"script-src-elem","line-number":42,"original-policy":"default-src 'none'; script-src 'nonce-r4nd0m'; report-uri https://shop.example.com/csp-reports","referrer":"https://shop.example.com/cart","script-sample":"alert(document.cookie)","source-file":"https://shop.example.com/checkout","status-code":200,"violated-directive":"script-src-elem"}}"#;

/// What Chrome sends under `report-uri` for a report-only policy.
const CHROME_LEGACY_REPORT_ONLY: &str = r#"{"csp-report":{"document-uri":"https://www.example.com/news","referrer":"","violated-directive":"img-src","effective-directive":"img-src","original-policy":"default-src 'self'; img-src 'self'; report-uri /csp-reports","disposition":"report","blocked-uri":"https://tracker.example.net/pixel.gif","status-code":200,"script-sample":""}}"#;

/// MDN's example of an old-style report without `effective-directive`.
const MDN_LEGACY: &str = r#"{"csp-report":{"document-uri":"http://example.com/signup.html","referrer":"","blocked-uri":"http://example.com/css/style.css","violated-directive":"style-src cdn.example.com","original-policy":"default-src 'none'; style-src cdn.example.com; report-uri /_/csp-reports"}}"#;

/// A Chrome Reporting API batch: a CSP violation next to a deprecation report.
const CHROME_REPORTING_API: &str = r#"[
  {"age":53531,"body":{"blockedURL":"inline","columnNumber":39,"disposition":"enforce","documentURL":"https://example.com/csp-report","effectiveDirective":"script-src-elem","lineNumber":121,"originalPolicy":"default-src 'self'; report-to csp-endpoint","referrer":"https://www.google.com/","sample":"console.log(\"lo\")","sourceFile":"https://example.com/csp-report","statusCode":200},"type":"csp-violation","url":"https://example.com/csp-report","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36"},
  {"age":120,"body":{"columnNumber":12,"id":"NavigatorVibrate","lineNumber":7,"message":"The vibrate() API is deprecated.","sourceFile":"https://example.com/app.js"},"type":"deprecation","url":"https://example.com/csp-report","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36"},
  {"age":10,"body":{"blockedURL":"https://fonts.example.org/x.woff2","disposition":"report","documentURL":"https://example.com/","effectiveDirective":"font-src","originalPolicy":"font-src 'self'; report-to csp-endpoint","referrer":"","statusCode":200},"type":"csp-violation","url":"https://example.com/","user_agent":"Mozilla/5.0 Chrome/127.0.0.0"}
]"#;

type Received = Arc<Mutex<Vec<CspViolation>>>;

fn collector() -> (CspReportCollector<impl ReportHandler + Clone>, Received) {
    let received: Received = Arc::default();
    let sink = Arc::clone(&received);
    let collector = CspReportCollector::new()
        .handler(move |violation: CspViolation| sink.lock().unwrap().push(violation));
    (collector, received)
}

/// (accepted, duplicates, rejected, ignored)
fn counts(stats: ReportStats) -> (u64, u64, u64, u64) {
    (
        stats.accepted,
        stats.duplicates,
        stats.rejected,
        stats.ignored,
    )
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    problem: Option<Problem>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status);
        assert_eq!(self.headers["content-type"], "application/problem+json");
        let json = self.json();
        assert_eq!(json["status"], status.as_u16());
        assert_eq!(json["code"], code);
        assert_eq!(self.problem.as_ref().map(Problem::code), Some(code));
    }
}

async fn send<H, B>(collector: &CspReportCollector<H>, request: Request<B>) -> Answer
where
    H: ReportHandler,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let response = collector.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        problem: parts.extensions.get::<Problem>().cloned(),
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn post(content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post("/csp-reports")
        .header("content-type", content_type)
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0",
        )
        .body(Full::new(body.into()))
        .unwrap()
}

/// A body that arrives in chunks and does not announce its length.
struct Chunks {
    chunks: VecDeque<Result<Bytes, std::io::Error>>,
}

impl Chunks {
    fn new(chunks: impl IntoIterator<Item = Result<Bytes, std::io::Error>>) -> Self {
        Self {
            chunks: chunks.into_iter().collect(),
        }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.chunks.pop_front().map(|chunk| chunk.map(Frame::data)))
    }
}

#[tokio::test]
async fn firefox_legacy_report_is_parsed_and_handed_over() {
    let (collector, received) = collector();
    let answer = send(&collector, post(CSP_REPORT, FIREFOX_LEGACY)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.body.is_empty());

    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    let violation = &received[0];
    assert_eq!(violation.format, ReportFormat::ReportUri);
    assert_eq!(violation.document_url, "https://shop.example.com/checkout");
    assert_eq!(violation.effective_directive, "script-src-elem");
    assert_eq!(
        violation.violated_directive.as_deref(),
        Some("script-src-elem")
    );
    assert_eq!(violation.blocked_url.as_deref(), Some("inline"));
    assert_eq!(
        violation.referrer.as_deref(),
        Some("https://shop.example.com/cart")
    );
    assert!(
        violation
            .original_policy
            .as_deref()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert_eq!(violation.disposition, Some(Disposition::Enforce));
    assert!(!violation.is_report_only());
    assert_eq!(
        violation.source_file.as_deref(),
        Some("https://shop.example.com/checkout")
    );
    assert_eq!(violation.line_number, Some(42));
    assert_eq!(violation.column_number, Some(9));
    assert_eq!(violation.sample.as_deref(), Some("alert(document.cookie)"));
    assert_eq!(violation.status_code, Some(200));
    // The legacy format has no user agent member; the request header fills in.
    assert_eq!(
        violation.user_agent.as_deref(),
        Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0")
    );
    assert_eq!(counts(collector.stats()), (1, 0, 0, 0));
}

#[tokio::test]
async fn chrome_legacy_report_only_keeps_its_disposition() {
    let (collector, received) = collector();
    let answer = send(&collector, post(CSP_REPORT, CHROME_LEGACY_REPORT_ONLY)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let violation = received.lock().unwrap().remove(0);
    assert!(violation.is_report_only());
    assert_eq!(violation.effective_directive, "img-src");
    // Empty members count as absent.
    assert_eq!(violation.referrer, None);
    assert_eq!(violation.sample, None);
    assert_eq!(violation.line_number, None);
}

#[tokio::test]
async fn old_reports_without_effective_directive_use_the_violated_one() {
    let (collector, received) = collector();
    let answer = send(&collector, post(CSP_REPORT, MDN_LEGACY)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let violation = received.lock().unwrap().remove(0);
    assert_eq!(violation.effective_directive, "style-src");
    assert_eq!(violation.disposition, None);
}

#[tokio::test]
async fn chrome_reporting_api_batch_is_parsed_and_other_types_skipped() {
    let (collector, received) = collector();
    let answer = send(&collector, post(REPORTS_JSON, CHROME_REPORTING_API)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);

    let received = received.lock().unwrap();
    assert_eq!(received.len(), 2, "the deprecation report is skipped");
    let first = &received[0];
    assert_eq!(first.format, ReportFormat::ReportingApi);
    assert_eq!(first.document_url, "https://example.com/csp-report");
    assert_eq!(first.effective_directive, "script-src-elem");
    assert_eq!(first.blocked_url.as_deref(), Some("inline"));
    assert_eq!(first.referrer.as_deref(), Some("https://www.google.com/"));
    assert_eq!(first.sample.as_deref(), Some("console.log(\"lo\")"));
    assert_eq!(
        first.source_file.as_deref(),
        Some("https://example.com/csp-report")
    );
    assert_eq!(first.line_number, Some(121));
    assert_eq!(first.column_number, Some(39));
    assert_eq!(first.status_code, Some(200));
    assert_eq!(first.age_ms, Some(53531));
    assert_eq!(first.disposition, Some(Disposition::Enforce));
    assert!(first.user_agent.as_deref().unwrap().contains("Chrome/127"));
    assert!(received[1].is_report_only());
    assert_eq!(received[1].effective_directive, "font-src");
    assert_eq!(collector.stats().accepted, 2);
}

#[tokio::test]
async fn batch_without_csp_violations_is_accepted_and_counted_as_ignored() {
    let (collector, received) = collector();
    let body = r#"[{"type":"deprecation","age":1,"url":"https://example.com/","body":{"id":"X","message":"old"}}]"#;
    let answer = send(&collector, post(REPORTS_JSON, body)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(received.lock().unwrap().is_empty());
    assert_eq!(collector.stats().ignored, 1);
    assert_eq!(collector.stats().accepted, 0);
}

#[tokio::test]
async fn media_type_is_case_insensitive_and_parameters_are_tolerated() {
    let (collector, received) = collector();
    for content_type in [
        "Application/CSP-Report",
        "application/csp-report; charset=utf-8",
        " application/csp-report ;charset=UTF-8",
    ] {
        let answer = send(&collector, post(content_type, MDN_LEGACY)).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{content_type}");
    }
    let answer = send(
        &collector,
        post(
            "APPLICATION/REPORTS+JSON; charset=utf-8",
            CHROME_REPORTING_API,
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    // One legacy report (the repeats are duplicates) and two from the batch.
    assert_eq!(received.lock().unwrap().len(), 3);
    assert_eq!(collector.stats().duplicates, 2);
}

#[tokio::test]
async fn other_media_types_are_415() {
    let (collector, received) = collector();
    for content_type in [
        "application/json",
        "text/plain",
        "application/csp-reportx",
        "application/x-www-form-urlencoded",
        "",
    ] {
        let answer = send(&collector, post(content_type, FIREFOX_LEGACY)).await;
        answer.assert_problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "CSP_REPORT_UNSUPPORTED_MEDIA_TYPE",
        );
    }
    let no_content_type = Request::post("/")
        .body(Full::new(Bytes::from(FIREFOX_LEGACY)))
        .unwrap();
    send(&collector, no_content_type).await.assert_problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "CSP_REPORT_UNSUPPORTED_MEDIA_TYPE",
    );
    assert!(received.lock().unwrap().is_empty());
    assert_eq!(collector.stats().rejected, 6);
}

#[tokio::test]
async fn methods_other_than_post_are_405_with_allow() {
    let (collector, _) = collector();
    for method in [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::OPTIONS,
        Method::DELETE,
    ] {
        let request = Request::builder()
            .method(method.clone())
            .header("content-type", CSP_REPORT)
            .body(Full::new(Bytes::from(FIREFOX_LEGACY)))
            .unwrap();
        let answer = send(&collector, request).await;
        answer.assert_problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "CSP_REPORT_METHOD_NOT_ALLOWED",
        );
        assert_eq!(answer.headers["allow"], "POST", "{method}");
    }
}

/// A body that must never be read.
struct Untouchable;

impl Body for Untouchable {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        panic!("the body was read although Content-Length already exceeded the limit")
    }
}

#[tokio::test]
async fn too_large_by_content_length_is_413_without_reading() {
    let (collector, _) = collector();
    let collector = collector.max_body_size(1024);
    let request = Request::post("/")
        .header("content-type", CSP_REPORT)
        .header("content-length", "1025")
        .body(Untouchable)
        .unwrap();
    let answer = send(&collector, request).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "CSP_REPORT_TOO_LARGE");
    assert_eq!(answer.json()["max_body_size"], 1024);
}

#[tokio::test]
async fn too_large_by_exact_size_hint_is_413() {
    let (collector, _) = collector();
    let big = vec![b' '; 64 * 1024 + 1];
    let answer = send(&collector, post(CSP_REPORT, big)).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "CSP_REPORT_TOO_LARGE");
}

#[tokio::test]
async fn too_large_streamed_body_without_length_is_413() {
    let (collector, received) = collector();
    let collector = collector.max_body_size(100);
    let chunk = Bytes::from(vec![b' '; 40]);
    let request = Request::post("/")
        .header("content-type", CSP_REPORT)
        .body(Chunks::new((0..10).map(|_| Ok(chunk.clone()))))
        .unwrap();
    let answer = send(&collector, request).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "CSP_REPORT_TOO_LARGE");
    assert!(received.lock().unwrap().is_empty());

    // A streamed body within the limit is fine.
    let (collector, received) = self::collector();
    let (head, tail) = MDN_LEGACY.split_at(20);
    let request = Request::post("/")
        .header("content-type", CSP_REPORT)
        .body(Chunks::new([
            Ok(Bytes::from(head)),
            Ok(Bytes::new()),
            Ok(Bytes::from(tail)),
        ]))
        .unwrap();
    assert_eq!(
        send(&collector, request).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn lying_small_content_length_is_still_limited_while_reading() {
    let (collector, _) = collector();
    let collector = collector.max_body_size(64);
    let request = Request::post("/")
        .header("content-type", CSP_REPORT)
        .header("content-length", "10")
        .body(Chunks::new([Ok(Bytes::from(vec![b'x'; 65]))]))
        .unwrap();
    send(&collector, request)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "CSP_REPORT_TOO_LARGE");
}

#[tokio::test]
async fn body_error_is_400() {
    let (collector, _) = collector();
    let request = Request::post("/")
        .header("content-type", CSP_REPORT)
        .body(Chunks::new([
            Ok(Bytes::from("{\"csp-report\"")),
            Err(std::io::Error::other("connection reset")),
        ]))
        .unwrap();
    send(&collector, request)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "CSP_REPORT_BODY_UNREADABLE");
}

#[tokio::test]
async fn malformed_json_is_400() {
    let (collector, received) = collector();
    for (content_type, body) in [
        (CSP_REPORT, "{\"csp-report\": {"),
        (CSP_REPORT, "not json"),
        (CSP_REPORT, "{\"report\": {}}"),
        (CSP_REPORT, "[]"),
        (REPORTS_JSON, "[{\"type\": \"csp-violation\""),
        (REPORTS_JSON, "42"),
        (REPORTS_JSON, "\"csp-violation\""),
    ] {
        let answer = send(&collector, post(content_type, body)).await;
        answer.assert_problem(StatusCode::BAD_REQUEST, "CSP_REPORT_MALFORMED");
        assert!(answer.json()["detail"].is_string(), "{body}");
    }
    assert!(received.lock().unwrap().is_empty());
    assert_eq!(collector.stats().rejected, 7);
}

#[tokio::test]
async fn non_utf8_is_400() {
    let (collector, _) = collector();
    let mut body = FIREFOX_LEGACY.as_bytes().to_vec();
    body[30] = 0xff;
    send(&collector, post(CSP_REPORT, body))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "CSP_REPORT_NOT_UTF8");
    send(&collector, post(REPORTS_JSON, &b"\xc3\x28"[..]))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "CSP_REPORT_NOT_UTF8");
}

#[tokio::test]
async fn empty_body_is_400() {
    let (collector, _) = collector();
    for content_type in [CSP_REPORT, REPORTS_JSON] {
        send(&collector, post(content_type, Bytes::new()))
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "CSP_REPORT_EMPTY");
        send(&collector, post(content_type, " \r\n"))
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "CSP_REPORT_EMPTY");
    }
}

#[tokio::test]
async fn duplicates_are_dropped_within_the_window_and_accepted_after() {
    let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
    let (collector, received) = collector();
    let collector = collector
        .clock(clock.clone())
        .dedup_window(Duration::from_secs(60));

    for _ in 0..3 {
        let answer = send(&collector, post(CSP_REPORT, FIREFOX_LEGACY)).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(received.lock().unwrap().len(), 1);

    clock.advance(Duration::from_secs(59));
    send(&collector, post(CSP_REPORT, FIREFOX_LEGACY)).await;
    assert_eq!(received.lock().unwrap().len(), 1);

    // A different blocked URL on the same page is a different violation.
    let other = FIREFOX_LEGACY.replace("\"blocked-uri\":\"inline\"", "\"blocked-uri\":\"eval\"");
    send(&collector, post(CSP_REPORT, other)).await;
    assert_eq!(received.lock().unwrap().len(), 2);

    clock.advance(Duration::from_secs(1));
    send(&collector, post(CSP_REPORT, FIREFOX_LEGACY)).await;
    assert_eq!(received.lock().unwrap().len(), 3);

    assert_eq!(counts(collector.stats()), (3, 3, 0, 0));
}

#[tokio::test]
async fn zero_window_disables_deduplication() {
    let (collector, received) = collector();
    let collector = collector.dedup_window(Duration::ZERO);
    for _ in 0..3 {
        send(&collector, post(CSP_REPORT, FIREFOX_LEGACY)).await;
    }
    assert_eq!(received.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn clones_share_dedup_memory_and_counters() {
    let (collector, received) = collector();
    let clone = collector.clone();
    send(&collector, post(CSP_REPORT, FIREFOX_LEGACY)).await;
    send(&clone, post(CSP_REPORT, FIREFOX_LEGACY)).await;
    send(&clone, post("text/plain", "x")).await;
    assert_eq!(received.lock().unwrap().len(), 1);
    assert_eq!(counts(collector.stats()), (1, 1, 1, 0));
    assert_eq!(collector.stats(), clone.stats());
}

#[tokio::test]
async fn default_handler_accepts() {
    let collector = CspReportCollector::new();
    let answer = send(&collector, post(REPORTS_JSON, CHROME_REPORTING_API)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(collector.stats().accepted, 2);
    assert!(format!("{collector:?}").contains("LogOnly"));
}
