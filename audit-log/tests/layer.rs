//! The layer end to end: two phases, panics, dropped futures, fail-closed, overflow,
//! bodies, context, and the 2N count under concurrent load.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{actions, body_string, echo, file_records, memory_sink, parse};
use http::{Request, Response, StatusCode};
use portcullis_audit_log::body::AuditBody;
use portcullis_audit_log::context::AuditContext;
use portcullis_audit_log::delivery::SinkOptions;
use portcullis_audit_log::layer::{AuditLayer, PanicPolicy};
use portcullis_audit_log::level::Level;
use portcullis_audit_log::record::Principal;
use portcullis_audit_log::sink::{Batch, CallbackSink, FileSink, SinkError};
use portcullis_audit_log::verify::{VerifyOptions, verify_files};
use portcullis_core::client_ip::{PeerAddr, TrustedProxies};
use portcullis_core::problem::Problem;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

fn get(uri: &str) -> Request<String> {
    Request::get(uri).body(String::new()).unwrap()
}

#[tokio::test]
async fn request_and_response_records_are_correlated_and_ecs_shaped() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new()
        .trusted_proxies(TrustedProxies::private_networks())
        .sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |request: Request<AuditBody<String>>| async move {
            // The id is in the extensions, and the context can be filled.
            let id = request
                .extensions()
                .get::<portcullis_audit_log::request_id::RequestId>()
                .unwrap()
                .clone();
            request
                .extensions()
                .get::<AuditContext>()
                .unwrap()
                .set_user_id("ada");
            let mut response = Response::new(id.to_string());
            *response.status_mut() = StatusCode::CREATED;
            Ok::<_, Infallible>(response)
        },
    ));
    let mut request = Request::post("/v1/invoices?page=2&token=t0p")
        .header("x-request-id", "req-7")
        .header("user-agent", "curl/8")
        .header("x-forwarded-for", "198.51.100.7")
        .body(String::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(PeerAddr("10.0.0.2:4000".parse().unwrap()));
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-request-id"], "req-7");
    assert_eq!(body_string(response.into_body()).await, "req-7");

    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(actions(&records), ["request", "response"]);
    let (request, response) = (&records[0], &records[1]);
    assert_eq!(request["event"]["id"], "req-7:request");
    assert_eq!(response["event"]["id"], "req-7:response");
    assert_eq!(request["http"]["request"]["id"], "req-7");
    assert_eq!(response["http"]["request"]["id"], "req-7");
    assert_eq!(request["event"]["outcome"], "unknown");
    assert_eq!(response["event"]["outcome"], "success");
    assert!(response["event"]["duration"].is_u64());
    assert_eq!(request["http"]["request"]["method"], "POST");
    assert_eq!(request["url"]["path"], "/v1/invoices");
    let query = request["url"]["query"].as_str().unwrap();
    assert!(query.starts_with("page=2&token=hmac-sha256:"), "{query}");
    assert_eq!(request["source"]["ip"], "198.51.100.7");
    assert_eq!(request["user_agent"]["original"], "curl/8");
    assert_eq!(response["http"]["response"]["status_code"], 201);
    assert_eq!(response["user"]["id"], "ada");
    assert!(request["user"].is_null(), "the user was only known inside");
    assert!(request.get("seq").is_none(), "no chain unless asked");
}

#[tokio::test]
async fn a_request_id_is_honoured_only_from_a_trusted_proxy() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new()
        .trusted_proxies(TrustedProxies::private_networks())
        .sink(sink);
    let handle = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(calls.clone(), request));
    let from = |peer: &str, id: &str| {
        let mut request = Request::get("/")
            .header("x-request-id", id)
            .body(String::new())
            .unwrap();
        request
            .extensions_mut()
            .insert(PeerAddr(peer.parse().unwrap()));
        request
    };
    // A client on the internet picks its id: it is kept aside, not used.
    let response = app
        .clone()
        .oneshot(from("203.0.113.9:5000", "forged-id"))
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(generated, "forged-id");
    assert_eq!(generated.len(), 36);
    // The proxy's id is the request's id.
    let response = app
        .clone()
        .oneshot(from("10.0.0.2:4000", "proxy-id"))
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "proxy-id");
    // A request without a known peer is not trusted either.
    let response = app.oneshot(get_with_id("no-peer-id")).await.unwrap();
    assert_ne!(response.headers()["x-request-id"], "no-peer-id");
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    let forged = &records[0];
    assert_eq!(forged["http"]["request"]["id"], generated.as_str());
    assert_eq!(forged["event"]["id"], format!("{generated}:request"));
    assert_eq!(forged["portcullis"]["client_request_id"], "forged-id");
    let proxied = records
        .iter()
        .find(|record| record["http"]["request"]["id"] == "proxy-id")
        .unwrap();
    assert!(
        proxied["portcullis"]["client_request_id"].is_null(),
        "{proxied}"
    );
}

