//! End-to-end: the real `billing-api` binary on a free port, spoken to over HTTP.

mod support;

use std::process::Command;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
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
    assert_eq!(body, Bytes::from_static(br#"{"status":"ok"}"#));
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

#[test]
fn bad_configuration_exits_2_with_one_line() {
    for args in [
        &["--trusted-proxies", "10.0.0.0/33"][..],
        &["--allowed-origins", "https://*.com"][..],
        &["--listen", "not-an-address"][..],
        &["--no-such-flag"][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_billing-api"))
            .args(args)
            .env_remove("LISTEN_ADDR")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            stderr
                .lines()
                .next()
                .is_some_and(|line| line.contains("error") || line.contains("invalid")),
            "{args:?}: {stderr}"
        );
    }
}
