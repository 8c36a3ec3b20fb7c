//! Hostile clients against the real binary: guessing admin tokens and API keys,
//! flooding the CSP report collector, and a flood of distinct forged identities.
//! Every test sends a bounded number of requests to 127.0.0.1 and prints its figures.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portcullis_api_keys::format::KeyFormat;
use serde_json::{Value, json};
use support::{ADMIN_TOKEN, Server};

/// A key of the server's format with a valid checksum, that no tenant holds: each one
/// costs the server a store lookup.
fn forged_key() -> String {
    KeyFormat::default().generate().expose_secret().to_owned()
}

/// How many more requests a quota of `per_minute` (replenished evenly) can admit
/// while `started.elapsed()`: the assertions hold on a machine of any speed.
fn replenished(started: Instant, per_minute: u64) -> usize {
    let per_token = 60.0 / per_minute as f64;
    (started.elapsed().as_secs_f64() / per_token).ceil() as usize
}

/// A keep-alive client: thousands of requests without thousands of sockets.
fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends `request` (a path on `server`); its status, `Retry-After` and JSON body.
async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    server: &Server,
    request: http::request::Builder,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let request = request.body(Full::new(Bytes::from(
        body.map(|body| body.to_string()).unwrap_or_default(),
    )));
    let mut request = request.unwrap();
    *request.uri_mut() = server.url(&request.uri().to_string()).parse().unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("the server answers within 10 s")
        .expect("the request succeeds");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    let content_type = response.headers().get("content-type").cloned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert_eq!(
            content_type.unwrap(),
            "application/problem+json",
            "a 429 is a problem document"
        );
    }
    (status, retry_after, support::json(&body))
}

fn admin_request(token: &str, client_ip: &str) -> http::request::Builder {
    Request::post("/admin/tenants")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("x-forwarded-for", client_ip)
}

fn tenant() -> Option<Value> {
    Some(json!({ "name": "Acme", "email": "ops@acme.test" }))
}

