//! Decisions per request: its failure policy (privileged routes fail closed, written
//! ahead), the sinks' health, the level decided after the response, and the trace
//! context recorded.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{actions, body_string, echo, memory_sink, parse};
use http::{Method, Request, Response, StatusCode, Uri};
use portcullis_audit_log::body::AuditBody;
use portcullis_audit_log::delivery::{FailurePolicy, SinkOptions, SinkStatus};
use portcullis_audit_log::layer::{AuditLayer, PanicPolicy};
use portcullis_audit_log::level::{Level, Outcome};
use portcullis_audit_log::sink::{Batch, CallbackSink, SinkError};
use portcullis_core::problem::Problem;
use tower::{ServiceBuilder, ServiceExt, service_fn};

fn admin_fails_closed(_: &Method, uri: &Uri) -> FailurePolicy {
    if uri.path().starts_with("/admin/") {
        FailurePolicy::FailClosed
    } else {
        FailurePolicy::FailOpen
    }
}

/// A sink whose writes fail while `full` is set, keeping what it wrote.
fn switchable_sink(
    full: Arc<AtomicBool>,
) -> (
    CallbackSink<impl FnMut(&Batch<'_>) -> Result<(), SinkError> + Send>,
    common::Lines,
) {
    let lines: common::Lines = Arc::default();
    let kept = lines.clone();
    let sink = CallbackSink::new(move |batch: &Batch<'_>| {
        if full.load(Ordering::SeqCst) {
            return Err(SinkError::other("no space left on device"));
        }
        kept.lock()
            .unwrap()
            .extend(batch.lines().map(|line| line.json.to_owned()));
        Ok(())
    });
    (sink, lines)
}

