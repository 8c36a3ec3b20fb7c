//! The audit log as evidence, on the real binary: with the audit file on a full disk
//! (`/dev/full`, every write `ENOSPC`) admin requests are refused with `503
//! AUDIT_UNAVAILABLE` and none of them happens, the customer API stays up, `/health`
//! and `/ready` report the log's state and recover by themselves; and no API key or
//! other secret, sent anywhere a client can put one, reaches the audit log or the
//! server's output.

mod support;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use portcullis_core::secret::API_KEY_SCANNER_PATTERN;
use regex::Regex;
use serde_json::{Value, json};
use support::{ADMIN_TOKEN, Server};

/// What `/health` says of the audit log.
async fn audit_state(server: &Server) -> String {
    let (response, body) = server.get("/health").await;
    assert_eq!(response.status(), StatusCode::OK, "/health is always 200");
    let health = support::json(&body);
    let state = health["audit"].as_str().expect("an audit state").to_owned();
    let status = if state == "ok" { "ok" } else { "degraded" };
    assert_eq!(health["status"], status, "{health}");
    state
}

/// An admin request with a token and a JSON body; its status and problem code.
async fn admin(server: &Server, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let (response, body) = server.admin(method, path, Some(body)).await;
    (response.status(), body)
}

/// The tenants in the SQLite database.
async fn tenant_count(dir: &Path) -> i64 {
    let url = format!("sqlite://{}?mode=ro", dir.join("billing.db").display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("the database opens");
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants")
        .fetch_one(&pool)
        .await
        .expect("tenants are counted");
    pool.close().await;
    count
}

#[tokio::test]
async fn on_a_full_disk_admin_requests_are_refused_and_none_applied_while_v1_stays_up() {
    let mut server = Server::start(&[]);
    let tenant = server.create_tenant("Acme").await;
    let (key_id, key) = server.create_key(&tenant).await;
    assert_eq!(audit_state(&server).await, "ok");
    let (ready, _) = server.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);

    // The disk fills up: the audit file becomes `/dev/full`, where every write fails
    // with ENOSPC. The sink notices the new file within a second.
    let audit = server.audit_log();
    let before = server.dir.join("audit.log.before");
    std::fs::rename(&audit, &before).unwrap();
    std::os::unix::fs::symlink("/dev/full", &audit).unwrap();
    // A read-only admin request makes the log write (and is refused once it fails).
    let tenant_path = format!("/admin/tenants/{tenant}");
    let full = support::within(Duration::from_secs(20), || async {
        let (response, _) = server.admin(Method::GET, &tenant_path, None).await;
        response.status() == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    assert!(
        full.is_some(),
        "admin requests refused once the disk is full"
    );
    assert_eq!(audit_state(&server).await, "failing");
    let (ready, problem) = server.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
    assert_eq!(support::json(&problem)["code"], "AUDIT_UNAVAILABLE");

    let tenants_before = tenant_count(&server.dir).await;
    // 200 privileged actions: none may happen unrecorded.
    let mut refused = 0;
    for round in 0..50 {
        let attempts = [
            (
                Method::POST,
                "/admin/tenants".to_owned(),
                json!({"name": format!("Intruder {round}"), "email": "x@example.com"}),
            ),
            (
                Method::POST,
                format!("/admin/tenants/{tenant}/keys"),
                json!({"name": format!("backdoor {round}")}),
            ),
            (
                Method::POST,
                format!("/admin/keys/{key_id}/rotate"),
                json!({"overlap_seconds": 0}),
            ),
            (Method::DELETE, format!("/admin/keys/{key_id}"), json!({})),
        ];
        for (method, path, body) in attempts {
            let (status, problem) = admin(&server, method, &path, body).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {problem}");
            assert_eq!(problem["code"], "AUDIT_UNAVAILABLE", "{path}");
            refused += 1;
        }
        // Meanwhile the customer API answers (fail-open).
        if round % 10 == 0 {
            let (response, body) = server.get_with_key("/v1/quote", &key).await;
            assert_eq!(response.status(), StatusCode::OK, "{body}");
        }
    }
    assert_eq!(refused, 200);
    assert_eq!(
        tenant_count(&server.dir).await,
        tenants_before,
        "no tenant created"
    );
    assert_eq!(audit_state(&server).await, "failing");

    // Room again: the sink reopens the path and the next write succeeds; nobody
    // restarts anything.
    std::fs::remove_file(&audit).unwrap();
    let recovered = support::within(Duration::from_secs(20), || async {
        let (response, _) = server.admin(Method::GET, &tenant_path, None).await;
        response.status() == StatusCode::OK
    })
    .await;
    assert!(recovered.is_some(), "admin requests admitted again");
    assert_eq!(audit_state(&server).await, "ok");
    let (ready, _) = server.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);

    // Nothing of the 200 happened: one key, still active and working, not rotated.
    let (_, keys) = server
        .admin(Method::GET, &format!("/admin/tenants/{tenant}/keys"), None)
        .await;
    let keys = keys["keys"].as_array().expect("a list of keys").clone();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["id"], key_id.as_str());
    assert_eq!(keys[0]["status"], "active", "{keys:?}");
    let (response, _) = server.get_with_key("/v1/quote", &key).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(tenant_count(&server.dir).await, tenants_before);

    // The trail: before the outage and after it, no record of any refused action.
    assert_eq!(server.stop().code(), Some(0));
    let mut records = support::audit_records(&before);
    records.extend(support::audit_records(&audit));
    let applied: Vec<&Value> = records
        .iter()
        .filter(|record| {
            let status = record["http"]["response"]["status_code"].as_u64();
            let path = record["url"]["path"].as_str().unwrap_or_default();
            status.is_some_and(|status| status < 300)
                && record["http"]["request"]["method"] != "GET"
                && path.starts_with("/admin/")
        })
        .collect();
    // Only the tenant and the key created before the outage.
    assert_eq!(applied.len(), 2, "{applied:#?}");
    assert!(
        !records.iter().any(|record| record["url"]["path"]
            .as_str()
            .unwrap_or_default()
            .contains("rotate")),
        "a refused rotation was never recorded as done"
    );
}

