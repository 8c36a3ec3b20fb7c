use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, Request, Response, header};
use portcullis_core::client_ip::{ForwardedHeader, PeerAddr, TrustedProxies};
use tower::{Service, ServiceExt, service_fn};

use super::*;
use crate::ConfigError;
use crate::csp::{CspNonce, Directive, Policy, Source};

/// Runs one request through `layer` around a handler that copies the request's nonce
/// into the response extensions and lets `prepare` shape the response.
async fn run_with(
    layer: &SecurityHeadersLayer,
    request: Request<()>,
    prepare: impl Fn(&mut Response<()>) + Clone + Send + 'static,
) -> (HeaderMap, Option<CspNonce>, Response<()>) {
    let service = tower_layer::Layer::layer(
        layer,
        service_fn(move |request: Request<()>| {
            let prepare = prepare.clone();
            async move {
                let mut response = Response::new(());
                if let Some(nonce) = request.extensions().get::<CspNonce>() {
                    response.extensions_mut().insert(*nonce);
                }
                prepare(&mut response);
                Ok::<_, Infallible>(response)
            }
        }),
    );
    let response = service.oneshot(request).await.unwrap();
    let nonce = response.extensions().get::<CspNonce>().copied();
    (response.headers().clone(), nonce, response)
}

async fn run(layer: &SecurityHeadersLayer, request: Request<()>) -> (HeaderMap, Option<CspNonce>) {
    let (headers, nonce, _) = run_with(layer, request, |_| {}).await;
    (headers, nonce)
}

fn get(uri: &str) -> Request<()> {
    Request::builder().uri(uri).body(()).unwrap()
}

fn with_host(uri: &str, host: &str) -> Request<()> {
    Request::builder()
        .uri(uri)
        .header(header::HOST, host)
        .body(())
        .unwrap()
}

fn from_peer(peer: &str, headers: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::builder()
        .uri("/")
        .header(header::HOST, "example.com");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(()).unwrap();
    request
        .extensions_mut()
        .insert(PeerAddr(peer.parse().unwrap()));
    request
}

fn names(headers: &HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = headers.keys().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    names
}

fn strict_csp(nonce: &CspNonce, https: bool) -> String {
    let mut csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; script-src-attr 'none'; \
         style-src 'nonce-{nonce}'; img-src 'self'; font-src 'self'; connect-src 'self'; \
         manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; \
         object-src 'none'"
    );
    if https {
        csp.push_str("; upgrade-insecure-requests");
    }
    csp
}

const PERMISSIONS: &str = "accelerometer=(), autoplay=(), camera=(), cross-origin-isolated=(), \
    display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), \
    keyboard-map=(), magnetometer=(), microphone=(), midi=(), payment=(), \
    picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(), \
    usb=(), web-share=(), xr-spatial-tracking=(), clipboard-read=(), clipboard-write=(), \
    gamepad=(), hid=(), idle-detection=(), interest-cohort=(), serial=(), unload=()";

// ----- presets -----

#[tokio::test]
async fn strict_preset_over_https_sends_exactly_these_headers() {
    let (headers, nonce) = run(&SecurityHeadersLayer::strict(), get("https://example.com/")).await;
    let nonce = nonce.expect("strict makes a nonce");
    let expected = [
        ("content-security-policy", strict_csp(&nonce, true)),
        (
            "strict-transport-security",
            "max-age=63072000; includeSubDomains".into(),
        ),
        ("x-frame-options", "DENY".into()),
        ("x-content-type-options", "nosniff".into()),
        ("referrer-policy", "no-referrer".into()),
        ("permissions-policy", PERMISSIONS.into()),
        ("cross-origin-opener-policy", "same-origin".into()),
        ("cross-origin-embedder-policy", "require-corp".into()),
        ("cross-origin-resource-policy", "same-origin".into()),
        ("origin-agent-cluster", "?1".into()),
        ("x-dns-prefetch-control", "off".into()),
        ("x-permitted-cross-domain-policies", "none".into()),
        ("x-download-options", "noopen".into()),
        ("x-xss-protection", "0".into()),
        ("cache-control", "no-store".into()),
    ];
    for (name, value) in &expected {
        assert_eq!(headers[*name], value.as_str(), "{name}");
    }
    let mut expected_names: Vec<String> = expected.iter().map(|(n, _)| (*n).to_owned()).collect();
    expected_names.sort();
    assert_eq!(names(&headers), expected_names);
}

