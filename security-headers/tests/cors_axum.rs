//! `CorsLayer` in an axum `Router`.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use portcullis_security_headers::cors::CorsLayer;
use tower::ServiceExt;

fn app(cors: CorsLayer) -> Router {
    Router::new()
        .route(
            "/orders",
            get(|| async { ([("vary", "accept-encoding")], "[]") }).post(|| async { "created" }),
        )
        .layer(cors)
}

fn layer() -> CorsLayer {
    CorsLayer::api()
        .allow_origins_list("https://app.example.com,https://*.example.com")
        .unwrap()
        .allow_credentials(true)
        .unwrap()
}

#[tokio::test]
async fn preflight_answered_by_the_layer() {
    let response = app(layer())
        .oneshot(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/orders")
                .header("origin", "https://shop.example.com")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "Content-Type,Authorization",
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://shop.example.com"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(
        headers["access-control-allow-methods"],
        "GET, HEAD, POST, PUT, PATCH, DELETE"
    );
    assert_eq!(headers["access-control-max-age"], "7200");
    assert_eq!(
        headers["vary"],
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    );
}

#[tokio::test]
async fn refused_preflight_is_403_problem_json() {
    let response = app(layer())
        .oneshot(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/orders")
                .header("origin", "https://example.com")
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .headers()
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-"))
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["code"], "CORS_PREFLIGHT_REJECTED");
    assert!(json.get("detail").is_none());
}

#[tokio::test]
async fn actual_request_gets_cors_headers_and_merged_vary() {
    let response = app(layer())
        .oneshot(
            Request::builder()
                .uri("/orders")
                .header("origin", "https://app.example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(
        headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("retry-after")
    );
    assert_eq!(headers["vary"], "accept-encoding, Origin");
    assert_eq!(headers.get_all("vary").iter().count(), 1);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"[]");
}

#[tokio::test]
async fn refused_actual_request_passes_by_default_and_403s_when_strict() {
    let request = || {
        Request::builder()
            .method(Method::POST)
            .uri("/orders")
            .header("origin", "https://evil.example.net")
            .body(Body::empty())
            .unwrap()
    };
    let response = app(layer()).oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let response = app(layer().reject_disallowed_origins(true))
        .oneshot(request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["code"], "CORS_ORIGIN_REJECTED");
}

#[tokio::test]
async fn plain_options_reaches_the_router() {
    // No Access-Control-Request-Method: not a preflight. The router has no OPTIONS
    // handler for the route, so it answers 405 itself.
    let response = app(layer())
        .oneshot(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/orders")
                .header("origin", "https://app.example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[tokio::test]
async fn development_preset_in_a_router() {
    let response = app(CorsLayer::development())
        .oneshot(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/orders")
                .header("origin", "http://localhost:5173")
                .header("access-control-request-method", "DELETE")
                .header("access-control-request-headers", "x-debug")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        json["detail"],
        "The request header `x-debug` is not allowed."
    );
}