/// The first secret shape in `text`: the published key pattern, the other key
/// formats, Stripe webhook secrets, JWTs, and bearer credentials other than the
/// redacted form (`Bearer hmac-sha256:<hex>`).
fn find_shape(text: &str) -> Option<String> {
    for pattern in [
        API_KEY_SCANNER_PATTERN,
        r"_(?:live|test)_[0-9A-Za-z]{16,}",
        r"whsec_[0-9A-Za-z]{8,}",
        r"eyJ[0-9A-Za-z_=-]*\.[0-9A-Za-z_=-]+\.",
    ] {
        if let Some(found) = Regex::new(pattern).unwrap().find(text) {
            return Some(format!("{} ({pattern})", found.as_str()));
        }
    }
    let bearer = Regex::new(r"(?i)bearer[ \t]+([0-9A-Za-z._~+/-]{8,})").unwrap();
    bearer.captures_iter(text).find_map(|found| {
        let credential = found.get(1).unwrap();
        let redacted =
            credential.as_str() == "hmac-sha256" && text[credential.end()..].starts_with(':');
        (!redacted).then(|| found[0].to_owned())
    })
}

#[tokio::test]
async fn no_key_or_secret_reaches_the_audit_log_or_the_server_output() {
    let webhook_secret = "whsec_Q2xR7tZpL0mN4vB8cD1eF5gH9jK3sW6y";
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEiLCJyb2xlIjoiYWRtaW4ifQ.c2lnbmF0dXJlX29mX3RoZV90b2tlbg";
    let stripe_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dcXyZ0123456789";
    let mut server = Server::start_with(
        Server::options()
            .args(&[
                "--stripe-webhook-secret",
                webhook_secret,
                "--audit-hmac-secret",
                "a-per-deployment-secret-for-the-tests",
            ])
            .env("RUST_LOG", "debug")
            .capture_stderr(),
    );
    let tenant = server.create_tenant("Acme").await;
    let (_, key) = server.create_key(&tenant).await;

    let send = |request: http::request::Builder, body: String| {
        let request = request.body(Full::new(Bytes::from(body))).unwrap();
        server.send(request)
    };
    // The customer API: keys where the key layer does not look (refused, so
    // recorded), in the query and the user agent. Four refusals in all: a fifth would
    // use up the brute-force budget of this client.
    for uri in [
        format!("/v1/quote?key={key}&page=2&access_key={key}"),
        format!("/v1/quote?q={jwt}&s={webhook_secret}&stripe={stripe_key}"),
        format!("/v1/quote?note=Bearer%20{key}"),
    ] {
        let (response, _) = send(
            Request::get(&uri)
                .header("user-agent", format!("curl/8.5 {key}"))
                .header("x-request-id", key.as_str())
                .header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
            String::new(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{uri}");
    }
    // A wrong key in the header the key layer reads: refused, recorded, never shown.
    let wrong = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('a') { 'b' } else { 'a' }
    );
    let (response, _) = server.get_with_key("/v1/quote", &wrong).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The admin API records headers and bodies: keys in innocuously named fields,
    // in field names, in headers, in the path.
    let bearer = |request: http::request::Builder| {
        request
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .header("content-type", "application/json")
    };
    let (response, created) = send(
        bearer(Request::post(format!("/admin/tenants/{tenant}/keys")))
            .header("x-forwarded-key", key.as_str())
            .header("x-note", format!("Bearer {jwt}"))
            .header("x-stripe", stripe_key),
        json!({"name": format!("copy of {key}"), "scopes": [], "expires_in_seconds": 3600})
            .to_string(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // Its plaintext is answered once, and recorded nowhere.
    let second_key = support::json(&created)["key"].as_str().unwrap().to_owned();
    let (response, _) = send(
        bearer(Request::post("/admin/tenants")),
        json!({"name": "Beta", "email": "ops@beta.example", key.as_str(): {"deep": [webhook_secret]}})
            .to_string(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "unknown field");
    let (response, _) = send(
        bearer(Request::delete(format!("/admin/keys/{key}"))),
        String::new(),
    )
    .await;
    assert!(response.status().is_client_error(), "{}", response.status());
    // And the key still works: nothing above was its owner's mistake to pay for.
    let (response, _) = server.get_with_key("/v1/quote", &key).await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(server.stop().code(), Some(0));
    let secrets = [
        key.as_str(),
        second_key.as_str(),
        webhook_secret,
        jwt,
        stripe_key,
        ADMIN_TOKEN,
    ];
    let audit = std::fs::read_to_string(server.audit_log()).unwrap();
    let output = server.output();
    let records = support::audit_records(&server.audit_log());
    // The denied requests were recorded, with hashes where the secrets were.
    let queries: Vec<&str> = records
        .iter()
        .filter(|record| record["event"]["action"] == "request")
        .filter_map(|record| record["url"]["query"].as_str())
        .collect();
    assert!(
        queries
            .iter()
            .any(|query| query.starts_with("key=hmac-sha256:")
                && query.contains("&page=2&access_key=hmac-sha256:")),
        "{queries:?}"
    );
    assert!(
        records
            .iter()
            .any(|record| record["trace"]["id"] == "4bf92f3577b34da6a3ce929d0e0e4736")
    );
    for (name, text) in [("audit log", &audit), ("server output", &output)] {
        for secret in secrets {
            assert!(!text.contains(secret), "{name} holds {secret}");
        }
        if let Some(found) = find_shape(text) {
            panic!("{name} holds {found}");
        }
    }
    assert!(output.contains("billing-api listening on"));
    assert!(audit.contains("hmac-sha256:"));
}