#[tokio::test]
async fn strict_preset_over_http_has_no_hsts_and_no_upgrade() {
    let (headers, nonce) = run(
        &SecurityHeadersLayer::strict(),
        with_host("/", "example.com"),
    )
    .await;
    let nonce = nonce.unwrap();
    assert_eq!(
        headers["content-security-policy"],
        strict_csp(&nonce, false).as_str()
    );
    assert!(!headers.contains_key("strict-transport-security"));
    assert_eq!(headers.len(), 14);
}

#[tokio::test]
async fn api_preset_sends_exactly_these_headers() {
    let (headers, nonce) = run(
        &SecurityHeadersLayer::api(),
        get("https://api.example.com/v1"),
    )
    .await;
    assert_eq!(nonce, None);
    let expected = [
        ("cache-control", "no-store"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("cross-origin-resource-policy", "same-origin"),
        ("referrer-policy", "no-referrer"),
        (
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
    ];
    for (name, value) in expected {
        assert_eq!(headers[name], value, "{name}");
    }
    assert_eq!(
        names(&headers),
        expected
            .iter()
            .map(|(n, _)| n.to_string())
            .collect::<Vec<_>>()
    );
    // Plain HTTP: everything but HSTS.
    let (headers, _) = run(
        &SecurityHeadersLayer::api(),
        with_host("/v1", "api.example.com"),
    )
    .await;
    assert_eq!(headers.len(), 6);
    assert!(!headers.contains_key("strict-transport-security"));
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[tokio::test]
async fn development_preset_reports_only_and_never_pins_https() {
    let layer = SecurityHeadersLayer::development();
    for request in [
        with_host("/", "localhost:3000"),
        get("https://localhost:3000/"),
        get("https://example.com/"),
    ] {
        let (headers, nonce) = run(&layer, request).await;
        let nonce = nonce.unwrap();
        assert!(!headers.contains_key("content-security-policy"));
        assert_eq!(
            headers["content-security-policy-report-only"],
            strict_csp(&nonce, false).as_str()
        );
        assert!(!headers.contains_key("strict-transport-security"));
        assert!(!headers.contains_key("cross-origin-embedder-policy"));
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn new_layer_sends_nothing() {
    let (headers, nonce) = run(&SecurityHeadersLayer::new(), get("https://example.com/")).await;
    assert!(headers.is_empty());
    assert_eq!(nonce, None);
}

#[tokio::test]
async fn server_and_powered_by_are_removed() {
    let (headers, _, _) = run_with(&SecurityHeadersLayer::strict(), get("/"), |response| {
        let headers = response.headers_mut();
        headers.insert(header::SERVER, HeaderValue::from_static("nginx/1.0"));
        headers.insert("x-powered-by", HeaderValue::from_static("Express"));
    })
    .await;
    assert!(!headers.contains_key(header::SERVER));
    assert!(!headers.contains_key("x-powered-by"));
    let kept = SecurityHeadersLayer::strict().keep_response_header(header::SERVER);
    let (headers, _, _) = run_with(&kept, get("/"), |response| {
        response
            .headers_mut()
            .insert(header::SERVER, HeaderValue::from_static("portcullis"));
    })
    .await;
    assert_eq!(headers[header::SERVER], "portcullis");
}

// ----- nonce -----

#[tokio::test]
async fn nonce_is_fresh_128_bit_and_matches_the_header() {
    let layer = SecurityHeadersLayer::strict();
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let (headers, nonce) = run(&layer, get("https://example.com/")).await;
        let nonce = nonce.unwrap();
        assert!(STANDARD.decode(nonce.as_str()).unwrap().len() >= 16);
        assert!(seen.insert(nonce.as_str().to_owned()), "nonce repeated");
        let csp = headers["content-security-policy"].to_str().unwrap();
        let in_header: Vec<&str> = csp
            .split("'nonce-")
            .skip(1)
            .map(|rest| rest.split('\'').next().unwrap())
            .collect();
        assert_eq!(in_header, [nonce.as_str(), nonce.as_str()]);
    }
}

#[tokio::test]
async fn enforced_and_report_only_share_the_request_nonce() {
    let report_only = Policy::new()
        .directive(Directive::ScriptSrc, [Source::Nonce, Source::StrictDynamic])
        .unwrap();
    let layer = SecurityHeadersLayer::strict()
        .content_security_policy_report_only(report_only)
        .unwrap();
    let (headers, nonce) = run(&layer, get("/")).await;
    let nonce = nonce.unwrap();
    assert_eq!(
        headers["content-security-policy-report-only"],
        format!("script-src 'nonce-{nonce}' 'strict-dynamic'").as_str()
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(nonce.as_str())
    );
}

#[tokio::test]
async fn nonce_responses_get_no_store_unless_the_handler_chose() {
    let layer = SecurityHeadersLayer::new()
        .content_security_policy(Policy::strict())
        .unwrap();
    let (headers, _) = run(&layer, get("/")).await;
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");

    let (headers, _, _) = run_with(&layer, get("/"), |response| {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=60"),
        );
    })
    .await;
    assert_eq!(headers[header::CACHE_CONTROL], "private, max-age=60");

    // No nonce in the policy: no Cache-Control is invented.
    let static_policy = SecurityHeadersLayer::new()
        .content_security_policy(Policy::api())
        .unwrap();
    let (headers, nonce) = run(&static_policy, get("/")).await;
    assert_eq!(nonce, None);
    assert!(!headers.contains_key(header::CACHE_CONTROL));

    // The handler set its own CSP: no nonce went out, so no no-store either.
    let (headers, _, _) = run_with(&layer, get("/"), |response| {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
    })
    .await;
    assert!(!headers.contains_key(header::CACHE_CONTROL));
}

// ----- HTTPS detection -----

fn has_hsts(headers: &HeaderMap) -> bool {
    headers.contains_key(header::STRICT_TRANSPORT_SECURITY)
}

fn has_upgrade(headers: &HeaderMap) -> bool {
    headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("upgrade-insecure-requests")
}

#[tokio::test]
async fn https_from_the_uri_scheme() {
    let layer = SecurityHeadersLayer::strict();
    let (headers, _) = run(&layer, get("https://example.com/")).await;
    assert!(has_hsts(&headers) && has_upgrade(&headers));
    let (headers, _) = run(&layer, get("http://example.com/")).await;
    assert!(!has_hsts(&headers) && !has_upgrade(&headers));
    let (headers, _) = run(&layer, with_host("/", "example.com")).await;
    assert!(!has_hsts(&headers) && !has_upgrade(&headers));
}

#[tokio::test]
async fn https_from_a_trusted_proxy_only() {
    let layer = SecurityHeadersLayer::strict()
        .trusted_proxies("10.0.0.0/8".parse::<TrustedProxies>().unwrap());
    let xfp = [
        ("x-forwarded-for", "198.51.100.7"),
        ("x-forwarded-proto", "https"),
    ];

    let (headers, _) = run(&layer, from_peer("10.0.0.5:4000", &xfp)).await;
    assert!(has_hsts(&headers) && has_upgrade(&headers));

    // The same header from the internet is ignored.
    let (headers, _) = run(&layer, from_peer("203.0.113.9:4000", &xfp)).await;
    assert!(!has_hsts(&headers) && !has_upgrade(&headers));

    // No peer address known: forwarding headers are ignored too.
    let request = Request::builder()
        .uri("/")
        .header("host", "example.com")
        .header("x-forwarded-proto", "https")
        .body(())
        .unwrap();
    let (headers, _) = run(&layer, request).await;
    assert!(!has_hsts(&headers));

    // The default layer trusts no proxy at all.
    let (headers, _) = run(
        &SecurityHeadersLayer::strict(),
        from_peer("10.0.0.5:4000", &xfp),
    )
    .await;
    assert!(!has_hsts(&headers));

    // A trusted proxy saying http.
    let (headers, _) = run(
        &layer,
        from_peer("10.0.0.5:4000", &[("x-forwarded-proto", "http")]),
    )
    .await;
    assert!(!has_hsts(&headers));
}

#[tokio::test]
async fn https_from_a_trusted_forwarded_header() {
    let layer = SecurityHeadersLayer::api()
        .trusted_proxies(TrustedProxies::loopback())
        .forwarded_header(ForwardedHeader::Forwarded);
    let forwarded = [("forwarded", "for=198.51.100.7;proto=https")];
    let (headers, _) = run(&layer, from_peer("127.0.0.1:9000", &forwarded)).await;
    assert!(has_hsts(&headers));
    // X-Forwarded-Proto is not the header this proxy writes.
    let xfp = [
        ("x-forwarded-for", "198.51.100.7"),
        ("x-forwarded-proto", "https"),
    ];
    let (headers, _) = run(&layer, from_peer("127.0.0.1:9000", &xfp)).await;
    assert!(!has_hsts(&headers));
    // Order of the setters does not matter.
    let reversed = SecurityHeadersLayer::api()
        .forwarded_header(ForwardedHeader::Forwarded)
        .trusted_proxies(TrustedProxies::loopback());
    let (headers, _) = run(&reversed, from_peer("127.0.0.1:9000", &forwarded)).await;
    assert!(has_hsts(&headers));
}

#[tokio::test]
async fn assume_https_for_in_process_tls() {
    let layer = SecurityHeadersLayer::strict().assume_https(true);
    let (headers, _) = run(&layer, with_host("/", "example.com")).await;
    assert!(has_hsts(&headers) && has_upgrade(&headers));
    // A trusted proxy's explicit http still wins.
    let proxied = layer.clone().trusted_proxies(TrustedProxies::loopback());
    let (headers, _) = run(
        &proxied,
        from_peer(
            "127.0.0.1:1",
            &[
                ("x-forwarded-for", "198.51.100.1"),
                ("x-forwarded-proto", "http"),
            ],
        ),
    )
    .await;
    assert!(!has_hsts(&headers));
}

#[tokio::test]
async fn localhost_and_ip_literals_never_get_hsts() {
    let layer = SecurityHeadersLayer::strict()
        .assume_https(true)
        .trusted_proxies(TrustedProxies::loopback());
    for host in [
        "localhost",
        "localhost:3000",
        "app.localhost:8080",
        "127.0.0.1:8443",
        "[::1]:8443",
        "192.0.2.10",
        "[2001:db8::1]",
    ] {
        let (headers, _) = run(&layer, with_host("/", host)).await;
        assert!(!has_hsts(&headers) && !has_upgrade(&headers), "{host}");
        let (headers, _) = run(&layer, get(&format!("https://{host}/"))).await;
        assert!(
            !has_hsts(&headers) && !has_upgrade(&headers),
            "https://{host}"
        );
    }
    // Even when a trusted proxy says https.
    let mut request = from_peer(
        "127.0.0.1:1",
        &[
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-proto", "https"),
        ],
    );
    request
        .headers_mut()
        .insert(header::HOST, HeaderValue::from_static("localhost:8080"));
    let (headers, _) = run(&layer, request).await;
    assert!(!has_hsts(&headers));
}

// ----- the handler wins -----

#[tokio::test]
async fn headers_the_handler_set_are_never_overwritten() {
    let layer = SecurityHeadersLayer::strict()
        .reporting_endpoint("csp", "/csp")
        .unwrap();
    let handler_values: Vec<(&'static str, &'static str)> = vec![
        ("content-security-policy", "default-src 'self'"),
        ("content-security-policy-report-only", "default-src 'none'"),
        ("reporting-endpoints", "mine=\"/r\""),
        ("strict-transport-security", "max-age=60"),
        ("x-frame-options", "SAMEORIGIN"),
        ("x-content-type-options", "nosniff; custom"),
        ("referrer-policy", "origin"),
        ("permissions-policy", "camera=(self)"),
        ("cross-origin-opener-policy", "unsafe-none"),
        ("cross-origin-embedder-policy", "credentialless"),
        ("cross-origin-resource-policy", "cross-origin"),
        ("origin-agent-cluster", "?0"),
        ("x-dns-prefetch-control", "on"),
        ("x-permitted-cross-domain-policies", "all"),
        ("x-download-options", "custom"),
        ("x-xss-protection", "1"),
        ("cache-control", "public, max-age=3600"),
    ];
    let values = handler_values.clone();
    let (headers, _, _) = run_with(&layer, get("https://example.com/"), move |response| {
        for (name, value) in &values {
            response
                .headers_mut()
                .insert(*name, HeaderValue::from_static(value));
        }
    })
    .await;
    for (name, value) in handler_values {
        assert_eq!(headers.get_all(name).iter().count(), 1, "{name}");
        assert_eq!(headers[name], value, "{name}");
    }
}

// ----- per-response overrides -----

#[tokio::test]
async fn override_allows_framing_for_one_route() {
    let layer = SecurityHeadersLayer::strict();
    let (headers, _, response) = run_with(&layer, get("/embed"), |response| {
        response
            .extensions_mut()
            .insert(SecurityHeadersOverride::new().allow_framing_by([Source::SelfOrigin]));
    })
    .await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("; frame-ancestors 'self';"), "{csp}");
    assert_eq!(headers["x-frame-options"], "SAMEORIGIN");
    assert!(
        response
            .extensions()
            .get::<SecurityHeadersOverride>()
            .is_none()
    );

    let partner = Source::host("https://partner.example.com").unwrap();
    let (headers, _, _) = run_with(&layer, get("/embed"), move |response| {
        response.extensions_mut().insert(
            SecurityHeadersOverride::new().allow_framing_by([Source::SelfOrigin, partner.clone()]),
        );
    })
    .await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'self' https://partner.example.com"));
    assert!(!headers.contains_key("x-frame-options"));

    // Other routes are untouched.
    let (headers, _) = run(&layer, get("/")).await;
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn override_adds_a_source_and_keeps_the_nonce() {
    let layer = SecurityHeadersLayer::strict();
    let (headers, nonce, _) = run_with(&layer, get("https://example.com/live"), |response| {
        response.extensions_mut().insert(
            SecurityHeadersOverride::new()
                .add_source(
                    Directive::ConnectSrc,
                    Source::host("wss://live.example.com").unwrap(),
                )
                .set_directive(
                    Directive::ImgSrc,
                    [Source::SelfOrigin, Source::scheme("data").unwrap()],
                ),
        );
    })
    .await;
    let nonce = nonce.unwrap();
    let expected = strict_csp(&nonce, true)
        .replace(
            "connect-src 'self'",
            "connect-src 'self' wss://live.example.com",
        )
        .replace("img-src 'self'", "img-src 'self' data:");
    assert_eq!(headers["content-security-policy"], expected.as_str());
    assert_eq!(headers["cache-control"], "no-store");
}

#[tokio::test]
async fn override_skips_and_replaces_headers() {
    let layer = SecurityHeadersLayer::strict();
    let (headers, _, _) = run_with(&layer, get("https://example.com/"), |response| {
        response.extensions_mut().insert(
            SecurityHeadersOverride::new()
                .skip(SecurityHeader::CrossOriginEmbedderPolicy)
                .skip(SecurityHeader::StrictTransportSecurity)
                .skip(SecurityHeader::CacheControl)
                .replace(
                    SecurityHeader::PermissionsPolicy,
                    HeaderValue::from_static("camera=(self)"),
                ),
        );
    })
    .await;
    assert!(!headers.contains_key("cross-origin-embedder-policy"));
    assert!(!headers.contains_key("strict-transport-security"));
    assert!(!headers.contains_key("cache-control"));
    assert_eq!(headers["permissions-policy"], "camera=(self)");
    assert_eq!(headers["x-frame-options"], "DENY");

    let (headers, _, _) = run_with(&layer, get("/"), |response| {
        response
            .extensions_mut()
            .insert(SecurityHeadersOverride::new().skip(SecurityHeader::ContentSecurityPolicy));
    })
    .await;
    assert!(!headers.contains_key("content-security-policy"));
    // No nonce went out with the response, so no no-store is forced; the preset's
    // Cache-Control still applies.
    assert_eq!(headers["cache-control"], "no-store");
}

#[tokio::test]
async fn override_edits_the_report_only_policy_too() {
    let layer = SecurityHeadersLayer::development();
    let (headers, _, _) = run_with(&layer, get("/"), |response| {
        response.extensions_mut().insert(
            SecurityHeadersOverride::new().add_source(Directive::MediaSrc, Source::SelfOrigin),
        );
    })
    .await;
    assert!(
        headers["content-security-policy-report-only"]
            .to_str()
            .unwrap()
            .contains("; media-src 'self'")
    );
}

// ----- configuration errors -----

#[test]
fn strict_refuses_unsafe_inline_scripts() {
    let script = Policy::new()
        .directive(Directive::ScriptSrc, [Source::Nonce, Source::UnsafeInline])
        .unwrap();
    assert!(matches!(
        SecurityHeadersLayer::strict().content_security_policy(script.clone()),
        Err(ConfigError::UnsafeInlineScriptInStrict {
            directive: "script-src"
        })
    ));
    let fallback = Policy::new()
        .directive(
            Directive::DefaultSrc,
            [Source::SelfOrigin, Source::UnsafeInline],
        )
        .unwrap();
    assert!(matches!(
        SecurityHeadersLayer::strict().content_security_policy(fallback),
        Err(ConfigError::UnsafeInlineScriptInStrict {
            directive: "default-src"
        })
    ));
    let attr = Policy::new()
        .directive(Directive::ScriptSrc, [Source::Nonce])
        .unwrap()
        .directive(Directive::ScriptSrcAttr, [Source::UnsafeInline])
        .unwrap();
    assert!(
        SecurityHeadersLayer::strict()
            .content_security_policy(attr)
            .is_err()
    );
    // Styles are not scripts; other presets do not refuse it; report-only only reports.
    let style = Policy::new()
        .directive(Directive::StyleSrc, [Source::UnsafeInline])
        .unwrap();
    assert!(
        SecurityHeadersLayer::strict()
            .content_security_policy(style)
            .is_ok()
    );
    assert!(
        SecurityHeadersLayer::api()
            .content_security_policy(script.clone())
            .is_ok()
    );
    assert!(
        SecurityHeadersLayer::strict()
            .content_security_policy_report_only(script)
            .is_ok()
    );
}

#[test]
fn hsts_preload_is_refused_without_its_requirements() {
    use std::time::Duration;
    let short = Hsts::new(Duration::from_secs(86_400))
        .include_subdomains()
        .preload();
    assert!(matches!(
        SecurityHeadersLayer::strict().hsts(short),
        Err(ConfigError::HstsPreloadRequirements {
            max_age: 86_400,
            ..
        })
    ));
    let no_subdomains = Hsts::new(Hsts::TWO_YEARS).preload();
    assert!(SecurityHeadersLayer::strict().hsts(no_subdomains).is_err());
    assert!(
        SecurityHeadersLayer::strict()
            .hsts(Hsts::two_years().preload())
            .is_ok()
    );
    assert!(
        SecurityHeadersLayer::strict()
            .hsts(Duration::from_secs(600))
            .is_ok()
    );
}

#[test]
fn empty_policies_and_bad_endpoints_are_refused() {
    assert!(matches!(
        SecurityHeadersLayer::new().content_security_policy(Policy::new()),
        Err(ConfigError::EmptyPolicy)
    ));
    assert!(matches!(
        SecurityHeadersLayer::new().reporting_endpoint("csp", "http://example.com/r"),
        Err(ConfigError::InvalidReportingEndpoint { .. })
    ));
    let layer = SecurityHeadersLayer::new()
        .reporting_endpoint("csp", "/r")
        .unwrap();
    assert!(matches!(
        layer.reporting_endpoint("csp", "/s"),
        Err(ConfigError::DuplicateReportingEndpoint { .. })
    ));
}

// ----- service plumbing -----

#[test]
fn clones_share_one_state() {
    let layer = SecurityHeadersLayer::strict();
    let copy = layer.clone();
    assert!(layer.shares_state_with(&copy));
    let service = tower_layer::Layer::layer(
        &layer,
        service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }),
    );
    assert!(service.clone().shares_state_with_layer(&layer));
    // Changing a clone does not change the original.
    let changed = copy.without(SecurityHeader::XFrameOptions);
    assert!(!layer.shares_state_with(&changed));
    assert!(layer.header_value(SecurityHeader::XFrameOptions).is_some());
}

#[tokio::test]
async fn errors_pass_through_and_poll_ready_delegates() {
    #[derive(Clone)]
    struct Counting(std::sync::Arc<AtomicUsize>);
    impl Service<Request<()>> for Counting {
        type Response = Response<()>;
        type Error = &'static str;
        type Future = std::future::Ready<Result<Response<()>, &'static str>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Err("boom"))
        }
    }
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let mut service = SecurityHeaders::new(Counting(count.clone()), SecurityHeadersLayer::strict());
    let result = service.ready().await.unwrap().call(get("/")).await;
    assert_eq!(result.unwrap_err(), "boom");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(service.get_ref().0.load(Ordering::SeqCst), 1);
    let _ = service.get_mut();
    let _inner: Counting = service.into_inner();
}