fn get_with_id(id: &str) -> Request<String> {
    Request::get("/")
        .header("x-request-id", id)
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn invalid_request_ids_are_replaced_by_generated_ones() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new().sink(sink);
    let handle = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(calls.clone(), request));
    let request = Request::get("/")
        .header("x-request-id", "has space")
        .body(String::new())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36);
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(records[0]["http"]["request"]["id"], id.as_str());
}

#[tokio::test]
async fn a_panicking_handler_leaves_a_request_and_a_panic_record() {
    // Re-raised (the default).
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new().sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |_: Request<AuditBody<String>>| async {
            if true {
                panic!("handler bug");
            }
            Ok::<_, Infallible>(Response::new(String::new()))
        },
    ));
    let joined = tokio::spawn(app.oneshot(get("/boom"))).await;
    assert!(joined.unwrap_err().is_panic());
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(actions(&records), ["request", "panic"]);
    assert_eq!(records[1]["event"]["outcome"], "failure");
    assert_eq!(records[1]["error"]["type"], "panic");
    assert!(!lines.lock().unwrap().join("\n").contains("handler bug"));
    assert_eq!(handle.metrics().panics, 1);
    assert_eq!(handle.metrics().cancelled, 0);

    // Answered 500.
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new().on_panic(PanicPolicy::Respond).sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |_: Request<AuditBody<String>>| async {
            if true {
                panic!("handler bug");
            }
            Ok::<_, Infallible>(Response::new(String::new()))
        },
    ));
    let response = app.oneshot(get("/boom")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.extensions().get::<Problem>().unwrap().code(),
        "INTERNAL_ERROR"
    );
    handle.flush().await.unwrap();
    assert_eq!(
        actions(&parse(&lines.lock().unwrap())),
        ["request", "panic"]
    );
}

#[tokio::test]
async fn a_dropped_response_future_leaves_a_cancelled_record() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new().sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |_: Request<AuditBody<String>>| async {
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(String::new()))
        },
    ));
    // The client gives up after 20 ms.
    let outcome = tokio::time::timeout(Duration::from_millis(20), app.oneshot(get("/slow"))).await;
    assert!(outcome.is_err());
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(actions(&records), ["request", "cancelled"]);
    assert_eq!(records[1]["error"]["type"], "client_gone");
    assert_eq!(records[1]["event"]["outcome"], "unknown");
    assert_eq!(handle.metrics().cancelled, 1);
}

#[tokio::test]
async fn an_inner_error_is_recorded_as_a_failed_response() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new().sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |_: Request<AuditBody<String>>| async { Err::<Response<String>, _>("down") },
    ));
    assert_eq!(app.oneshot(get("/")).await.unwrap_err(), "down");
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(actions(&records), ["request", "response"]);
    assert_eq!(records[1]["error"]["type"], "service_error");
    assert_eq!(records[1]["event"]["outcome"], "failure");
}