#[tokio::test]
async fn wrong_admin_tokens_are_throttled_per_client_and_successes_do_not_count() {
    let server = Server::start(&["--trusted-proxies", "127.0.0.1/32"]);
    let client = client();
    let attacker = "198.51.100.7";

    // Successes never count: far more of them than the failure budget.
    for _ in 0..12 {
        let (status, _, body) = send(
            &client,
            &server,
            admin_request(ADMIN_TOKEN, attacker),
            tenant(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut statuses = Vec::new();
    let mut retry_after = None;
    let started = Instant::now();
    for _ in 0..50 {
        let (status, retry, _) = send(
            &client,
            &server,
            admin_request("adm_wrong_guess_0123456789", attacker),
            tenant(),
        )
        .await;
        statuses.push(status);
        retry_after = retry_after.or(retry.filter(|_| status == StatusCode::TOO_MANY_REQUESTS));
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    println!(
        "50 wrong admin tokens from one client: {refused} answered 401, {throttled} throttled 429"
    );
    let extra = replenished(started, 5);
    assert!((5..=5 + extra).contains(&refused), "{statuses:?}");
    assert_eq!(refused + throttled, 50, "{statuses:?}");
    let retry_after: u64 = retry_after
        .expect("a 429 says when to retry")
        .parse()
        .unwrap();
    assert!((1..=3_600).contains(&retry_after), "{retry_after}");
    // The right token is throttled too from that client: the guesser cannot tell.
    let (status, _, body) = send(
        &client,
        &server,
        admin_request(ADMIN_TOKEN, attacker),
        tenant(),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Another client is not.
    let (status, _, _) = send(
        &client,
        &server,
        admin_request("adm_wrong_guess_0123456789", "198.51.100.8"),
        tenant(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(
        &client,
        &server,
        admin_request(ADMIN_TOKEN, "198.51.100.8"),
        tenant(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn forged_api_keys_are_throttled_per_client_and_valid_keys_do_not_count() {
    let server = Server::start(&["--trusted-proxies", "127.0.0.1/32"]);
    let tenant = server.create_tenant("Acme").await;
    let (_, key) = server.create_key(&tenant).await;
    let client = client();
    let quote = |key: &str, ip: &str| {
        Request::get("/v1/quote")
            .header("x-api-key", key.to_owned())
            .header("x-forwarded-for", ip)
    };
    let attacker = "203.0.113.50";
    for _ in 0..8 {
        let (status, _, body) = send(&client, &server, quote(&key, attacker), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let mut statuses = Vec::new();
    let started = Instant::now();
    for i in 0..30 {
        // Valid-looking and malformed forgeries alike.
        let forged = if i % 2 == 0 {
            forged_key()
        } else {
            format!("sk_live_forged{i:020}")
        };
        let (status, _, _) = send(&client, &server, quote(&forged, attacker), None).await;
        statuses.push(status);
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    println!("30 forged keys from one client: {refused} answered 401, {throttled} throttled 429");
    let extra = replenished(started, 5);
    assert!((5..=5 + extra).contains(&refused), "{statuses:?}");
    assert_eq!(refused + throttled, 30, "{statuses:?}");
}

#[tokio::test]
async fn the_csp_collector_is_limited_per_client() {
    let server = Server::start(&["--trusted-proxies", "127.0.0.1/32"]);
    let client = client();
    let report = |i: usize, ip: &str| {
        let body = format!(
            r#"[{{"type":"csp-violation","body":{{"documentURL":"https://example.com/","effectiveDirective":"img-src","blockedURL":"https://evil.example/{i}"}}}}]"#
        );
        let mut request = Request::post("/csp-reports")
            .header("content-type", "application/reports+json")
            .header("x-forwarded-for", ip)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        *request.uri_mut() = server.url("/csp-reports").parse().unwrap();
        request
    };
    let mut accepted = 0;
    let mut throttled = 0;
    let started = Instant::now();
    for i in 0..200 {
        let response = client.request(report(i, "192.0.2.10")).await.unwrap();
        match response.status() {
            StatusCode::NO_CONTENT => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    println!("200 report requests from one client: {accepted} accepted, {throttled} throttled");
    let extra = replenished(started, 30);
    assert!((30..=30 + extra).contains(&accepted), "{accepted}");
    assert_eq!(accepted + throttled, 200);
    let other = client.request(report(0, "192.0.2.11")).await.unwrap();
    assert_eq!(other.status(), StatusCode::NO_CONTENT);
}

/// The server's peak resident memory, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[tokio::test]
async fn a_flood_of_distinct_forged_identities_keeps_memory_bounded() {
    const REQUESTS: u32 = 20_000;
    let server = Server::start(&["--trusted-proxies", "127.0.0.1/32"]);
    let client = client();
    // Warm up, then measure what the flood adds.
    let (status, _, _) = send(&client, &server, Request::get("/health"), None).await;
    assert_eq!(status, StatusCode::OK);
    let before = peak_rss_kib(server.pid());
    let started = Instant::now();
    let mut unauthorized = 0;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8_u32 {
        let client = client.clone();
        let base = server.url("");
        tasks.spawn(async move {
            let mut unauthorized = 0;
            for i in (worker..REQUESTS).step_by(8) {
                // A distinct client address and a distinct forged key, every time.
                let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 0xff, i & 0xff);
                let (path, request) = if i % 2 == 0 {
                    (
                        "/v1/quote",
                        Request::get(format!("{base}/v1/quote")).header("x-api-key", forged_key()),
                    )
                } else {
                    (
                        "/admin/tenants",
                        Request::get(format!("{base}/admin/tenants/x"))
                            .header("authorization", format!("Bearer adm_forged_{i:020}")),
                    )
                };
                let request = request
                    .header("x-forwarded-for", ip)
                    .body(Full::default())
                    .unwrap();
                let response =
                    tokio::time::timeout(Duration::from_secs(10), client.request(request))
                        .await
                        .unwrap_or_else(|_| panic!("{path} answers within 10 s"))
                        .unwrap();
                if response.status() == StatusCode::UNAUTHORIZED {
                    unauthorized += 1;
                }
                let _ = response.into_body().collect().await;
            }
            unauthorized
        });
    }
    while let Some(count) = tasks.join_next().await {
        unauthorized += count.unwrap();
    }
    let elapsed = started.elapsed();
    let after = peak_rss_kib(server.pid());
    println!(
        "{REQUESTS} requests, each from a distinct forged client with a distinct forged credential, in {elapsed:?}: {unauthorized} answered 401; server peak RSS {before} KiB before, {after} KiB after"
    );
    // Every distinct client gets its own (untouched) failure budget.
    assert_eq!(unauthorized, REQUESTS);
    // Generous: the limiter's and caches' entries for 20,000 identities are a few MiB.
    assert!(after < 256 * 1024, "peak RSS {after} KiB");
    assert!(
        after - before < 128 * 1024,
        "grew by {} KiB",
        after - before
    );
}

#[tokio::test]
async fn scopes_are_bounded_in_number_and_length() {
    let server = Server::start(&[]);
    let tenant = server.create_tenant("Acme").await;
    let path = format!("/admin/tenants/{tenant}/keys");
    // 20,000 scopes do not fit the 64 KiB admin body limit at all.
    let flood: Vec<String> = (0..20_000).map(|i| format!("scope:{i}")).collect();
    let (response, problem) = server
        .admin(
            http::Method::POST,
            &path,
            Some(json!({ "name": "k", "scopes": flood })),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "{problem}"
    );
    // Within the body limit, the scopes' own bounds: 1,000 scopes, or one of 10,000
    // characters.
    let many: Vec<String> = (0..1_000).map(|i| format!("scope:{i}")).collect();
    let long = "a".repeat(10_000);
    for scopes in [json!(many), json!([long])] {
        let (response, problem) = server
            .admin(
                http::Method::POST,
                &path,
                Some(json!({ "name": "k", "scopes": scopes })),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{problem}"
        );
        assert_eq!(problem["code"], "INVALID_FIELD");
        assert_eq!(problem["field"], "scopes");
        assert!(
            problem.to_string().len() < 1_000,
            "the input is not echoed: {problem}"
        );
    }
    let (response, key) = server
        .admin(
            http::Method::POST,
            &path,
            Some(json!({ "name": "k", "scopes": ["invoices:read"] })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "{key}");
}
