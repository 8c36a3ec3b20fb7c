//! Table-driven CORS cases after the Fetch standard's CORS protocol
//! (<https://fetch.spec.whatwg.org/#http-cors-protocol>).

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use portcullis_core::problem::Problem;
use portcullis_security_headers::cors::{CorsLayer, CorsRejection};
use tower::{Layer, ServiceExt, service_fn};

const APP: &str = "https://app.example.com";
const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// The inner service: marks its responses and, when asked, sets its own `Vary`.
async fn handler(request: Request<()>) -> Result<Response<String>, Infallible> {
    let mut response = Response::new(String::from("inner"));
    response
        .headers_mut()
        .insert("x-inner", http::HeaderValue::from_static("yes"));
    for vary in request.headers().get_all("x-handler-vary") {
        response.headers_mut().append("vary", vary.clone());
    }
    Ok(response)
}

async fn send(layer: &CorsLayer, method: Method, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut request = Request::builder().method(method).uri("/resource");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = layer
        .layer(service_fn(handler))
        .oneshot(request.body(()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

fn app() -> CorsLayer {
    CorsLayer::new()
        .allow_origins_list("https://app.example.com, https://*.example.com")
        .unwrap()
}

fn api() -> CorsLayer {
    CorsLayer::api()
        .allow_origins_list("https://app.example.com,https://*.example.com")
        .unwrap()
}

fn strict() -> CorsLayer {
    CorsLayer::strict()
        .allow_origins_list("https://app.example.com,https://*.example.com")
        .unwrap()
}

fn credentials() -> CorsLayer {
    api().allow_credentials(true).unwrap()
}

fn any() -> CorsLayer {
    CorsLayer::api().insecure_allow_any_origin().unwrap()
}

fn development() -> CorsLayer {
    CorsLayer::development()
}

fn private_network() -> CorsLayer {
    api().allow_private_network(true)
}

const GET: Method = Method::GET;
const OPTIONS: Method = Method::OPTIONS;

/// What a case expects of the response.
#[derive(Clone, Copy)]
enum Outcome {
    /// The inner service answered, with these headers (`None`: absent).
    Passed(&'static [(&'static str, Option<&'static str>)]),
    /// The layer answered 204, with these headers.
    Preflight(&'static [(&'static str, Option<&'static str>)]),
    /// The layer answered 403 with no `Access-Control-*` header, for this reason.
    Refused(CorsRejection),
}

struct Case {
    name: &'static str,
    layer: fn() -> CorsLayer,
    method: Method,
    headers: &'static [(&'static str, &'static str)],
    outcome: Outcome,
}

use CorsRejection as R;
use Outcome::{Passed, Preflight, Refused};

fn cases() -> Vec<Case> {
    vec![
        // ----- simple (actual) requests -----
        Case {
            name: "simple request from an allowed origin",
            layer: app,
            method: GET,
            headers: &[("origin", APP)],
            outcome: Passed(&[
                ("access-control-allow-origin", Some(APP)),
                ("access-control-allow-credentials", None),
                ("access-control-expose-headers", None),
                ("vary", Some("Origin")),
            ]),
        },
        Case {
            name: "same-origin request without Origin",
            layer: app,
            method: GET,
            headers: &[],
            outcome: Passed(&[
                ("access-control-allow-origin", None),
                ("vary", Some("Origin")),
            ]),
        },
        Case {
            name: "disallowed actual request passes through without CORS headers",
            layer: app,
            method: Method::POST,
            headers: &[("origin", "https://evil.example.net")],
            outcome: Passed(&[
                ("access-control-allow-origin", None),
                ("vary", Some("Origin")),
            ]),
        },
        Case {
            name: "strict refuses a disallowed actual request",
            layer: strict,
            method: Method::POST,
            headers: &[("origin", "https://evil.example.net")],
            outcome: Refused(R::Origin),
        },
        Case {
            name: "strict passes a request the browser marks same-origin",
            layer: strict,
            method: Method::POST,
            headers: &[
                ("origin", "https://self.example.org"),
                ("sec-fetch-site", "same-origin"),
            ],
            outcome: Passed(&[("access-control-allow-origin", None)]),
        },
        Case {
            name: "strict allows an allowed actual request",
            layer: strict,
            method: Method::POST,
            headers: &[("origin", APP)],
            outcome: Passed(&[("access-control-allow-origin", Some(APP))]),
        },
        Case {
            name: "exposed headers on actual responses only",
            layer: api,
            method: GET,
            headers: &[("origin", APP)],
            outcome: Passed(&[(
                "access-control-expose-headers",
                Some(
                    "ratelimit, ratelimit-policy, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, x-request-id, etag, location",
                ),
            )]),
        },
        Case {
            name: "credentials on actual responses",
            layer: credentials,
            method: GET,
            headers: &[("origin", APP)],
            outcome: Passed(&[
                ("access-control-allow-origin", Some(APP)),
                ("access-control-allow-credentials", Some("true")),
            ]),
        },
        // ----- origins: null, default port, case, wildcards -----
        Case {
            name: "null origin is never allowed (actual)",
            layer: app,
            method: GET,
            headers: &[("origin", "null")],
            outcome: Passed(&[("access-control-allow-origin", None)]),
        },
        Case {
            name: "null origin is never allowed (preflight)",
            layer: app,
            method: OPTIONS,
            headers: &[("origin", "null"), ("access-control-request-method", "GET")],
            outcome: Refused(R::Origin),
        },
        Case {
            name: "explicit default port is the same origin, echoed as sent",
            layer: app,
            method: GET,
            headers: &[("origin", "https://app.example.com:443")],
            outcome: Passed(&[(
                "access-control-allow-origin",
                Some("https://app.example.com:443"),
            )]),
        },
        Case {
            name: "other port is another origin",
            layer: app,
            method: GET,
            headers: &[("origin", "https://app.example.com:8443")],
            outcome: Passed(&[("access-control-allow-origin", None)]),
        },
        Case {
            name: "other scheme is another origin",
            layer: app,
            method: GET,
            headers: &[("origin", "http://app.example.com")],
            outcome: Passed(&[("access-control-allow-origin", None)]),
        },
        Case {
            name: "host compared case-insensitively",
            layer: app,
            method: GET,
            headers: &[("origin", "https://APP.Example.COM")],
            outcome: Passed(&[(
                "access-control-allow-origin",
                Some("https://APP.Example.COM"),
            )]),
        },
        Case {
            name: "wildcard matches one label",
            layer: app,
            method: GET,
            headers: &[("origin", "https://shop.example.com")],
            outcome: Passed(&[(
                "access-control-allow-origin",
                Some("https://shop.example.com"),
            )]),
        },
        Case {
            name: "wildcard matches several labels",
            layer: app,
            method: GET,
            headers: &[("origin", "https://a.b.example.com")],
            outcome: Passed(&[(
                "access-control-allow-origin",
                Some("https://a.b.example.com"),
            )]),
        },
        Case {
            name: "wildcard does not match the apex",
            layer: wildcard_only,
            method: GET,
            headers: &[("origin", "https://example.com")],
            outcome: Passed(&[("access-control-allow-origin", None)]),
        },
        Case {
            name: "wildcard does not match a look-alike suffix",
            layer: app,
            method: GET,
            headers: &[("origin", "https://evilexample.com")],
            outcome: Passed(&[("access-control-allow-origin", None)]),
        },
        Case {
            name: "wildcard does not match a longer domain",
            layer: app,
            method: OPTIONS,
            headers: &[
                ("origin", "https://app.example.com.evil.net"),
                ("access-control-request-method", "GET"),
            ],
            outcome: Refused(R::Origin),
        },
        Case {
            name: "origin with a path is malformed",
            layer: app,
            method: OPTIONS,
            headers: &[
                ("origin", "https://app.example.com/"),
                ("access-control-request-method", "GET"),
            ],
            outcome: Refused(R::Origin),
        },
        // ----- preflights -----
        Case {
            name: "allowed preflight",
            layer: api,
            method: OPTIONS,
            headers: &[
                ("origin", APP),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type,x-api-key"),
            ],
            outcome: Preflight(&[
                ("access-control-allow-origin", Some(APP)),
                (
                    "access-control-allow-methods",
                    Some("GET, HEAD, POST, PUT, PATCH, DELETE"),
                ),
                (
                    "access-control-allow-headers",
                    Some("content-type, authorization, x-api-key"),
                ),
                ("access-control-max-age", Some("7200")),
                ("access-control-allow-credentials", None),
                ("access-control-expose-headers", None),
                ("vary", Some(PREFLIGHT_VARY)),
                ("x-inner", None),
            ]),
        },
        Case {
            name: "preflight without requested headers",
            layer: app,
            method: OPTIONS,
            headers: &[("origin", APP), ("access-control-request-method", "POST")],
            outcome: Preflight(&[
                ("access-control-allow-origin", Some(APP)),
                ("access-control-allow-methods", Some("GET, HEAD, POST")),
                ("access-control-allow-headers", None),
                ("access-control-max-age", None),
            ]),
        },
        Case {
            name: "preflight with credentials",
            layer: credentials,
            method: OPTIONS,
            headers: &[("origin", APP), ("access-control-request-method", "DELETE")],
            outcome: Preflight(&[("access-control-allow-credentials", Some("true"))]),
        },
        Case {
            name: "requested header names compared case-insensitively",
            layer: api,
            method: OPTIONS,
            headers: &[
                ("origin", APP),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "Content-Type, X-API-KEY"),
            ],
            outcome: Preflight(&[("access-control-allow-origin", Some(APP))]),
        },
        Case {
            name: "requested headers with spaces and empty items",
            layer: api,
            method: OPTIONS,
            headers: &[
                ("origin", APP),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    " content-type , ,authorization,",
                ),
            ],
            outcome: Preflight(&[("access-control-allow-origin", Some(APP))]),
        },
        Case {
            name: "requested headers over several lines",
            layer: api,
            method: OPTIONS,
            headers: &[
                ("origin", APP),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
                ("access-control-request-headers", "x-secret"),
            ],
            outcome: Refused(R::Header),
        },
        Case {
            name: "preflight with a disallowed header",
            layer: api,
            method: OPTIONS,
            headers: &[
                ("origin", APP),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type, x-secret"),
            ],
            outcome: Refused(R::Header),
        },
        Case {
            name: "preflight with a disallowed method",
            layer: app,
            method: OPTIONS,
            headers: &[("origin", APP), ("access-control-request-method", "DELETE")],
            outcome: Refused(R::Method),
        },
        Case {
            name: "methods are case-sensitive",
            layer: api,
            method: OPTIONS,
            headers: &[("origin", APP), ("access-control-request-method", "patch")],
            outcome: Refused(R::Method),
        },
        Case {
            name: "preflight from a disallowed origin",
            layer: api,
            method: OPTIONS,
            headers: &[
                ("origin", "https://evil.example.net"),
                ("access-control-request-method", "GET"),
            ],
            outcome: Refused(R::Origin),
        },
        Case {
            name: "nothing allowed by default",
            layer: CorsLayer::new,
            method: OPTIONS,
            headers: &[("origin", APP), ("access-control-request-method", "GET")],
            outcome: Refused(R::Origin),
        },
        Case {
            name: "OPTIONS without Access-Control-Request-Method goes to the service",
            layer: app,
            method: OPTIONS,
            headers: &[("origin", APP)],
            outcome: Passed(&[("access-control-allow-origin", Some(APP))]),
        },
        Case {
            name: "OPTIONS without Origin goes to the service",
            layer: app,
            method: OPTIONS,
            headers: &[("access-control-request-method", "GET")],
            outcome: Passed(&[("access-control-allow-origin", None)]),
        },
        Case {
            name: "private network access when enabled",
            layer: private_network,
            method: OPTIONS,
            headers: &[
                ("origin", APP),
                ("access-control-request-method", "GET"),
                ("access-control-request-private-network", "true"),
            ],
            outcome: Preflight(&[("access-control-allow-private-network", Some("true"))]),
        },
        Case {
            name: "no private network access by default",
            layer: api,
            method: OPTIONS,
            headers: &[
                ("origin", APP),
                ("access-control-request-method", "GET"),
                ("access-control-request-private-network", "true"),
            ],
            outcome: Preflight(&[("access-control-allow-private-network", None)]),
        },
        // ----- Vary -----
        Case {
            name: "Vary merged into the handler's",
            layer: app,
            method: GET,
            headers: &[("origin", APP), ("x-handler-vary", "Accept-Encoding")],
            outcome: Passed(&[("vary", Some("Accept-Encoding, Origin"))]),
        },
        Case {
            name: "Vary not duplicated",
            layer: app,
            method: GET,
            headers: &[("origin", APP), ("x-handler-vary", "accept, origin")],
            outcome: Passed(&[("vary", Some("accept, origin"))]),
        },
        Case {
            name: "Vary * left alone",
            layer: app,
            method: GET,
            headers: &[("origin", APP), ("x-handler-vary", "*")],
            outcome: Passed(&[("vary", Some("*"))]),
        },
        Case {
            name: "Vary merged on disallowed pass-through too",
            layer: app,
            method: GET,
            headers: &[
                ("origin", "https://evil.example.net"),
                ("x-handler-vary", "Accept"),
            ],
            outcome: Passed(&[("vary", Some("Accept, Origin"))]),
        },
        // ----- any origin -----
        Case {
            name: "any origin answers * without Vary",
            layer: any,
            method: GET,
            headers: &[("origin", "https://whoever.example")],
            outcome: Passed(&[("access-control-allow-origin", Some("*")), ("vary", None)]),
        },
        Case {
            name: "any origin keeps the handler's Vary untouched",
            layer: any,
            method: GET,
            headers: &[
                ("origin", "https://whoever.example"),
                ("x-handler-vary", "Accept"),
            ],
            outcome: Passed(&[("vary", Some("Accept"))]),
        },
        Case {
            name: "any origin preflight varies on the request method and headers only",
            layer: any,
            method: OPTIONS,
            headers: &[
                ("origin", "https://whoever.example"),
                ("access-control-request-method", "PATCH"),
            ],
            outcome: Preflight(&[
                ("access-control-allow-origin", Some("*")),
                (
                    "vary",
                    Some("Access-Control-Request-Method, Access-Control-Request-Headers"),
                ),
            ]),
        },
        Case {
            name: "any origin still checks methods",
            layer: any,
            method: OPTIONS,
            headers: &[
                ("origin", "https://whoever.example"),
                ("access-control-request-method", "PROPFIND"),
            ],
            outcome: Refused(R::Method),
        },
        // ----- development -----
        Case {
            name: "development allows localhost on any port",
            layer: development,
            method: OPTIONS,
            headers: &[
                ("origin", "http://localhost:5173"),
                ("access-control-request-method", "PATCH"),
            ],
            outcome: Preflight(&[
                ("access-control-allow-origin", Some("http://localhost:5173")),
                ("access-control-max-age", None),
            ]),
        },
        Case {
            name: "development allows 127.0.0.1 without a port",
            layer: development,
            method: GET,
            headers: &[("origin", "http://127.0.0.1")],
            outcome: Passed(&[("access-control-allow-origin", Some("http://127.0.0.1"))]),
        },
        Case {
            name: "development allows [::1]",
            layer: development,
            method: GET,
            headers: &[("origin", "http://[::1]:3000")],
            outcome: Passed(&[("access-control-allow-origin", Some("http://[::1]:3000"))]),
        },
        Case {
            name: "development does not allow https://localhost",
            layer: development,
            method: OPTIONS,
            headers: &[
                ("origin", "https://localhost:5173"),
                ("access-control-request-method", "GET"),
            ],
            outcome: Refused(R::Origin),
        },
    ]
}

fn wildcard_only() -> CorsLayer {
    CorsLayer::new()
        .allow_origin("https://*.example.com")
        .unwrap()
}

fn assert_headers(
    name: &str,
    headers: &HeaderMap,
    expected: &[(&'static str, Option<&'static str>)],
) {
    for (header, value) in expected {
        let got: Vec<_> = headers.get_all(*header).iter().collect();
        match value {
            Some(value) => assert_eq!(got, [*value], "{name}: {header}"),
            None => assert!(
                got.is_empty(),
                "{name}: {header} should be absent, got {got:?}"
            ),
        }
    }
}

fn access_control_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn fetch_cors_cases() {
    let cases = cases();
    for case in &cases {
        let layer = (case.layer)();
        let response = send(&layer, case.method.clone(), case.headers).await;
        let headers = response.headers();
        match case.outcome {
            Passed(expected) => {
                assert_eq!(response.status(), StatusCode::OK, "{}", case.name);
                assert_eq!(headers["x-inner"], "yes", "{}", case.name);
                assert_headers(case.name, headers, expected);
            }
            Preflight(expected) => {
                assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", case.name);
                assert!(headers.get("x-inner").is_none(), "{}", case.name);
                assert!(response.body().is_empty(), "{}", case.name);
                assert_headers(case.name, headers, expected);
            }
            Refused(reason) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{}", case.name);
                assert!(headers.get("x-inner").is_none(), "{}", case.name);
                assert_eq!(
                    access_control_headers(headers),
                    Vec::<String>::new(),
                    "{}",
                    case.name
                );
                assert!(headers.get("vary").is_none(), "{}", case.name);
                assert_eq!(
                    headers["content-type"], "application/problem+json",
                    "{}",
                    case.name
                );
                assert_eq!(
                    response.extensions().get::<CorsRejection>(),
                    Some(&reason),
                    "{}",
                    case.name
                );
                let problem = response.extensions().get::<Problem>().expect(case.name);
                assert_eq!(problem.status(), StatusCode::FORBIDDEN);
                let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
                assert_eq!(json["status"], 403, "{}", case.name);
                let expected_code = if case.method == OPTIONS {
                    "CORS_PREFLIGHT_REJECTED"
                } else {
                    "CORS_ORIGIN_REJECTED"
                };
                assert_eq!(json["code"], expected_code, "{}", case.name);
            }
        }
    }
    assert!(cases.len() >= 40);
}

async fn refused_json(layer: &CorsLayer, headers: &[(&str, &str)]) -> serde_json::Value {
    let response = send(layer, OPTIONS, headers).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    serde_json::from_slice(response.body()).unwrap()
}

#[tokio::test]
async fn development_detail_names_what_was_refused() {
    let layer = CorsLayer::development();
    let origin = refused_json(
        &layer,
        &[
            ("origin", "https://evil.example.net"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(
        origin["detail"],
        "The origin `https://evil.example.net` is not allowed."
    );
    let method = refused_json(
        &layer,
        &[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "PROPFIND"),
        ],
    )
    .await;
    assert_eq!(method["detail"], "The method `PROPFIND` is not allowed.");
    let header = refused_json(
        &layer,
        &[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "GET"),
            (
                "access-control-request-headers",
                "content-type, X-Debug-Token",
            ),
        ],
    )
    .await;
    assert_eq!(
        header["detail"],
        "The request header `X-Debug-Token` is not allowed."
    );
}

#[tokio::test]
async fn other_presets_do_not_reveal_why() {
    for layer in [app(), api(), strict(), credentials()] {
        for headers in [
            &[
                ("origin", "https://evil.example.net"),
                ("access-control-request-method", "GET"),
            ][..],
            &[
                ("origin", APP),
                ("access-control-request-method", "PROPFIND"),
            ][..],
            &[
                ("origin", APP),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-debug-token"),
            ][..],
        ] {
            let response = send(&layer, OPTIONS, headers).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            let body = String::from_utf8(response.body().to_vec()).unwrap();
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(json.get("detail").is_none(), "{body}");
            assert_eq!(json["code"], "CORS_PREFLIGHT_REJECTED");
            assert_eq!(json["title"], "CORS preflight rejected");
            for secret in ["evil", "PROPFIND", "x-debug-token", "origin", "method"] {
                assert!(!body.contains(secret), "{secret} leaked in {body}");
            }
        }
    }
    let response = send(
        &strict(),
        Method::POST,
        &[("origin", "https://evil.example.net")],
    )
    .await;
    let body = String::from_utf8(response.body().to_vec()).unwrap();
    assert!(!body.contains("evil"), "{body}");
}

#[tokio::test]
async fn grpc_callers_get_a_grpc_status() {
    for (method, headers) in [
        (
            OPTIONS,
            &[
                ("origin", "https://evil.example.net"),
                ("access-control-request-method", "POST"),
                ("content-type", "application/grpc"),
            ][..],
        ),
        (
            Method::POST,
            &[
                ("origin", "https://evil.example.net"),
                ("content-type", "application/grpc+proto"),
            ][..],
        ),
    ] {
        let response = send(&strict(), method, headers).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "7");
        assert_eq!(response.headers()["content-type"], "application/grpc");
        assert!(access_control_headers(response.headers()).is_empty());
        assert_eq!(
            response.extensions().get::<CorsRejection>(),
            Some(&CorsRejection::Origin)
        );
    }
}

#[tokio::test]
async fn clones_share_one_configuration() {
    let layer = api();
    let clone = layer.clone();
    drop(layer);
    let response = send(
        &clone,
        OPTIONS,
        &[("origin", APP), ("access-control-request-method", "PATCH")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}
