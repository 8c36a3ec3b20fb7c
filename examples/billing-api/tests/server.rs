//! End-to-end: the real `billing-api` binary on a free port, spoken to over HTTP.

mod support;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::json;
use support::Server;

fn nonce_in_csp(csp: &str) -> &str {
    let start = csp.find("'nonce-").expect("the CSP carries a nonce") + "'nonce-".len();
    let end = start + csp[start..].find('\'').expect("the nonce source is closed");
    &csp[start..end]
}

#[tokio::test]
async fn health_is_json_with_api_headers_and_no_hsts_over_plain_http() {
    let server = Server::start(&[]);
    let (response, body) = server.get("/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"status": "ok", "audit": "ok"})
    );
    let headers = response.headers();
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cross-origin-resource-policy"], "same-origin");
    assert!(headers.get("strict-transport-security").is_none());
    assert!(server.stdout[0].starts_with("billing-api listening on http://127.0.0.1:"));
}

#[tokio::test]
async fn page_script_and_style_carry_the_nonce_of_their_response() {
    let server = Server::start(&[]);
    let (first, body) = server.get("/").await;
    assert_eq!(first.status(), StatusCode::OK);
    let csp = first.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'nonce-"),
        "{csp}"
    );
    assert!(csp.contains("report-uri /csp-reports"), "{csp}");
    assert!(
        !csp.contains("upgrade-insecure-requests"),
        "plain HTTP: {csp}"
    );
    let nonce = nonce_in_csp(csp);
    let html = std::str::from_utf8(&body).unwrap();
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        2,
        "{html}"
    );
    assert_eq!(
        first.headers()["reporting-endpoints"],
        "csp-endpoint=\"/csp-reports\""
    );

    let (second, _) = server.get("/").await;
    let second_csp = second.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert_ne!(
        nonce_in_csp(second_csp),
        nonce,
        "a fresh nonce per response"
    );
}

#[tokio::test]
async fn hsts_only_when_a_trusted_proxy_says_https() {
    let https_via_proxy = || {
        Request::get("/health")
            .header("host", "api.example.com")
            .header("x-forwarded-for", "198.51.100.4")
            .header("x-forwarded-proto", "https")
            .body(Full::default())
            .unwrap()
    };

    let untrusting = Server::start(&[]);
    let (response, _) = untrusting.send(https_via_proxy()).await;
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );

    let trusting = Server::start(&["--trusted-proxies", "127.0.0.1/32"]);
    let (response, _) = trusting.send(https_via_proxy()).await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );

    // A TLS terminator that sends only the scheme is believed on it.
    let scheme_only = Request::get("/health")
        .header("host", "api.example.com")
        .header("x-forwarded-proto", "https")
        .body(Full::default())
        .unwrap();
    let (response, _) = trusting.send(scheme_only).await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
}

#[tokio::test]
async fn cors_allows_configured_origins_and_refuses_others_with_403() {
    let server = Server::start(&[
        "--allowed-origins",
        "https://app.example.com,https://*.example.org",
    ]);
    let preflight = |origin: &'static str| {
        Request::options("/health")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .body(Full::default())
            .unwrap()
    };

    let (allowed, _) = server.send(preflight("https://eu.example.org")).await;
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://eu.example.org"
    );

    let (refused, body) = server.send(preflight("https://example.org")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    assert!(
        refused
            .headers()
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-")),
        "{:?}",
        refused.headers()
    );
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "CORS_PREFLIGHT_REJECTED");
}

#[tokio::test]
async fn csp_reports_are_accepted_and_wrong_media_types_refused() {
    let server = Server::start(&[]);
    let report = r#"{"csp-report":{"document-uri":"http://localhost/","violated-directive":"script-src","effective-directive":"script-src","blocked-uri":"inline","original-policy":"default-src 'none'"}}"#;
    let post = |content_type: &'static str| {
        Request::post("/csp-reports")
            .header("content-type", content_type)
            .body(Full::new(Bytes::from_static(report.as_bytes())))
            .unwrap()
    };
    let (accepted, _) = server.send(post("application/csp-report")).await;
    assert_eq!(accepted.status(), StatusCode::NO_CONTENT);
    let (refused, body) = server.send(post("text/plain")).await;
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["status"], 415);
}

