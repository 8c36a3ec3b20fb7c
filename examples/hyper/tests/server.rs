//! The example server over real TCP on loopback, as an HTTP client sees it: the
//! binary itself, then the library's `serve` with a manual clock and an in-memory
//! audit sink so every assertion is exact.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_example::{App, serve};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portcullis_api_keys::format::{Environment, KeyFormat};
use portcullis_api_keys::id::TenantId;
use portcullis_api_keys::lifecycle::NewKey;
use portcullis_audit_log::delivery::AuditHandle;
use portcullis_audit_log::layer::AuditLayer;
use portcullis_audit_log::sink::ChannelSink;
use portcullis_core::clock::ManualClock;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long any one request may take before the test fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The example server on a free port, on a manual clock, with its audit records
/// collected in memory.
struct Server {
    addr: SocketAddr,
    app: App,
    clock: ManualClock,
    audit: AuditHandle,
    records: Receiver<String>,
    client: Client<HttpConnector, Empty<Bytes>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Server {
    async fn start() -> Self {
        let clock = ManualClock::at_unix(Duration::from_secs(1_700_006_400));
        let (sender, records) = sync_channel(10_000);
        let app = App::with_clock(
            AuditLayer::new().sink(ChannelSink::new(sender)),
            clock.clone(),
        );
        let audit = app.audit_handle();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app.clone(), async {
            let _ = stopped.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            addr,
            app,
            clock,
            audit,
            records,
            client,
            stop: Some(stop),
        }
    }

    /// A key of `tenant` on `plan`.
    async fn key(&self, tenant: &str, plan: &str) -> String {
        let created = self
            .app
            .keys()
            .create(NewKey::new(TenantId::new(tenant)).plan(plan))
            .await
            .unwrap();
        created.key.expose_secret().to_owned()
    }

    /// `GET path`, with these headers.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response<Incoming> {
        let mut request = Request::get(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Empty::new()).unwrap();
        tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .expect("the server answers in time")
            .unwrap()
    }

    /// `GET /v1/quote` with `x-api-key: key`.
    async fn quote(&self, key: &str) -> Response<Incoming> {
        self.get("/v1/quote", &[("x-api-key", key)]).await
    }