#[tokio::test]
async fn fail_closed_with_a_failing_sink_answers_503_and_never_runs_the_handler() {
    let failing = CallbackSink::new(|_: &Batch<'_>| Err(SinkError::other("disk full")));
    let (copy, lines) = memory_sink();
    let layer = AuditLayer::new()
        .sink_with(failing, SinkOptions::fail_closed())
        .sink_with(copy, SinkOptions::fail_open());
    let handle = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(counter.clone(), request));
    for _ in 0..3 {
        let response = app.clone().oneshot(get("/v1/transfer")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(
            response.extensions().get::<Problem>().unwrap().code(),
            "AUDIT_UNAVAILABLE"
        );
        let body: serde_json::Value =
            serde_json::from_str(&body_string(response.into_body()).await).unwrap();
        assert_eq!(body["code"], "AUDIT_UNAVAILABLE");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler never ran");
    handle.flush().await.unwrap();
    let metrics = handle.metrics();
    assert_eq!(metrics.rejected, 3);
    assert_eq!(metrics.sinks[0].failed, 6);
    // The fail-open copy saw each attempt and its refusal.
    let records = parse(&lines.lock().unwrap());
    assert_eq!(records.len(), 6);
    assert_eq!(records[1]["http"]["response"]["status_code"], 503);
    assert_eq!(
        records[1]["portcullis"]["rejection"]["code"],
        "AUDIT_UNAVAILABLE"
    );
}

#[tokio::test]
async fn fail_closed_with_a_hung_sink_times_out_with_503() {
    let hung = CallbackSink::new(|_: &Batch<'_>| {
        std::thread::sleep(Duration::from_secs(2));
        Ok(())
    });
    let layer = AuditLayer::new().sink_with(
        hung,
        SinkOptions::fail_closed().write_timeout(Duration::from_millis(100)),
    );
    let handle = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(counter.clone(), request));
    let started = std::time::Instant::now();
    let response = app.oneshot(get("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(handle.metrics().timed_out, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_writes_the_request_record_before_the_handler_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let layer = AuditLayer::new()
        .failure_policy(portcullis_audit_log::delivery::FailurePolicy::FailClosed)
        .fsync_per_batch(true)
        .sink(FileSink::open(&path).unwrap());
    let handle = layer.handle();
    let seen = Arc::new(Mutex::new(String::new()));
    let snapshot = seen.clone();
    let file = path.clone();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        move |_: Request<AuditBody<String>>| {
            // What is on disk when the handler starts.
            *snapshot.lock().unwrap() = std::fs::read_to_string(&file).unwrap();
            async { Ok::<_, Infallible>(Response::new(String::new())) }
        },
    ));
    let response = app.oneshot(get("/v1/admin/users")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let on_disk = seen.lock().unwrap().clone();
    assert_eq!(
        actions(&parse(
            &on_disk.lines().map(str::to_owned).collect::<Vec<_>>()
        )),
        ["request"]
    );
    // And the response record is on disk before the response is returned.
    assert_eq!(actions(&file_records(&[&path])), ["request", "response"]);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn fail_open_overflow_is_counted_and_never_blocks() {
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let blocked = CallbackSink::new(move |_: &Batch<'_>| {
        // The first batch waits until the test lets it go.
        let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(5));
        Ok(())
    });
    let layer = AuditLayer::new().sink_with(
        blocked,
        SinkOptions::fail_open().queue_capacity(4).max_batch(1),
    );
    let handle = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(counter.clone(), request));
    for _ in 0..50 {
        let response = app.clone().oneshot(get("/")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        50,
        "requests never wait in fail-open"
    );
    let metrics = handle.metrics();
    let sink = &metrics.sinks[0];
    assert_eq!(sink.enqueued, 100);
    // One record in the writer's hands, four queued, the rest dropped.
    assert!(sink.overflowed >= 95 - 1, "{sink:?}");
    assert_eq!(metrics.overflowed(), sink.overflowed);
    for _ in 0..10 {
        let _ = release.send(());
    }
    handle.flush().await.unwrap();
    let metrics = handle.metrics();
    assert_eq!(metrics.sinks[0].written + metrics.sinks[0].overflowed, 100);
}

