//! Redaction by value: API keys (the published scanner pattern and every other key
//! format), Stripe secrets, JWTs and bearer tokens, sent anywhere a client can put
//! them, never reach a record in a shape a scanner finds; and hostile bodies (deep,
//! huge, wide JSON) are recorded in bounded time and size.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Request, Response};
use http_body_util::BodyExt;
use portcullis_audit_log::body::AuditBody;
use portcullis_audit_log::context::AuditContext;
use portcullis_audit_log::layer::AuditLayer;
use portcullis_audit_log::level::Level;
use portcullis_audit_log::sink::{Batch, CallbackSink};
use portcullis_core::client_ip::{PeerAddr, TrustedProxies};
use portcullis_core::secret::API_KEY_SCANNER_PATTERN;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use regex::Regex;
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// The shapes no record may hold: the published pattern first, then each kind as
/// `portcullis_core::secret` defines it.
struct Shapes {
    published: Regex,
    others: Vec<Regex>,
    bearer: Regex,
}

impl Shapes {
    fn new() -> Self {
        Self {
            published: Regex::new(API_KEY_SCANNER_PATTERN).unwrap(),
            others: [
                r"_(?:live|test)_[0-9A-Za-z]{16,}",
                r"whsec_[0-9A-Za-z]{8,}",
                r"eyJ[0-9A-Za-z_=-]*\.[0-9A-Za-z_=-]+\.",
            ]
            .iter()
            .map(|pattern| Regex::new(pattern).unwrap())
            .collect(),
            bearer: Regex::new(r"(?i)bearer[ \t]+([0-9A-Za-z._~+/-]{8,})").unwrap(),
        }
    }

    /// The first shape found in `text`, if any.
    fn find(&self, text: &str) -> Option<String> {
        if let Some(found) = self.published.find(text) {
            return Some(format!("published pattern: {}", found.as_str()));
        }
        for shape in &self.others {
            if let Some(found) = shape.find(text) {
                return Some(format!("{shape}: {}", found.as_str()));
            }
        }
        for found in self.bearer.captures_iter(text) {
            let credential = found.get(1).unwrap();
            // The redacted form, `Bearer hmac-sha256:<hex>`, is not a credential.
            let redacted =
                credential.as_str() == "hmac-sha256" && text[credential.end()..].starts_with(':');
            if !redacted {
                return Some(format!("bearer: {}", &found[0]));
            }
        }
        None
    }
}

/// Every string in a record, keys included, and the strings of a JSON body content.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            if let Ok(inner) = serde_json::from_str::<Value>(text)
                && (inner.is_object() || inner.is_array())
            {
                strings(&inner, out);
            }
            out.push(text.clone());
        }
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(map) => {
            for (key, child) in map {
                out.push(key.clone());
                strings(child, out);
            }
        }
        _ => {}
    }
}

fn base62(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".to_vec(),
        ),
        len,
    )
    .prop_map(|bytes| String::from_utf8(bytes).unwrap())
}

/// A secret of one of the shapes, as a client would paste it.
fn secret() -> impl Strategy<Value = String> {
    let env = prop_oneof![Just("live"), Just("test")];
    prop_oneof![
        // The default key format: what the published pattern finds.
        (env.clone(), base62(49..=49)).prop_map(|(env, body)| format!("sk_{env}_{body}")),
        // Other key formats, and Stripe's secret and restricted keys.
        ("[a-z0-9]{1,16}", env.clone(), base62(16..=80))
            .prop_map(|(tag, env, body)| format!("{tag}_{env}_{body}")),
        (prop_oneof![Just("sk"), Just("rk")], env, base62(24..=99))
            .prop_map(|(tag, env, body)| format!("{tag}_{env}_{body}")),
        base62(8..=64).prop_map(|body| format!("whsec_{body}")),
        (
            "[0-9A-Za-z_-]{0,30}",
            "[0-9A-Za-z_-]{1,40}",
            "[0-9A-Za-z_-]{0,43}"
        )
            .prop_map(|(header, claims, signature)| format!("eyJ{header}.{claims}.{signature}")),
        (
            prop_oneof![Just("Bearer"), Just("bearer"), Just("BEARER")],
            "[ \t]{1,2}",
            "[0-9A-Za-z._~+/-]{8,40}",
            "={0,2}"
        )
            .prop_map(|(scheme, space, token, padding)| format!("{scheme}{space}{token}{padding}")),
    ]
}

/// Percent-encodes what a URI cannot hold as is.
fn uri_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn form_encode(text: &str) -> String {
    uri_encode(text).replace("%20", "+")
}

/// Text around a secret: separators, words, nothing.
fn context() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .:,;=/_-]{0,6}"
}

