//! The whole story on the real binary with its SQLite defaults: a tenant and a key,
//! the free plan's limit, an upgrade by a signed Stripe event, a duplicate and a forged
//! delivery, a cancellation, a revocation, and the audit log that recorded it all.

mod support;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use support::Server;

const FREE_POLICY: &str = r#""minute";q=10;w=60, "day";q=100;w=86400"#;
const PRO_POLICY: &str = r#""minute";q=300;w=60, "day";q=10000;w=86400"#;

fn header<'a>(response: &'a http::Response<()>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} in {:?}", response.headers()))
        .to_str()
        .unwrap()
}

/// Runs `stripe-trigger`; its stdout, after checking it succeeded.
fn trigger(server: &Server, event: &str, tenant: &str, extra: &[&str]) -> String {
    let output = server.trigger(event, tenant, extra);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    stdout
}

#[tokio::test]
async fn the_whole_story_over_http() {
    let mut server = Server::start(&[]);

    // A tenant and a key.
    let tenant = server.create_tenant("Acme").await;
    let (key_id, key) = server.create_key(&tenant).await;
    let (_, created) = server
        .admin(Method::GET, &format!("/admin/tenants/{tenant}"), None)
        .await;
    assert_eq!(created["plan"], "free");
    assert_eq!(created["subscription_status"], "none");

    // Ten quotes pass, with the free plan's headers; the eleventh is refused.
    for remaining in (0..10).rev() {
        let (response, body) = server.get_with_key("/v1/quote", &key).await;
        assert_eq!(response.status(), StatusCode::OK, "{body}");
        assert_eq!(header(&response, "ratelimit-policy"), FREE_POLICY);
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            remaining.to_string()
        );
        assert!(
            header(&response, "ratelimit").starts_with(&format!("\"minute\";r={remaining};t=")),
            "{:?}",
            response.headers()
        );
    }
    let (denied, problem) = server.get_with_key("/v1/quote", &key).await;
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&denied, "content-type"), "application/problem+json");
    assert_eq!(problem["code"], "QUOTA_EXCEEDED");
    assert_eq!(problem["quotas"], serde_json::json!(["minute"]));
    let retry_after: u64 = header(&denied, "retry-after").parse().unwrap();
    assert!((1..=6).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&denied, "ratelimit-policy"), FREE_POLICY);
    assert_eq!(
        header(&denied, "ratelimit"),
        format!("\"minute\";r=0;t={retry_after}")
    );
    assert_eq!(header(&denied, "x-ratelimit-remaining"), "0");

    // A signed checkout.session.completed for price_pro: the limit is pro's at once.
    let handled = trigger(
        &server,
        "checkout.session.completed",
        &tenant,
        &["--plan", "pro", "--event-id", "evt_walk_checkout"],
    );
    assert!(handled.contains(r#""outcome":"handled""#), "{handled}");
    let (response, body) = server.get_with_key("/v1/quote", &key).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert_eq!(header(&response, "ratelimit-policy"), PRO_POLICY);
    assert_eq!(header(&response, "x-ratelimit-remaining"), "299");
    let (_, whoami) = server.get_with_key("/v1/whoami", &key).await;
    assert_eq!(whoami["plan"], "pro");
    let (_, upgraded) = server
        .admin(Method::GET, &format!("/admin/tenants/{tenant}"), None)
        .await;
    assert_eq!(upgraded["plan"], "pro");
    assert_eq!(upgraded["subscription_status"], "active");
    assert_eq!(upgraded["subscriptions"][0]["price_id"], "price_pro");

    // The same event again changes nothing.
    let duplicate = trigger(
        &server,
        "checkout.session.completed",
        &tenant,
        &["--plan", "pro", "--event-id", "evt_walk_checkout"],
    );
    assert!(
        duplicate.contains(r#""outcome":"duplicate""#),
        "{duplicate}"
    );
    let (_, unchanged) = server
        .admin(Method::GET, &format!("/admin/tenants/{tenant}"), None)
        .await;
    assert_eq!(unchanged, upgraded);
    let (response, _) = server.get_with_key("/v1/quote", &key).await;
    assert_eq!(header(&response, "ratelimit-policy"), PRO_POLICY);
    assert_eq!(header(&response, "x-ratelimit-remaining"), "297");

    // A bad signature is refused with 400, and changes nothing either.
    let body = r#"{"id":"evt_forged","object":"event","type":"customer.subscription.deleted","created":1700000000,"data":{"object":{"id":"sub_x","customer":"cus_x","status":"canceled","metadata":{}}}}"#;
    let (forged, problem) = server
        .send(
            Request::post("/webhooks/stripe")
                .header("content-type", "application/json")
                .header(
                    "stripe-signature",
                    format!("t={},v1={}", support_now(), "ab".repeat(32)),
                )
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap(),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert_eq!(support::json(&problem)["code"], "WEBHOOK_SIGNATURE_INVALID");
    let wrong_secret = server.trigger(
        "customer.subscription.deleted",
        &tenant,
        &["--stripe-webhook-secret", "whsec_not_the_servers"],
    );
    assert_eq!(wrong_secret.status.code(), Some(1));
    let (_, still) = server
        .admin(Method::GET, &format!("/admin/tenants/{tenant}"), None)
        .await;
    assert_eq!(still["plan"], "pro");

    // customer.subscription.deleted: back to free.
    trigger(&server, "customer.subscription.deleted", &tenant, &[]);
    let (response, _) = server.get_with_key("/v1/quote", &key).await;
    assert_eq!(header(&response, "ratelimit-policy"), FREE_POLICY);
    let (_, cancelled) = server
        .admin(Method::GET, &format!("/admin/tenants/{tenant}"), None)
        .await;
    assert_eq!(cancelled["plan"], "free");
    assert_eq!(cancelled["subscription_status"], "canceled");

    // A revoked key gets 401.
    let (revoked, _) = server
        .admin(Method::DELETE, &format!("/admin/keys/{key_id}"), None)
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let (response, problem) = server.get_with_key("/v1/quote", &key).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "API_KEY_REVOKED");

    // The audit log, flushed by a graceful stop.
    let audit = server.audit_log();
    let stdout = server.stdout.join("\n");
    assert_eq!(server.stop().code(), Some(0));
    let text = std::fs::read_to_string(&audit).unwrap();
    let records = support::audit_records(&audit);
    let responses: Vec<&Value> = records
        .iter()
        .filter(|record| record["event"]["action"] == "response")
        .collect();
    let find = |path: &str, status: u64| {
        responses
            .iter()
            .find(|record| {
                record["url"]["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(path))
                    && record["http"]["response"]["status_code"] == status
            })
            .copied()
            .unwrap_or_else(|| panic!("no {status} record of {path} in {text}"))
    };
    // Admin actions, by the admin.
    let tenant_created = find("/admin/tenants", 201);
    assert_eq!(tenant_created["user"]["id"], "admin");
    assert_eq!(find("/admin/keys/", 204)["user"]["id"], "admin");
    // Webhooks, the forged one with its rejection code.
    find("/webhooks/stripe", 200);
    let refused = find("/webhooks/stripe", 400);
    assert_eq!(
        refused["portcullis"]["rejection"]["code"],
        "WEBHOOK_SIGNATURE_INVALID"
    );
    // Denied requests, with the key's id and the reason.
    let limited = find("/v1/quote", 429);
    assert_eq!(limited["portcullis"]["rejection"]["code"], "QUOTA_EXCEEDED");
    assert_eq!(limited["portcullis"]["api_key"]["id"], key_id.as_str());
    assert_eq!(limited["organization"]["id"], tenant.as_str());
    assert_eq!(limited["portcullis"]["rate_limit"]["allowed"], false);
    let unauthorized = find("/v1/quote", 401);
    assert_eq!(
        unauthorized["portcullis"]["rejection"]["code"],
        "API_KEY_REVOKED"
    );
    // Nothing secret in clear: not the key, not a signature, not the secrets.
    assert!(!text.contains(&key), "the API key is in the audit log");
    assert!(!text.contains("sk_live_"), "a key is in the audit log");
    assert!(!text.contains("v1="), "a signature is in the audit log");
    assert!(
        !text.contains(&"ab".repeat(32)),
        "the forged signature is in the audit log"
    );
    assert!(
        !text.contains("whsec_"),
        "a webhook secret is in the audit log"
    );
    assert!(
        !text.contains(support::ADMIN_TOKEN),
        "the admin token is in the audit log"
    );
    assert!(
        text.contains("hmac-sha256:"),
        "secrets are recorded as hashes"
    );
    assert!(stdout.contains("listening on"));
}

fn support_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
