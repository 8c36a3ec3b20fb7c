//! No secret ever reaches a sink: random secrets in every redacted place.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use common::memory_sink;
use http::{Request, Response};
use portcullis_audit_log::body::AuditBody;
use portcullis_audit_log::layer::AuditLayer;
use portcullis_audit_log::level::Level;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// Secrets that cannot occur by chance in the output: an upper-case start (hashes
/// are lower-case hex) and enough entropy.
fn secret() -> impl Strategy<Value = String> {
    "[A-Z][A-Za-z0-9]{15,31}"
}

/// A Luhn-valid 16-digit card number.
fn card() -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, 15).prop_map(|mut digits| {
        digits[0] = 4;
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(index, &digit)| {
                let digit = u32::from(digit);
                if index % 2 == 0 {
                    let doubled = digit * 2;
                    if doubled > 9 { doubled - 9 } else { doubled }
                } else {
                    digit
                }
            })
            .sum();
        digits.push(((10 - sum % 10) % 10) as u8);
        digits
            .iter()
            .map(|digit| char::from(b'0' + digit))
            .collect()
    })
}

#[test]
fn no_secret_ever_appears_in_any_record() {
    let (sink, lines) = memory_sink();
    let layer = AuditLayer::new()
        .level(Level::RequestResponse)
        .hmac_secret(b"deployment")
        .sink(sink);
    let handle = layer.handle();
    let hasher = layer.clone();
    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        |request: Request<AuditBody<String>>| async move {
            // The response carries secrets too: a cookie and a token (the API key's).
            let secret = request.headers()["x-api-key"].to_str().unwrap().to_owned();
            let mut response = Response::new(format!(r#"{{"access_token":"{secret}","ok":true}}"#));
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            response
                .headers_mut()
                .insert("set-cookie", format!("session={secret}").parse().unwrap());
            Ok::<_, Infallible>(response)
        },
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config::with_cases(64));
    let strategy = (
        proptest::collection::vec(secret(), 12),
        card(),
        any::<u32>().prop_map(|n| u64::from(n) + 1_000_000),
    );
    runner
        .run(&strategy, |(secrets, card, pin)| {
            lines.lock().unwrap().clear();
            let s = &secrets;
            let body = serde_json::json!({
                "user": "ada",
                "password": s[0],
                "profile": {
                    "api_key": s[1],
                    "sessions": [{"refresh_token": s[2]}, {"client-secret": {"value": s[3], "pin": pin}}],
                    "note": format!("card {card} on file"),
                },
                "new_password": s[4],
                "pin_token": pin,
                "remember_token": true,
            });
            let request = Request::post(format!(
                "/v1/login?page=1&token={}&Api-Key={}&memo={card}",
                s[5], s[6]
            ))
            .header("authorization", format!("Bearer {}", s[7]))
            .header("proxy-authorization", format!("Basic {}", s[8]))
            .header("cookie", format!("sid={}", s[9]))
            .header("x-api-key", &s[10])
            .header("stripe-signature", format!("t=1,v1={}", s[11]))
            .header("content-type", "application/json")
            .body(body.to_string())
            .unwrap();
            let response = runtime.block_on(app.clone().oneshot(request)).unwrap();
            prop_assert_eq!(response.status(), 200);
            handle.flush_blocking(Duration::from_secs(5)).unwrap();
            let output = lines.lock().unwrap().join("\n");
            prop_assert_eq!(output.lines().count(), 2);
            for secret in s {
                prop_assert!(!output.contains(secret.as_str()), "{} leaked: {}", secret, output);
            }
            prop_assert!(!output.contains(&card), "card leaked: {}", output);
            prop_assert!(!output.contains(&pin.to_string()), "pin leaked: {}", output);
            // Still searchable.
            let hash = hasher.hash_for_search(&s[0]);
            prop_assert!(output.contains(&hash));
            prop_assert!(output.contains(&hasher.hash_for_search(&pin.to_string())));
            prop_assert!(output.contains(&hasher.hash_for_search("true")));
            prop_assert!(output.contains(r#"\"user\":\"ada\""#));
            Ok(())
        })
        .unwrap();
}
