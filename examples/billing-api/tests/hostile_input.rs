//! Client input the server must answer with a 4xx problem+json, never a 5xx, a plain
//! text error or a page without the security headers: bytes that are not UTF-8 or
//! are NUL in a path id or a JSON string, an oversized admin body, a refused CORS
//! preflight. On SQLite always; on PostgreSQL (which refuses NUL in text) with
//! `DATABASE_URL`.

mod support;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use portcullis_stripe_webhook::signature::TestHeader;
use serde_json::json;
use support::postgres::Database;
use support::{ADMIN_TOKEN, Server};

/// The server's development webhook secret (it signs and verifies with it by default).
const DEVELOPMENT_WEBHOOK_SECRET: &str = "whsec_billing_api_development_only";

/// Asserts a problem+json answer with this status and the API preset's headers.
fn assert_problem(response: &http::Response<()>, status: StatusCode, what: &str) {
    assert_eq!(response.status(), status, "{what}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "{what}"
    );
    assert_eq!(
        response.headers()["x-content-type-options"],
        "nosniff",
        "{what}: no security headers"
    );
}

fn admin_request(method: Method, path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap()
}

async fn hostile_inputs_are_client_errors(server: &Server) {
    let tenant = server.create_tenant("Acme").await;

    for id in ["%FF", "%00", "tn_%00", "%C3%28"] {
        for path in [
            format!("/admin/tenants/{id}"),
            format!("/admin/tenants/{id}/keys"),
        ] {
            let (response, _) = server
                .send(admin_request(Method::GET, &path, Bytes::new()))
                .await;
            assert!(
                response.status().is_client_error(),
                "GET {path}: {}",
                response.status()
            );
            assert_problem(&response, response.status(), &path);
        }
        let path = format!("/admin/keys/{id}");
        let (response, _) = server
            .send(admin_request(Method::DELETE, &path, Bytes::new()))
            .await;
        assert!(response.status().is_client_error(), "DELETE {path}");
        assert_problem(&response, response.status(), &path);
    }

    for body in [
        json!({ "name": "Ac\u{0}me", "email": "ops@acme.test" }),
        json!({ "name": "Acme", "email": "ops\u{0}@acme.test" }),
    ] {
        let (response, problem) = server
            .admin(Method::POST, "/admin/tenants", Some(body.clone()))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(problem["code"], "INVALID_FIELD");
    }
    let (response, problem) = server
        .admin(
            Method::POST,
            &format!("/admin/tenants/{tenant}/keys"),
            Some(json!({ "name": "lap\u{0}top" })),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{problem}"
    );

    // Far over the admin body limit: 413, not a 400 for "invalid JSON".
    let huge = format!(
        r#"{{"name":"{}","email":"ops@acme.test"}}"#,
        "A".repeat(3 << 20)
    );
    let (response, body) = server
        .send(admin_request(Method::POST, "/admin/tenants", huge))
        .await;
    assert_problem(&response, StatusCode::PAYLOAD_TOO_LARGE, "3 MiB admin body");
    assert_eq!(support::json(&body)["code"], "PAYLOAD_TOO_LARGE");

    // A correctly signed event with a NUL in what the server stores: a 4xx (or its
    // acknowledgement), never the 503 that Stripe would retry for days.
    let event = json!({
        "id": "evt_nul", "object": "event", "type": "checkout.session.completed",
        "created": 1_700_000_000, "api_version": "2024-06-20",
        "data": { "object": {
            "id": "cs_nul", "object": "checkout.session",
            "client_reference_id": tenant, "customer": "cus_\u{0}x",
            "subscription": "sub_\u{0}x", "status": "complete", "mode": "subscription",
            "metadata": { "price_id": "price_pro" }
        } }
    })
    .to_string();
    let signature = TestHeader::now()
        .signed_with(DEVELOPMENT_WEBHOOK_SECRET)
        .header_value(event.as_bytes());
    let (response, body) = server
        .send(
            Request::post("/webhooks/stripe")
                .header("content-type", "application/json")
                .header("stripe-signature", signature)
                .body(Full::new(Bytes::from(event)))
                .unwrap(),
        )
        .await;
    assert!(
        !response.status().is_server_error(),
        "a signed event with a NUL: {} {}",
        response.status(),
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test]
async fn hostile_inputs_are_client_errors_on_sqlite() {
    let server = Server::start(&[]);
    hostile_inputs_are_client_errors(&server).await;
}

#[tokio::test]
#[ignore = "needs DATABASE_URL"]
async fn hostile_inputs_are_client_errors_on_postgres() {
    let database = Database::create(&portcullis_test_support::database_url()).await;
    let server = Server::start_with(Server::options().database_url(&database.url));
    hostile_inputs_are_client_errors(&server).await;
}

#[tokio::test]
async fn a_refused_cors_preflight_carries_the_security_headers() {
    let server = Server::start(&["--allowed-origins", "https://app.example.com"]);
    for path in ["/health", "/v1/quote", "/admin/tenants", "/"] {
        let preflight = Request::options(path)
            .header("origin", "https://evil.example.net")
            .header("access-control-request-method", "GET")
            .body(Full::default())
            .unwrap();
        let (response, _) = server.send(preflight).await;
        assert_problem(&response, StatusCode::FORBIDDEN, path);
    }
}