#[tokio::test]
async fn request_bodies_are_captured_redacted_and_still_reach_the_handler() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new()
        .level(Level::Request)
        .body_limit(64)
        .hmac_secret(b"s")
        .sink(sink);
    let secret_hash = layer.hash_for_search("hunter2");
    let handle = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(counter.clone(), request));

    let json = r#"{"user":"ada","password":"hunter2"}"#;
    let request = Request::post("/login")
        .header("content-type", "application/json")
        .header("authorization", "Bearer abc")
        .body(json.to_owned())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(
        body_string(response.into_body()).await,
        json,
        "the handler got the body"
    );

    // Longer than the cap: streamed through whole, recorded as length and hash.
    let long = "x".repeat(1_000);
    let request = Request::post("/upload")
        .header("content-type", "text/plain")
        .body(long.clone())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(body_string(response.into_body()).await, long);

    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    let body = &records[0]["http"]["request"]["body"];
    let content: serde_json::Value =
        serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["user"], "ada");
    assert_eq!(content["password"], secret_hash.as_str());
    let authorization = records[0]["http"]["request"]["headers"]["authorization"]
        .as_str()
        .unwrap();
    assert!(authorization.starts_with("hmac-sha256:"));
    let upload = &records[2]["http"]["request"]["body"];
    assert_eq!(upload["bytes"], 64);
    assert_eq!(upload["truncated"], true);
    assert!(upload["content"].is_null());
    assert!(upload["hash"].as_str().unwrap().starts_with("hmac-sha256:"));
    assert!(
        records[1]["http"]["request"].get("body").is_none(),
        "bodies only in request records"
    );
}

#[tokio::test]
async fn request_response_level_captures_the_response_body_and_headers() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new().level(Level::RequestResponse).sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |_: Request<AuditBody<String>>| async {
            let mut response = Response::new(r#"{"access_token":"tok-1","id":7}"#.to_owned());
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            response
                .headers_mut()
                .insert("set-cookie", "session=s3cr3t".parse().unwrap());
            Ok::<_, Infallible>(response)
        },
    ));
    let response = app.oneshot(get("/token")).await.unwrap();
    assert_eq!(
        body_string(response.into_body()).await,
        r#"{"access_token":"tok-1","id":7}"#
    );
    handle.flush().await.unwrap();
    let text = lines.lock().unwrap().join("\n");
    assert!(
        !text.contains("tok-1") && !text.contains("s3cr3t"),
        "{text}"
    );
    let records = parse(&lines.lock().unwrap());
    let response = &records[1]["http"]["response"];
    assert!(
        response["body"]["content"]
            .as_str()
            .unwrap()
            .contains(r#""id":7"#)
    );
    assert!(
        response["headers"]["set-cookie"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
}

#[tokio::test]
async fn levels_per_route_and_context_from_other_layers() {
    #[derive(Clone)]
    struct ApiKeyContext {
        key_id: String,
        tenant_id: String,
    }
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new()
        .level_for(|_, uri| {
            if uri.path() == "/healthz" {
                Level::None
            } else {
                Level::Metadata
            }
        })
        .enrich(|extensions, record| {
            if let Some(key) = extensions.get::<ApiKeyContext>() {
                record.principal.api_key_id = Some(key.key_id.clone());
                record.principal.tenant_id = Some(key.tenant_id.clone());
            }
            record.label("service", "billing");
        })
        .sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |_: Request<AuditBody<String>>| async {
            let mut response = Response::new(String::new());
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response.extensions_mut().insert(ApiKeyContext {
                key_id: "key_123".into(),
                tenant_id: "acme".into(),
            });
            response.extensions_mut().insert(Principal::user("svc-bot"));
            response.extensions_mut().insert(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "QUOTA_EXCEEDED",
                "Quota exceeded",
            ));
            Ok::<_, Infallible>(response)
        },
    ));
    let response = app.clone().oneshot(get("/healthz")).await.unwrap();
    assert!(
        response.headers().contains_key("x-request-id"),
        "ids even when not audited"
    );
    app.oneshot(get("/v1/quote")).await.unwrap();
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert_eq!(records.len(), 2, "the health check is not audited");
    let response = &records[1];
    assert_eq!(response["portcullis"]["api_key"]["id"], "key_123");
    assert_eq!(response["organization"]["id"], "acme");
    assert_eq!(response["user"]["id"], "svc-bot");
    assert_eq!(
        response["portcullis"]["rejection"]["code"],
        "QUOTA_EXCEEDED"
    );
    assert_eq!(response["event"]["outcome"], "failure");
    assert_eq!(response["labels"]["service"], "billing");
}