/// A sink that keeps every JSON line and the human-readable form of every record.
fn recording_sink() -> (
    CallbackSink<
        impl FnMut(&Batch<'_>) -> Result<(), portcullis_audit_log::sink::SinkError> + Send,
    >,
    common::Lines,
) {
    let lines: common::Lines = Arc::default();
    let kept = lines.clone();
    let sink = CallbackSink::new(move |batch: &Batch<'_>| {
        let mut kept = kept.lock().unwrap();
        for line in batch.lines() {
            kept.push(line.json.to_owned());
            if let Some(record) = line.record {
                kept.push(record.to_human());
            }
        }
        Ok(())
    });
    (sink, lines)
}

#[derive(Debug, Clone)]
struct Case {
    secrets: Vec<String>,
    around: Vec<(String, String)>,
    trusted: bool,
    method_secret: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(secret(), 16),
        proptest::collection::vec((context(), context()), 16),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(secrets, around, trusted, method_secret)| Case {
            secrets,
            around,
            trusted,
            method_secret,
        })
}

#[test]
fn secrets_anywhere_in_a_request_or_response_never_reach_a_record() {
    let (sink, lines) = recording_sink();
    let layer = AuditLayer::new()
        .level(Level::RequestResponse)
        .body_limit(64 * 1024)
        .insecure_record_raw_bodies(true)
        .trusted_proxies(TrustedProxies::loopback())
        .hmac_secret(b"deployment")
        .sink(sink);
    let handle = layer.handle();
    let hasher = layer.clone();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |request: Request<AuditBody<String>>| async move {
            // The handler copies secrets into the principal, a label and its response.
            let echo = |name: &str| {
                request.headers()[name]
                    .to_str()
                    .map(str::to_owned)
                    .unwrap_or_default()
            };
            if let Some(context) = request.extensions().get::<AuditContext>() {
                context.set_user_id(echo("x-user"));
                context.label("note", echo("x-label"));
            }
            let form = echo("x-form");
            let mut response = Response::new(form);
            let headers = response.headers_mut();
            headers.insert(
                "content-type",
                "application/x-www-form-urlencoded".parse().unwrap(),
            );
            headers.insert("x-echo", echo("x-echo").parse().unwrap());
            let _ = request.into_body().collect().await;
            Ok::<_, Infallible>(response)
        },
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let shapes = Shapes::new();
    let mut runner = TestRunner::new(Config::with_cases(96));
    runner
        .run(&case(), |case| {
            lines.lock().unwrap().clear();
            let s = &case.secrets;
            let around = |index: usize| {
                let (before, after) = &case.around[index];
                format!("{before}{}{after}", s[index])
            };
            let uri = format!(
                "/v1/things/{}/x?key={}&access_key={}&note={}&{}=1&{}",
                uri_encode(&around(0)),
                uri_encode(&s[1]),
                uri_encode(&s[2]),
                uri_encode(&around(3)),
                uri_encode(&s[4]),
                form_encode(&around(5)),
            );
            let method = case
                .method_secret
                .then(|| Method::from_bytes(s[6].as_bytes()).ok())
                .flatten()
                .unwrap_or(Method::POST);
            let mut body = json!({
                "user": "ada",
                "profile": {"notes": [{"text": around(7)}, 42, null]},
            });
            body[around(8)] = json!({"nested": [[around(9)]]});
            let form = format!("a=1&b={}&{}=2", form_encode(&s[10]), form_encode(&s[11]));
            let mut request = Request::builder()
                .method(method)
                .uri(uri)
                .header("content-type", "application/json")
                .header("user-agent", format!("curl/8.5 {}", around(12)))
                .header("x-request-id", &s[13])
                .header("x-note", around(14))
                .header("x-user", &s[15])
                .header("x-label", around(13))
                .header("x-echo", around(1))
                .header("x-form", form)
                .body(body.to_string())
                .unwrap();
            if case.trusted {
                request
                    .extensions_mut()
                    .insert(PeerAddr("127.0.0.1:40000".parse().unwrap()));
            }
            let response = runtime.block_on(app.clone().oneshot(request)).unwrap();
            prop_assert_eq!(response.status(), 200);
            handle.flush_blocking(Duration::from_secs(10)).unwrap();
            let lines = lines.lock().unwrap().clone();
            prop_assert_eq!(lines.len(), 4, "{:?}", lines);
            let mut texts = lines.clone();
            for line in lines.iter().filter(|line| line.starts_with('{')) {
                let record: Value = serde_json::from_str(line).unwrap();
                strings(&record, &mut texts);
            }
            for text in &texts {
                if let Some(found) = shapes.find(text) {
                    return Err(TestCaseError::fail(format!("{found} in {text}")));
                }
            }
            let all = lines.join("\n");
            for secret in s {
                prop_assert!(!all.contains(secret.as_str()), "{} leaked: {}", secret, all);
            }
            // Still searchable: a secret sent as a whole value is recorded as its hash.
            prop_assert!(all.contains(&hasher.hash_for_search(&s[1])), "{}", all);
            prop_assert!(all.contains(r#"\"user\":\"ada\""#), "{}", all);
            Ok(())
        })
        .unwrap();
}

fn json_request(body: String) -> Request<String> {
    Request::post("/v1/import")
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

/// The layer around a handler that reads (and counts) the whole body.
fn reading_app(
    layer: AuditLayer,
) -> impl tower::Service<
    Request<String>,
    Response = Response<AuditBody<String>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    ServiceBuilder::new().layer(layer).service(service_fn(
        |request: Request<AuditBody<String>>| async move {
            let bytes = request.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(bytes.len().to_string()))
        },
    ))
}

const KEY: &str = "sk_live_C8ug9ZwB5ScTqEBm1hj5BDKgLNeYYhVOmoiWTksUla50QOcyb";

#[tokio::test]
async fn hostile_json_bodies_are_recorded_bounded() {
    let (sink, lines) = recording_sink();
    let layer = AuditLayer::new()
        .level(Level::Request)
        .body_limit(1024 * 1024)
        .hmac_secret(b"deployment")
        .sink(sink);
    let handle = layer.handle();
    let hasher = layer.clone();
    let app = reading_app(layer);
    let shapes = Shapes::new();
    let started = Instant::now();

    // Deeper than the JSON parser's limit: not parsed, recorded as its hash.
    let deep = format!("{}\"{KEY}\"{}", "[".repeat(100_000), "]".repeat(100_000));
    // As deep as it parses: the key at the bottom is found.
    let parsed = format!("{}\"{KEY}\"{}", "[".repeat(120), "]".repeat(120));
    // Wide: 10,000 keys in 10,000 fields, some as field names.
    let wide: serde_json::Map<String, Value> = (0..10_000)
        .map(|index| {
            if index % 2 == 0 {
                (format!("field{index}"), Value::String(format!("k {KEY}")))
            } else {
                (format!("{KEY}{index}"), Value::from(index))
            }
        })
        .collect();
    let wide = Value::Object(wide).to_string();
    let sizes = [deep.len(), parsed.len(), wide.len()];
    for body in [deep, parsed, wide] {
        let length = body.len();
        let response = app.clone().oneshot(json_request(body)).await.unwrap();
        let read = common::body_string(response.into_body()).await;
        assert_eq!(read, length.to_string(), "the handler got the whole body");
    }
    handle.flush().await.unwrap();
    // Seconds at most, on a loaded machine (milliseconds on an idle one).
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let lines: Vec<String> = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.starts_with('{'))
        .cloned()
        .collect();
    assert_eq!(lines.len(), 6);
    let records: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let deep_body = &records[0]["http"]["request"]["body"];
    assert!(deep_body["content"].is_null(), "{deep_body}");
    assert!(
        deep_body["hash"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    assert_eq!(deep_body["bytes"], sizes[0]);
    let parsed_body = records[2]["http"]["request"]["body"]["content"]
        .as_str()
        .unwrap();
    assert!(
        parsed_body.contains(&hasher.hash_for_search(KEY)),
        "{parsed_body}"
    );
    let wide_body = records[4]["http"]["request"]["body"]["content"]
        .as_str()
        .unwrap();
    assert_eq!(wide_body.matches("hmac-sha256:").count(), 10_000);
    // A record holds at most what was captured, hashed: bounded by the cap.
    for line in &lines {
        assert!(line.len() < 4 * 1024 * 1024, "{} bytes", line.len());
        assert!(
            shapes.find(line).is_none(),
            "{}",
            &line[..200.min(line.len())]
        );
    }
}

#[tokio::test]
async fn a_body_cut_at_the_cap_never_keeps_the_start_of_a_secret() {
    let (sink, lines) = recording_sink();
    let layer = AuditLayer::new()
        .level(Level::Request)
        .body_limit(64)
        .insecure_record_raw_bodies(true)
        .sink(sink);
    let handle = layer.handle();
    let app = reading_app(layer);
    // The cap falls 20 characters into the key: `sk_live_` and 12 of its 49.
    let body = format!("{}{KEY} and more", "x ".repeat(22));
    let request = Request::post("/v1/notes")
        .header("content-type", "text/plain")
        .body(body)
        .unwrap();
    app.oneshot(request).await.unwrap();
    handle.flush().await.unwrap();
    let lines = lines.lock().unwrap().clone();
    let content =
        serde_json::from_str::<Value>(&lines[0]).unwrap()["http"]["request"]["body"]["content"]
            .as_str()
            .unwrap()
            .to_owned();
    assert!(content.starts_with("x x x"), "{content}");
    assert!(!content.contains("sk_"), "{content}");
    assert!(!lines.join("\n").contains(&KEY[..20]));
}
