//! Origin parsing and the CORS request path never panic, whatever the bytes.

use std::convert::Infallible;

use http::{HeaderValue, Method, Request, Response};
use portcullis_security_headers::cors::{AllowOrigin, CorsLayer, OriginPattern};
use proptest::prelude::*;
use tower::{Layer, Service, ServiceExt, service_fn};

fn layers() -> Vec<CorsLayer> {
    vec![
        CorsLayer::strict()
            .allow_origins_list("https://app.example.com,https://*.example.com")
            .unwrap(),
        CorsLayer::api()
            .allow_origins_list("https://app.example.com,https://*.example.com")
            .unwrap()
            .allow_credentials(true)
            .unwrap(),
        CorsLayer::development(),
        CorsLayer::new().insecure_allow_any_origin().unwrap(),
    ]
}

/// Bytes that are likely to look like an origin, and plain noise.
fn origin_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "(https?|wss?|[a-z]{1,5})://(\\*\\.)?[a-zA-Z0-9.\\-\\[\\]:_]{0,30}(:[0-9*]{0,7})?"
            .prop_map(String::into_bytes),
        Just(b"https://app.example.com".to_vec()),
        // Subdomains and lookalikes of the `https://*.example.com` pattern.
        "(https?)://([a-z]{1,6}\\.){0,2}(evil-)?example\\.com(\\.evil)?(:443|:8443)?"
            .prop_map(String::into_bytes),
    ]
}

fn header_value(bytes: &[u8]) -> Option<HeaderValue> {
    HeaderValue::from_bytes(bytes).ok()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn origin_parsing_never_panics(bytes in origin_bytes()) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = text.parse::<OriginPattern>();
        let _ = text.parse::<AllowOrigin>();
        if let Some(value) = header_value(&bytes) {
            let origins: AllowOrigin = "https://app.example.com,https://*.example.com,http://localhost".parse().unwrap();
            if origins.allows(&value) {
                // Only the listed origin, a subdomain of the pattern, or localhost.
                let origin = value.to_str().unwrap().to_ascii_lowercase();
                let listed = ["https://app.example.com", "http://localhost"]
                    .iter()
                    .any(|allowed| {
                        origin == *allowed || origin == format!("{allowed}:{}", if allowed.starts_with("https") { 443 } else { 80 })
                    });
                let subdomain = origin
                    .strip_prefix("https://")
                    .map(|host| host.trim_end_matches(":443"))
                    .is_some_and(|host| host.ends_with(".example.com") && host.len() > ".example.com".len());
                prop_assert!(listed || subdomain, "allowed {origin:?}");
            }
        }
    }

    #[test]
    fn parsed_patterns_round_trip(bytes in origin_bytes()) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(pattern) = text.parse::<OriginPattern>() {
            let shown = pattern.to_string();
            prop_assert_eq!(shown.parse::<OriginPattern>().unwrap(), pattern);
        }
    }

    #[test]
    fn request_path_never_panics(
        origin in origin_bytes(),
        method in proptest::collection::vec(any::<u8>(), 0..16),
        requested in proptest::collection::vec(any::<u8>(), 0..64),
        preflight in any::<bool>(),
        grpc in any::<bool>(),
    ) {
        let runtime = runtime();
        for layer in layers() {
            let mut request = Request::builder().method(if preflight { Method::OPTIONS } else { Method::POST });
            if let Some(origin) = header_value(&origin) {
                request = request.header("origin", origin);
            }
            if let Some(method) = header_value(&method) {
                request = request.header("access-control-request-method", method);
            }
            if let Some(requested) = header_value(&requested) {
                request = request.header("access-control-request-headers", requested);
            }
            if grpc {
                request = request.header("content-type", "application/grpc");
            }
            let request = request.body(()).unwrap();
            let mut service = layer.layer(service_fn(|_: Request<()>| async {
                Ok::<_, Infallible>(Response::new(String::new()))
            }));
            let response = runtime.block_on(async {
                service.ready().await.unwrap().call(request).await.unwrap()
            });
            let status = response.status().as_u16();
            prop_assert!(matches!(status, 200 | 204 | 403), "{}", status);
        }
    }
}