#[cfg(feature = "rate-limit")]
#[tokio::test]
async fn the_rate_limit_decision_is_recorded() {
    use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new().sink(sink);
    let handle = layer.handle();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |_: Request<AuditBody<String>>| async {
            let plan = Arc::new(Plan::free());
            let mut states = [QuotaState::default(); 2];
            for _ in 0..10 {
                plan.check(&mut states, 0, 1);
            }
            let outcome = plan.check(&mut states, 0, 1);
            let mut response = Response::new(String::new());
            response
                .extensions_mut()
                .insert(Decision::new(plan, outcome, 1, 0, false));
            Ok::<_, Infallible>(response)
        },
    ));
    app.oneshot(get("/")).await.unwrap();
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    let limit = &records[1]["portcullis"]["rate_limit"];
    assert_eq!(limit["plan"], "free");
    assert_eq!(limit["allowed"], false);
    assert_eq!(limit["violated"], serde_json::json!(["minute"]));
    assert_eq!(limit["shadow"], false);
}

/// 64 tasks × 50 requests, then shutdown: exactly 2N records, every request paired,
/// and the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_load_then_shutdown_leaves_exactly_two_records_per_request() {
    const TASKS: usize = 64;
    const PER_TASK: usize = 50;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let layer = AuditLayer::new()
        .queue_capacity(2 * TASKS * PER_TASK)
        .hash_chain(true)
        .sink(FileSink::open(&path).unwrap());
    let handle = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(counter.clone(), request));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let mut app = app.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..PER_TASK {
                let request = get(&format!("/v1/items/{task}/{n}"));
                let response = app.ready().await.unwrap().call(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    handle.shutdown().await.unwrap();
    // Offered after shutdown: refused, counted, not written.
    app.clone().oneshot(get("/late")).await.unwrap();

    let n = TASKS * PER_TASK;
    assert_eq!(calls.load(Ordering::SeqCst), n + 1);
    let records = file_records(&[&path]);
    assert_eq!(records.len(), 2 * n);
    let mut ids = std::collections::HashMap::<String, Vec<String>>::new();
    for record in &records {
        ids.entry(record["http"]["request"]["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(record["event"]["action"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), n);
    assert!(
        ids.values()
            .all(|phases| phases == &["request", "response"])
    );
    let metrics = handle.metrics();
    assert_eq!(metrics.written(), 2 * n as u64);
    assert_eq!(metrics.overflowed(), 0);
    assert_eq!(metrics.failed(), 2, "the late request's two records");
    let report = verify_files(&[&path], &VerifyOptions::new().integrity_only(true)).unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
}

#[tokio::test]
async fn an_inner_layers_request_context_reaches_the_closing_record() {
    #[derive(Clone)]
    struct ApiKeyContext {
        key_id: String,
        tenant_id: String,
    }
    let (sink, lines) = memory_sink();
    let audit = AuditLayer::new()
        .enrich(|extensions, record| {
            if let Some(key) = extensions.get::<ApiKeyContext>() {
                record.principal.api_key_id = Some(key.key_id.clone());
                record.principal.tenant_id = Some(key.tenant_id.clone());
            }
        })
        .sink(sink);
    let handle = audit.handle();
    let app = ServiceBuilder::new()
        .layer(audit.clone())
        // Stands in for the API-key layer: context in the request extensions only.
        .map_request(|mut request: Request<AuditBody<String>>| {
            request.extensions_mut().insert(ApiKeyContext {
                key_id: "key_9".into(),
                tenant_id: "initech".into(),
            });
            request
        })
        .layer(audit.enrich_layer())
        .service(service_fn(|_: Request<AuditBody<String>>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    app.oneshot(get("/v1/quote")).await.unwrap();
    handle.flush().await.unwrap();
    let records = parse(&lines.lock().unwrap());
    assert!(records[0]["portcullis"]["api_key"].is_null());
    assert_eq!(records[1]["portcullis"]["api_key"]["id"], "key_9");
    assert_eq!(records[1]["organization"]["id"], "initech");
}
