//! A flood of reports: bounded per request, and logged as one line per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use portcullis_security_headers::report::{
    CspReportCollector, CspViolation, DEFAULT_MAX_REPORTS_PER_REQUEST,
};
use tower::ServiceExt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Counts the `warn` events (and the bytes of their fields) of the collector.
#[derive(Clone, Default)]
struct WarnCounter {
    events: Arc<AtomicUsize>,
    bytes: Arc<AtomicUsize>,
}

struct FieldBytes<'a>(&'a AtomicUsize);

impl tracing::field::Visit for FieldBytes<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let text = format!("{}={value:?}", field.name());
        self.0.fetch_add(text.len(), Ordering::Relaxed);
    }
}

impl<S: Subscriber> Layer<S> for WarnCounter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() <= Level::WARN {
            self.events.fetch_add(1, Ordering::Relaxed);
            event.record(&mut FieldBytes(&self.bytes));
        }
    }
}

/// A Reporting API batch of `count` distinct violations.
fn batch(count: usize, seed: usize) -> String {
    let reports: Vec<String> = (0..count)
        .map(|i| {
            format!(
                r#"{{"type":"csp-violation","url":"https://example.com/","body":{{"documentURL":"https://example.com/p{seed}","effectiveDirective":"script-src-elem","blockedURL":"https://evil.example/{seed}/{i}.js","disposition":"enforce"}}}}"#
            )
        })
        .collect();
    format!("[{}]", reports.join(","))
}

fn post(body: String) -> Request<Full<Bytes>> {
    Request::post("/csp-reports")
        .header("content-type", "application/reports+json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_distinct_reports_is_capped_and_logged_once_per_request() {
    let counter = WarnCounter::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(counter.clone()));
    let handled = Arc::new(AtomicUsize::new(0));
    let sink = handled.clone();
    let collector = CspReportCollector::new().handler(move |_: CspViolation| {
        sink.fetch_add(1, Ordering::Relaxed);
    });

    const REQUESTS: usize = 50;
    const PER_REQUEST: usize = 200;
    for seed in 0..REQUESTS {
        let response = collector
            .clone()
            .oneshot(post(batch(PER_REQUEST, seed)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    let events = counter.events.load(Ordering::Relaxed);
    let bytes = counter.bytes.load(Ordering::Relaxed);
    let stats = collector.stats();
    println!(
        "{REQUESTS} requests of {PER_REQUEST} distinct reports: {events} warn lines, {bytes} bytes of fields; accepted {}, over the cap {}",
        stats.accepted, stats.over_limit
    );
    assert_eq!(DEFAULT_MAX_REPORTS_PER_REQUEST, 20);
    assert_eq!(events, REQUESTS, "one warn line per request");
    assert!(
        bytes < REQUESTS * 2_000,
        "a line stays short: {bytes} bytes"
    );
    let capped = (REQUESTS * DEFAULT_MAX_REPORTS_PER_REQUEST) as u64;
    assert_eq!(stats.accepted, capped);
    assert_eq!(handled.load(Ordering::Relaxed) as u64, capped);
    assert_eq!(
        stats.over_limit,
        (REQUESTS * (PER_REQUEST - DEFAULT_MAX_REPORTS_PER_REQUEST)) as u64
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_cap_is_configurable_and_a_single_report_is_one_line() {
    let counter = WarnCounter::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(counter.clone()));
    let collector = CspReportCollector::new().max_reports_per_request(3);
    let response = collector.clone().oneshot(post(batch(5, 0))).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        (collector.stats().accepted, collector.stats().over_limit),
        (3, 2)
    );
    let response = collector.clone().oneshot(post(batch(1, 1))).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(counter.events.load(Ordering::Relaxed), 2);
    // Only duplicates: nothing new to warn about.
    let response = collector.clone().oneshot(post(batch(1, 1))).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(collector.stats().duplicates, 1);
    assert_eq!(counter.events.load(Ordering::Relaxed), 2);
}