#[tokio::test]
async fn banner_prints_the_generated_admin_token_the_development_secret_and_three_curls() {
    let server = Server::start_with(Server::options().generated_admin_token());
    let banner = server.stdout.join("\n");
    let token_line = server
        .stdout
        .iter()
        .find(|line| line.trim_start().starts_with("admin token:"))
        .expect("the admin token is printed");
    let token = token_line
        .split_whitespace()
        .find(|word| word.starts_with("adm_"))
        .expect("a generated token");
    assert!(token_line.contains("generated"), "{token_line}");
    assert!(
        banner.contains("whsec_billing_api_development_only (DEVELOPMENT DEFAULT"),
        "{banner}"
    );
    assert_eq!(
        server
            .stdout
            .iter()
            .filter(|line| line.trim_start().starts_with("curl "))
            .count(),
        3,
        "{banner}"
    );
    assert!(banner.contains("SQLite"), "{banner}");
    assert!(banner.contains("in memory"), "{banner}");

    // The printed token works; another does not.
    let request = |token: String| {
        Request::post("/admin/tenants")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(
                br#"{"name":"Acme","email":"ops@acme.test"}"#,
            )))
            .unwrap()
    };
    let (created, _) = server.send(request(token.to_owned())).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let (refused, _) = server.send(request(format!("{token}x"))).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_needs_the_token_and_answers_problems_with_stable_codes() {
    let server = Server::start(&[]);
    let (missing, body) = server.get("/admin/tenants/tn_x").await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="admin""#
    );
    assert_eq!(support::json(&body)["code"], "ADMIN_TOKEN_MISSING");

    let (wrong, body) = server
        .send(
            Request::get("/admin/tenants/tn_x")
                .header("authorization", "Bearer not-the-token")
                .body(Full::default())
                .unwrap(),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(support::json(&body)["code"], "ADMIN_TOKEN_INVALID");

    let (unknown, body) = server.admin(Method::GET, "/admin/tenants/tn_x", None).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(body["code"], "TENANT_NOT_FOUND");
    // The example's own codes name a type of the example's; the layers' point at their
    // anchor on portcullis-core's page of problem types.
    assert_eq!(
        body["type"],
        "urn:example:billing-api:problem:tenant-not-found"
    );

    let (bad, body) = server
        .admin(
            Method::POST,
            "/admin/tenants",
            Some(json!({ "name": "Acme" })),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "INVALID_BODY");

    let (bad, body) = server
        .admin(
            Method::POST,
            "/admin/tenants",
            Some(json!({ "name": "Acme", "email": "not an email" })),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "INVALID_FIELD");
    assert_eq!(body["field"], "email");

    let (media, body) = server
        .send(
            Request::post("/admin/tenants")
                .header("authorization", format!("Bearer {}", support::ADMIN_TOKEN))
                .body(Full::new(Bytes::from_static(b"name=Acme")))
                .unwrap(),
        )
        .await;
    assert_eq!(media.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(support::json(&body)["code"], "UNSUPPORTED_MEDIA_TYPE");

    let (unknown_key, body) = server
        .admin(Method::DELETE, "/admin/keys/key_nope", None)
        .await;
    assert_eq!(unknown_key.status(), StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "KEY_NOT_FOUND");

    let (route, body) = server.get("/v2/nothing").await;
    assert_eq!(route.status(), StatusCode::NOT_FOUND);
    assert_eq!(support::json(&body)["code"], "NOT_FOUND");
    let (method, body) = server
        .send(Request::delete("/health").body(Full::default()).unwrap())
        .await;
    assert_eq!(method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(support::json(&body)["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(method.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn keys_are_shown_once_listed_masked_rotated_with_overlap_and_revoked() {
    let server = Server::start(&[]);
    let tenant = server.create_tenant("Acme").await;
    let (response, created) = server
        .admin(
            Method::POST,
            &format!("/admin/tenants/{tenant}/keys"),
            Some(json!({ "name": "ci", "scopes": ["quotes:read"], "expires_in_seconds": 3600 })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_live_"), "{created}");
    assert!(
        created["display"]
            .as_str()
            .unwrap()
            .starts_with("sk_live_…")
    );
    assert_eq!(created["scopes"], json!(["quotes:read"]));
    assert!(created["expires_at"].is_i64());

    let (whoami_response, whoami) = server.get_with_key("/v1/whoami", &key).await;
    assert_eq!(whoami_response.status(), StatusCode::OK);
    assert_eq!(
        whoami,
        json!({ "tenant_id": tenant, "plan": "free", "key_id": id })
    );

    let (response, listed) = server
        .admin(Method::GET, &format!("/admin/tenants/{tenant}/keys"), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(listed["keys"][0]["id"], id.as_str());
    assert_eq!(listed["keys"][0]["status"], "active");
    assert!(!listed.to_string().contains(&key), "{listed}");

    // Rotation: the new key works, the old one too for the overlap.
    let (response, rotated) = server
        .admin(
            Method::POST,
            &format!("/admin/keys/{id}/rotate"),
            Some(json!({ "overlap_seconds": 3600 })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "{rotated}");
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated["replaces"]["id"], id.as_str());
    assert_eq!(
        server.get_with_key("/v1/whoami", &new_key).await.0.status(),
        StatusCode::OK
    );
    assert_eq!(
        server.get_with_key("/v1/whoami", &key).await.0.status(),
        StatusCode::OK
    );

    // Revocation: at once on this instance.
    let (response, _) = server
        .admin(Method::DELETE, &format!("/admin/keys/{id}"), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (revoked, body) = server.get_with_key("/v1/whoami", &key).await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "API_KEY_REVOKED");
    let (response, body) = server
        .admin(
            Method::POST,
            &format!("/admin/keys/{id}/rotate"),
            Some(json!({ "overlap_seconds": 0 })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(body["code"], "KEY_NOT_ACTIVE");
}

#[tokio::test]
async fn customer_api_needs_a_key_and_keys_of_a_tenant_share_its_quotas() {
    let server = Server::start(&[]);
    let (missing, body) = server.get("/v1/quote").await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(support::json(&body)["code"], "API_KEY_MISSING");
    assert_eq!(
        support::json(&body)["type"],
        "https://docs.rs/portcullis-core/latest/portcullis_core/problem/index.html#api-key-missing"
    );
    let (malformed, body) = server.get_with_key("/v1/quote", "sk_live_nope").await;
    assert_eq!(malformed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "API_KEY_MALFORMED");

    let tenant = server.create_tenant("Acme").await;
    let (_, first) = server.create_key(&tenant).await;
    let (_, second) = server.create_key(&tenant).await;
    let other = server.create_tenant("Initech").await;
    let (_, others) = server.create_key(&other).await;

    let (usage_response, usage) = server.get_with_key("/v1/usage", &first).await;
    assert_eq!(usage_response.status(), StatusCode::OK);
    assert_eq!(usage["plan"], "free");
    assert_eq!(usage["quotas"][0]["name"], "minute");
    assert_eq!(usage["quotas"][0]["limit"], 10);
    assert_eq!(usage["quotas"][0]["remaining"], 9);
    assert_eq!(usage["quotas"][1]["name"], "day");
    assert_eq!(usage["quotas"][1]["limit"], 100);
    assert!(usage["quotas"][0]["reset_seconds"].as_u64().unwrap() <= 60);

    // One used by /v1/usage, eight more with the first key, one with the second.
    for key in [&first; 8].into_iter().chain([&second]) {
        let (response, quote) = server.get_with_key("/v1/quote", key).await;
        assert_eq!(response.status(), StatusCode::OK, "{quote}");
        assert!(quote["quote"].is_string());
    }
    let (denied, problem) = server.get_with_key("/v1/quote", &second).await;
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem["code"], "QUOTA_EXCEEDED");
    assert!(denied.headers().contains_key("retry-after"));
    // Another tenant has its own.
    assert_eq!(
        server.get_with_key("/v1/quote", &others).await.0.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_sqlite_file_is_created_on_first_start_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Server::start_with(Server::options().dir(dir.path()));
    assert!(dir.path().join("billing.db").exists());
    let tenant = first.create_tenant("Acme").await;
    let (_, key) = first.create_key(&tenant).await;
    assert_eq!(first.stop().code(), Some(0));

    let second = Server::start_with(Server::options().dir(dir.path()));
    let (response, whoami) = second.get_with_key("/v1/whoami", &key).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(whoami["tenant_id"], tenant.as_str());
}
