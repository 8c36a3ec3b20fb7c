//! `Origin` and the CORS request headers, through `CorsLayer::strict()`.
//!
//! Properties:
//! - an accepted `Origin` (as configuration parses it) serializes to lower case
//!   without a default port, and that text re-parses to an equal origin;
//! - through the layer, with a fuzzed method, `Origin`,
//!   `Access-Control-Request-Method` and `Access-Control-Request-Headers`: the answer
//!   is the handler's 200, a 204 preflight or a 403, never anything else;
//!   `Access-Control-Allow-Origin`, when sent, is the request's `Origin` echoed and
//!   that origin is one the policy names (`https://app.example.com` or an `https`
//!   subdomain of `example.com` on the default port); a 403 carries no CORS header;
//!   a 204 answers only an `OPTIONS` with a request method.
#![no_main]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

use arbitrary::Arbitrary;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use portcullis_security_headers::cors::{CorsLayer, Origin};
use tower_layer::Layer;
use tower_service::Service;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    origin_text: &'a str,
    method: u8,
    custom_method: &'a [u8],
    origin: Option<&'a [u8]>,
    request_method: Option<&'a [u8]>,
    request_headers: Option<&'a [u8]>,
}

#[derive(Clone)]
struct Ok200;

impl Service<Request<()>> for Ok200 {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        ready(Ok(Response::new(String::from("ok"))))
    }
}

static LAYER: LazyLock<CorsLayer> = LazyLock::new(|| {
    CorsLayer::strict()
        .allow_origins_list("https://app.example.com,https://*.example.com")
        .unwrap()
});

fn named_by_policy(origin: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(origin) else {
        return false;
    };
    let Ok(origin) = text.parse::<Origin>() else {
        return false;
    };
    let host = origin.host();
    origin.scheme() == "https"
        && origin.port().is_none()
        && (host == "app.example.com"
            || host
                .strip_suffix(".example.com")
                .is_some_and(|sub| !sub.is_empty()))
}

fuzz_target!(|input: Input<'_>| {
    if let Ok(origin) = input.origin_text.parse::<Origin>() {
        let text = origin.to_string();
        assert_eq!(text, text.to_ascii_lowercase());
        let again: Origin = text.parse().expect("a serialized origin re-parses");
        assert_eq!(again, origin);
        assert_eq!(again.to_string(), text);
        assert!(!text.ends_with(":443") || origin.scheme() != "https");
    }

    let method = match input.method % 5 {
        0 => Method::GET,
        1 => Method::POST,
        2 => Method::DELETE,
        3 => Method::from_bytes(input.custom_method).unwrap_or(Method::PUT),
        _ => Method::OPTIONS,
    };
    let mut request = Request::builder().method(method.clone()).body(()).unwrap();
    let headers = request.headers_mut();
    let fields = [
        ("origin", input.origin),
        ("access-control-request-method", input.request_method),
        ("access-control-request-headers", input.request_headers),
    ];
    for (name, value) in fields {
        if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
            headers.insert(name, value);
        }
    }
    let origin = request.headers().get("origin").cloned();
    let has_request_method = request.headers().contains_key("access-control-request-method");

    let mut service = LAYER.layer(Ok200);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let Poll::Ready(Ok(response)) = pin!(service.call(request)).poll(&mut cx) else {
        panic!("the CORS layer did not answer at once");
    };
    let status = response.status();
    let allow_origin = response.headers().get("access-control-allow-origin");
    assert!(
        [StatusCode::OK, StatusCode::NO_CONTENT, StatusCode::FORBIDDEN].contains(&status),
        "{status}"
    );
    if let Some(allowed) = allow_origin {
        let origin = origin.as_ref().expect("an allow-origin with no Origin");
        assert_eq!(allowed, origin);
        assert!(
            named_by_policy(&origin.as_bytes().to_ascii_lowercase()),
            "allowed an origin the policy does not name: {origin:?}"
        );
        assert!(LAYER.allowed_origins().allows(origin));
    }
    if status == StatusCode::FORBIDDEN {
        assert!(
            !response
                .headers()
                .keys()
                .any(|name| name.as_str().starts_with("access-control-")),
            "{:?}",
            response.headers()
        );
    }
    if status == StatusCode::NO_CONTENT {
        assert_eq!(method, Method::OPTIONS);
        assert!(has_request_method && allow_origin.is_some());
    }
});