    /// Every audit record written so far.
    async fn audit_records(&self) -> Vec<Value> {
        self.audit.flush().await.unwrap();
        self.records
            .try_iter()
            .map(|line| serde_json::from_str(&line).unwrap())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn json(response: Response<Incoming>) -> Value {
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

/// The `api` preset's security headers, on every response.
fn assert_security_headers(headers: &HeaderMap) {
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_key_gets_the_quote_with_security_and_rate_limit_headers() {
    let server = Server::start().await;
    let key = server.key("acme", "starter").await;

    let response = server.quote(&key).await;

    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/json");
    assert_security_headers(headers);
    assert_eq!(
        headers["ratelimit-policy"],
        "\"minute\";q=60;w=60, \"day\";q=1000;w=86400"
    );
    assert_eq!(headers["ratelimit"], "\"minute\";r=59;t=1");
    assert_eq!(headers["x-ratelimit-remaining"], "59");
    assert!(headers.contains_key("x-request-id"));
    let body = json(response).await;
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["plan"], "starter");
    assert_eq!(body["quote"]["amount_cents"], 4_200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_valid_key_is_401_problem_json() {
    let server = Server::start().await;
    let key = server.key("acme", "free").await;
    // One character off: the checksum fails before any lookup.
    let mut typo = key.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    // Well-formed, but never issued by this server.
    let unknown = KeyFormat::default()
        .environment(Environment::Test)
        .generate();
    // A live key, which the development preset does not accept.
    let live = KeyFormat::default().generate();

    let cases = [
        (vec![], "API_KEY_MISSING", r#"Bearer realm="api""#),
        (
            vec![("x-api-key", typo.as_str())],
            "API_KEY_MALFORMED",
            r#"Bearer realm="api", error="invalid_token""#,
        ),
        (
            vec![("authorization", "Bearer sk_live_nope")],
            "API_KEY_MALFORMED",
            r#"Bearer realm="api", error="invalid_token""#,
        ),
        (
            vec![("x-api-key", unknown.expose_secret())],
            "API_KEY_INVALID",
            r#"Bearer realm="api", error="invalid_token""#,
        ),
        (
            vec![("x-api-key", live.expose_secret())],
            "API_KEY_INVALID",
            r#"Bearer realm="api", error="invalid_token""#,
        ),
    ];
    for (headers, code, challenge) in cases {
        let response = server.get("/v1/quote", &headers).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{code}");
        let response_headers = response.headers();
        assert_eq!(
            response_headers["content-type"], "application/problem+json",
            "{code}"
        );
        assert_eq!(response_headers["www-authenticate"], challenge, "{code}");
        assert_security_headers(response_headers);
        // Refused before the rate limiter: no quota was spent on it.
        assert!(!response_headers.contains_key("ratelimit"), "{code}");
        let problem = json(response).await;
        assert_eq!(problem["status"], 401);
        assert_eq!(problem["code"], code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_tenant_gets_429_after_its_quota_and_other_tenants_do_not() {
    let server = Server::start().await;
    let free = server.key("acme", "free").await;
    let pro = server.key("globex", "pro").await;

    for remaining in (0..10).rev() {
        let response = server.quote(&free).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
    }

    let response = server.quote(&free).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["retry-after"], "6");
    assert_eq!(headers["ratelimit"], "\"minute\";r=0;t=6");
    assert_security_headers(headers);
    let problem = json(response).await;
    assert_eq!(problem["code"], "QUOTA_EXCEEDED");
    assert_eq!(problem["plan"], "free");
    assert_eq!(problem["quotas"], serde_json::json!(["minute"]));

    // Another tenant has quotas of its own, and its plan's.
    let response = server.quote(&pro).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-ratelimit-remaining"], "299");

    // Six seconds later the free tenant has one request again.
    server.clock.advance(Duration::from_secs(6));
    assert_eq!(server.quote(&free).await.status(), StatusCode::OK);
    assert_eq!(
        server.quote(&free).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_fails_on_its_next_request() {
    let server = Server::start().await;
    let created = server
        .app
        .keys()
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap();
    let key = created.key.expose_secret();
    assert_eq!(server.quote(key).await.status(), StatusCode::OK);

    // The verification cache holds the key; the lifecycle invalidates it.
    server.app.keys().revoke(&created.record.id).await.unwrap();

    let response = server.quote(key).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(response).await["code"], "API_KEY_REVOKED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_problem_json_behind_the_key_check() {
    let server = Server::start().await;
    let key = server.key("acme", "free").await;

    let response = server.get("/v1/nothing", &[("x-api-key", &key)]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(json(response).await["code"], "NOT_FOUND");

    let response = server.get("/v1/nothing", &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_audited_with_its_key_tenant_and_refusal() {
    let server = Server::start().await;
    let created = server
        .app
        .keys()
        .create(NewKey::new(TenantId::new("acme")).plan("free"))
        .await
        .unwrap();
    let key = created.key.expose_secret();

    let passed = server.quote(key).await;
    let passed_id = passed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let refused = server.get("/v1/quote", &[]).await;
    let refused_id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    for _ in 0..9 {
        server.quote(key).await;
    }
    let limited = server.quote(key).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);

    let records = server.audit_records().await;
    // A request and a response record for each of the 12 requests.
    assert_eq!(records.len(), 24);
    let response_of = |id: &str| {
        records
            .iter()
            .find(|record| {
                record["event"]["action"] == "response" && record["http"]["request"]["id"] == id
            })
            .unwrap_or_else(|| panic!("a response record for {id}: {records:#?}"))
    };

    let record = response_of(&passed_id);
    assert_eq!(record["http"]["response"]["status_code"], 200);
    assert_eq!(record["organization"]["id"], "acme");
    assert_eq!(
        record["portcullis"]["api_key"]["id"],
        created.record.id.as_str()
    );
    assert_eq!(record["portcullis"]["rate_limit"]["allowed"], true);
    assert_eq!(record["source"]["ip"], "127.0.0.1");
    // The key itself never reaches the audit trail.
    assert!(!records.iter().any(|r| r.to_string().contains(key)));

    let record = response_of(&refused_id);
    assert_eq!(record["http"]["response"]["status_code"], 401);
    assert_eq!(record["portcullis"]["rejection"]["code"], "API_KEY_MISSING");

    let record = records
        .iter()
        .rfind(|record| record["event"]["action"] == "response")
        .unwrap();
    assert_eq!(record["http"]["response"]["status_code"], 429);
    assert_eq!(record["portcullis"]["rejection"]["code"], "QUOTA_EXCEEDED");
    assert_eq!(record["portcullis"]["rate_limit"]["allowed"], false);
    assert_eq!(record["organization"]["id"], "acme");
}

/// Kills the example binary when the test ends, passed or not.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_its_demo_key_and_refuses_requests_without_one() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyper-example"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let process = Process(child);

    // The first lines say where it listens and which key to use; the rest are audit
    // records, drained so the server never blocks on a full pipe.
    let (lines, banner) = sync_channel(16);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.try_send(line);
        }
    });
    let read = |prefix: &str| {
        let line = banner.recv_timeout(TIMEOUT).expect("the banner line");
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?} starts with {prefix:?}"))
            .to_owned()
    };
    let base = read("listening on ");
    let key = read("demo key of tenant acme, free plan (10 requests a minute): ");

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let get = |key: Option<&str>| {
        let mut request = Request::get(format!("{base}/v1/quote"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        tokio::time::timeout(TIMEOUT, client.request(request.body(Empty::new()).unwrap()))
    };

    let response = get(Some(&key)).await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_security_headers(response.headers());
    assert_eq!(
        response.headers()["ratelimit-policy"],
        "\"minute\";q=10;w=60, \"day\";q=100;w=86400"
    );
    assert_eq!(json(response).await["tenant"], "acme");

    let response = get(None).await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(json(response).await["code"], "API_KEY_MISSING");
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_binary_gracefully_with_its_audit_records_flushed() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyper-example"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.send(line);
        }
    });
    let base = output
        .recv_timeout(TIMEOUT)
        .expect("the banner line")
        .strip_prefix("listening on ")
        .expect("the address first")
        .to_owned();
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = Request::get(format!("{base}/v1/sigterm-probe"))
        .body(Empty::new())
        .unwrap();
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    drop(client);

    let (status, took) = portcullis_test_support::terminate(&mut child, Duration::from_secs(10));
    let printed: Vec<String> = output.try_iter().collect();
    let audited = printed
        .iter()
        .any(|line| line.contains("/v1/sigterm-probe"));
    println!(
        "SIGTERM: exited {status:?} after {:?}; the request's audit record printed: {audited}",
        took
    );
    assert_eq!(
        status.and_then(|status| status.code()),
        Some(0),
        "SIGTERM ends the server gracefully (exit 0), not by the signal"
    );
    assert!(audited, "the audit records are flushed: {printed:?}");
}
