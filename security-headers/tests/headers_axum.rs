//! The security headers layer in a real axum app: through `oneshot` and over TCP.
#![cfg(feature = "axum")]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use portcullis_core::client_ip::TrustedProxies;
use portcullis_security_headers::csp::{CspNonce, Directive, Source};
use portcullis_security_headers::headers::{SecurityHeadersLayer, SecurityHeadersOverride};
use tower::ServiceExt;

async fn page(nonce: CspNonce) -> Html<String> {
    Html(format!(
        r#"<!doctype html><script nonce="{nonce}">start()</script><style nonce="{nonce}">p{{}}</style>"#
    ))
}

async fn embeddable() -> impl IntoResponse {
    (
        SecurityHeadersOverride::new()
            .allow_framing_by([Source::SelfOrigin])
            .add_source(
                Directive::ConnectSrc,
                Source::host("https://api.example.com").unwrap(),
            ),
        Html("<p>widget</p>"),
    )
}

async fn cached() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=600")],
        "static text",
    )
}

async fn optional(nonce: Option<CspNonce>) -> String {
    nonce.map_or_else(|| "none".to_owned(), |n| n.to_string())
}

fn app(layer: SecurityHeadersLayer) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/embed", get(embeddable))
        .route("/cached", get(cached))
        .route("/optional", get(optional))
        .layer(layer)
}

fn nonce_in_csp(headers: &HeaderMap) -> String {
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    csp.split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned()
}

async fn body_text(response: axum::response::Response) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn extractor_gets_the_nonce_of_the_header() {
    let app = app(SecurityHeadersLayer::strict());
    let request = Request::get("https://example.com/")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let nonce = nonce_in_csp(&headers);
    assert_eq!(nonce.len(), 24);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        headers[header::STRICT_TRANSPORT_SECURITY],
        "max-age=63072000; includeSubDomains"
    );
    let body = body_text(response).await;
    assert_eq!(body.matches(&format!(r#"nonce="{nonce}""#)).count(), 2);
}

#[tokio::test]
async fn handlers_change_their_own_headers() {
    let app = app(SecurityHeadersLayer::strict());

    let response = app
        .clone()
        .oneshot(Request::get("/embed").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers[header::X_FRAME_OPTIONS], "SAMEORIGIN");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'self'"));
    assert!(csp.contains("connect-src 'self' https://api.example.com"));
    assert!(
        response
            .extensions()
            .get::<SecurityHeadersOverride>()
            .is_none()
    );

    let response = app
        .oneshot(Request::get("/cached").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=600"
    );
    assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
}

#[tokio::test]
async fn missing_layer_is_a_clear_problem() {
    let bare = Router::new()
        .route("/", get(page))
        .route("/optional", get(optional));
    let response = bare
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let problem: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(problem["code"], "CSP_NONCE_MISSING");
    assert_eq!(problem["status"], 500);

    let response = bare
        .oneshot(Request::get("/optional").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(body_text(response).await, "none");

    // With the layer, the optional extractor sees the nonce.
    let response = app(SecurityHeadersLayer::development())
        .oneshot(Request::get("/optional").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY_REPORT_ONLY]
        .to_str()
        .unwrap()
        .to_owned();
    let body = body_text(response).await;
    assert!(csp.contains(&format!("'nonce-{body}'")));
}

#[tokio::test]
async fn over_tcp_with_connect_info_and_a_trusted_proxy() {
    let layer = SecurityHeadersLayer::strict().trusted_proxies(TrustedProxies::loopback());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app(layer).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let fetch = |host: &'static str, proto: Option<&'static str>| async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let mut request = Request::get("/").header(header::HOST, host);
        if let Some(proto) = proto {
            request = request
                .header("x-forwarded-for", "198.51.100.7")
                .header("x-forwarded-proto", proto);
        }
        let response = sender
            .send_request(
                request
                    .body(http_body_util::Empty::<bytes::Bytes>::new())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (headers, String::from_utf8(body.to_vec()).unwrap())
    };

    // Our loopback proxy says the client used HTTPS: HSTS and upgrade.
    let (headers, body) = fetch("app.example.com", Some("https")).await;
    assert!(headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.ends_with("upgrade-insecure-requests"));
    assert!(body.contains(&nonce_in_csp(&headers)));

    // Plain HTTP, or an IP-literal host: neither.
    let (headers, _) = fetch("app.example.com", None).await;
    assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    let (headers, _) = fetch("127.0.0.1", Some("https")).await;
    assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    assert!(
        !headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("upgrade-insecure-requests")
    );

    // Two requests, two nonces.
    let (first, _) = fetch("app.example.com", None).await;
    let (second, _) = fetch("app.example.com", None).await;
    assert_ne!(nonce_in_csp(&first), nonce_in_csp(&second));

    server.abort();
}