fn request(method: Method, uri: &str) -> Request<String> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn privileged_requests_fail_closed_while_the_rest_fails_open() {
    let full = Arc::new(AtomicBool::new(true));
    let (sink, lines) = switchable_sink(full.clone());
    let layer = AuditLayer::new()
        .failure_policy_for(admin_fails_closed)
        .sink(sink);
    let handle = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(counter.clone(), request));

    // The sink fails: every admin request is refused before its handler runs.
    for _ in 0..20 {
        let response = app
            .clone()
            .oneshot(request(Method::POST, "/admin/tenants"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.extensions().get::<Problem>().unwrap().code(),
            "AUDIT_UNAVAILABLE"
        );
        let body: serde_json::Value =
            serde_json::from_str(&body_string(response.into_body()).await).unwrap();
        assert_eq!(body["code"], "AUDIT_UNAVAILABLE");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no admin handler ran");
    // The customer API goes on, unrecorded.
    for _ in 0..20 {
        let response = app
            .clone()
            .oneshot(request(Method::GET, "/v1/quote"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 20);
    let _ = handle.flush().await;
    assert_eq!(handle.metrics().rejected, 20);
    let health = handle.health();
    assert_eq!(health.sinks[0].status, SinkStatus::Failing);
    assert!(!health.is_ok());
    assert!(health.sinks[0].failures_in_a_row >= 1);
    assert!(health.sinks[0].failing_since.is_some());

    // Room again: the next admin request is recorded, and admitted.
    full.store(false, Ordering::SeqCst);
    let response = app
        .clone()
        .oneshot(request(Method::POST, "/admin/tenants"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 21);
    assert!(handle.health().is_ok(), "{:?}", handle.health());
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(actions(&records), ["request", "response"]);
    assert_eq!(records[0]["url"]["path"], "/admin/tenants");
}

#[tokio::test]
async fn sinks_with_options_of_their_own_keep_their_policy() {
    // A fail-open copy added with `sink_with` is not made fail-closed by the rule; the
    // evidence sink added with `sink` is.
    let failing = CallbackSink::new(|_: &Batch<'_>| Err(SinkError::other("down")));
    let (evidence, lines) = memory_sink();
    let layer = AuditLayer::new()
        .failure_policy_for(admin_fails_closed)
        .sink(evidence)
        .sink_with(failing, SinkOptions::fail_open().name("copy"));
    let handle = layer.handle();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(|request| echo(Arc::default(), request));
    let response = app
        .oneshot(request(Method::DELETE, "/admin/keys/key_1"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    handle.flush().await.unwrap();
    assert_eq!(
        actions(&parse(&lines.lock().unwrap())),
        ["request", "response"]
    );
    let health = handle.health();
    assert_eq!(health.sinks[0].status, SinkStatus::Ok);
    assert_eq!(health.sinks[1].status, SinkStatus::Failing);
    assert_eq!(health.sinks[1].name, "copy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_record_that_cannot_be_written_leaves_the_handlers_answer() {
    // Written ahead: the request record is in; the sink fails from then on. The action
    // ran, so its answer stands (a 503 would say it did not).
    let writes = Arc::new(AtomicUsize::new(0));
    let count = writes.clone();
    let sink = CallbackSink::new(move |_: &Batch<'_>| {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            Ok(())
        } else {
            Err(SinkError::other("no space left on device"))
        }
    });
    let layer = AuditLayer::new()
        .failure_policy(FailurePolicy::FailClosed)
        .sink(sink);
    let handle = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(counter.clone(), request));
    let response = app
        .oneshot(
            Request::post("/admin/keys/key_1/rotate")
                .body(String::from("new key"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_string(response.into_body()).await, "new key");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let metrics = handle.metrics();
    assert_eq!(metrics.unconfirmed, 1);
    assert_eq!(metrics.rejected, 0);
    assert_eq!(writes.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_stuck_sink_is_reported_stalled() {
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let stuck = CallbackSink::new(move |_: &Batch<'_>| {
        let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(30));
        Ok(())
    });
    let layer = AuditLayer::new().sink_with(
        stuck,
        SinkOptions::fail_open().write_timeout(Duration::from_millis(50)),
    );
    let handle = layer.handle();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(|request| echo(Arc::default(), request));
    app.oneshot(request(Method::GET, "/v1/quote"))
        .await
        .unwrap();
    // Stalled once the write has taken longer than the timeout (polled: no sleep
    // decides the outcome).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while handle.health().sinks[0].status != SinkStatus::Stalled {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            handle.health()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    release.send(()).unwrap();
    handle.flush().await.unwrap();
    assert_eq!(handle.health().sinks[0].status, SinkStatus::Ok);
}

/// Every admin request; of the customer API, only what was denied; and of failures,
/// no bodies.
fn denied_v1_and_all_admin(outcome: &Outcome<'_>) -> Level {
    let path = outcome.uri.path();
    let denied = matches!(
        outcome.status.map(|status| status.as_u16()),
        Some(401 | 403 | 429)
    ) || outcome.problem_code.is_some();
    if path.starts_with("/admin/") {
        outcome.level
    } else if denied || outcome.status.is_none() {
        Level::Metadata
    } else {
        Level::None
    }
}

#[tokio::test]
async fn the_level_is_decided_again_from_the_outcome() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new()
        .level(Level::Request)
        .level_after_response(denied_v1_and_all_admin)
        .sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |request: Request<AuditBody<String>>| async move {
            let response = match request.uri().path() {
                "/v1/denied" => Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "QUOTA_EXCEEDED",
                    "Quota exceeded",
                )
                .into_http_response::<http_body_util::Empty<bytes::Bytes>>()
                .map(|_| String::new()),
                "/v1/unauthorized" => {
                    let mut response = Response::new(String::new());
                    *response.status_mut() = StatusCode::UNAUTHORIZED;
                    response
                }
                _ => Response::new(String::from("ok")),
            };
            Ok::<_, Infallible>(response)
        },
    ));
    let send = |uri: &str| {
        Request::post(uri)
            .header("content-type", "application/json")
            .header("x-note", "kept only at request level")
            .body(String::from(r#"{"n":1}"#))
            .unwrap()
    };
    for uri in [
        "/v1/ok",
        "/v1/denied",
        "/v1/unauthorized",
        "/admin/tenants",
        "/v1/ok",
    ] {
        let _ = app.clone().oneshot(send(uri)).await.unwrap();
    }
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    let paths: Vec<(&str, &str)> = records
        .iter()
        .map(|record| {
            (
                record["url"]["path"].as_str().unwrap(),
                record["event"]["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            ("/v1/denied", "request"),
            ("/v1/denied", "response"),
            ("/v1/unauthorized", "request"),
            ("/v1/unauthorized", "response"),
            ("/admin/tenants", "request"),
            ("/admin/tenants", "response"),
        ]
    );
    // Lowered to metadata: the headers and body captured are dropped.
    assert!(
        records[0]["http"]["request"]["headers"].is_null(),
        "{}",
        records[0]
    );
    assert!(records[0]["http"]["request"]["body"].is_null());
    assert_eq!(
        records[1]["portcullis"]["rejection"]["code"],
        "QUOTA_EXCEEDED"
    );
    // Kept at its level: the admin request has its headers and body.
    assert_eq!(
        records[4]["http"]["request"]["headers"]["x-note"],
        "kept only at request level"
    );
    assert_eq!(
        records[4]["http"]["request"]["body"]["content"],
        r#"{"n":1}"#
    );
    assert_eq!(handle.metrics().skipped, 2);
}

#[tokio::test]
async fn without_a_response_the_rule_still_decides() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new()
        .on_panic(PanicPolicy::Respond)
        .level_after_response(denied_v1_and_all_admin)
        .sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |request: Request<AuditBody<String>>| async move {
            if request.uri().path() == "/v1/panic" {
                panic!("boom");
            }
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(String::new()))
        },
    ));
    let response = app
        .clone()
        .oneshot(request(Method::GET, "/v1/panic"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // A client that goes away.
    let pending = app.oneshot(request(Method::GET, "/v1/slow"));
    let _ = tokio::time::timeout(Duration::from_millis(20), pending).await;
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(
        actions(&records),
        ["request", "panic", "request", "cancelled"]
    );
    assert_eq!(records[1]["error"]["type"], "panic");
    assert_eq!(records[3]["error"]["type"], "client_gone");
}

#[tokio::test]
async fn fail_closed_requests_are_written_ahead_whatever_the_rule_says() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new()
        .failure_policy_for(admin_fails_closed)
        .level_after_response(|_| Level::None)
        .sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(|request| echo(Arc::default(), request));
    for uri in ["/admin/tenants", "/v1/quote"] {
        let _ = app
            .clone()
            .oneshot(request(Method::POST, uri))
            .await
            .unwrap();
    }
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(actions(&records), ["request", "response"]);
    assert_eq!(records[0]["url"]["path"], "/admin/tenants");
    assert_eq!(handle.metrics().skipped, 1);
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn a_valid_traceparent_puts_trace_and_span_ids_on_every_record() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new().sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(|request| echo(Arc::default(), request));
    let hostile = [
        TRACEPARENT.to_uppercase(),
        format!("{TRACEPARENT}-extra"),
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_owned(),
        format!("{}{}", "0".repeat(4000), TRACEPARENT),
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        "\u{7f}".to_owned(),
        String::new(),
    ];
    let with = |value: &str| {
        Request::get("/v1/quote")
            .header("traceparent", value)
            .body(String::new())
            .unwrap()
    };
    let response = app.clone().oneshot(with(TRACEPARENT)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for value in &hostile {
        let request = match http::HeaderValue::from_str(value) {
            Ok(_) => with(value),
            Err(_) => request(Method::GET, "/v1/quote"),
        };
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{value:?}");
    }
    // Two headers: none is believed.
    let mut twice = with(TRACEPARENT);
    twice
        .headers_mut()
        .append("traceparent", TRACEPARENT.parse().unwrap());
    assert_eq!(app.oneshot(twice).await.unwrap().status(), StatusCode::OK);
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(records.len(), 2 * (2 + hostile.len()));
    for record in &records[..2] {
        assert_eq!(record["trace"]["id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(record["span"]["id"], "00f067aa0ba902b7");
    }
    for record in &records[2..] {
        assert!(record.get("trace").is_none(), "{record}");
        assert!(record.get("span").is_none(), "{record}");
    }
}
