//! GitHub (`X-Hub-Signature-256`), Standard Webhooks (`webhook-signature`) and the
//! generic HMAC scheme.
//!
//! Properties, per scheme:
//! - what the scheme signs itself verifies;
//! - Standard and generic: the signature list with a fuzzed tail appended after the
//!   list separator still verifies (extra items are other signatures, never a reason
//!   to refuse a genuine one);
//! - a fuzzed signature header verifies only if it carries the genuine signature
//!   (GitHub: the header, trimmed and lower-cased, is the genuine one; Standard: the
//!   genuine base64 text's first 42 characters appear in it);
//! - a genuine signature never verifies a different body.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis_stripe_webhook::scheme::generic::GenericScheme;
use portcullis_stripe_webhook::scheme::github::{self, GithubScheme};
use portcullis_stripe_webhook::scheme::standard::StandardScheme;
use portcullis_stripe_webhook::scheme::{Encoding, WebhookScheme};
use portcullis_stripe_webhook::secret::Secret;

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    body: &'a [u8],
    other_body: &'a [u8],
    id: &'a str,
    timestamp: u32,
    tail: &'a [u8],
    header: &'a [u8],
    timestamp_text: &'a [u8],
}

fn github(input: &Input<'_>) {
    let scheme = GithubScheme::new(GITHUB_SECRET).unwrap();
    let genuine = github::test_header(GITHUB_SECRET, input.body);
    assert!(scheme.verify(input.body, &genuine).is_ok());
    if input.other_body != input.body {
        assert!(scheme.verify(input.other_body, &genuine).is_err());
    }
    if scheme.verify(input.body, input.header).is_ok() {
        let presented = input.header.trim_ascii().to_ascii_lowercase();
        assert_eq!(presented, genuine.as_bytes(), "a forged GitHub signature verified");
    }
}

fn standard(input: &Input<'_>) {
    let scheme = StandardScheme::new(STANDARD_SECRET).unwrap();
    let at = UNIX_EPOCH + Duration::from_secs(u64::from(input.timestamp));
    let timestamp = input.timestamp.to_string();
    let genuine = scheme.sign(input.id, i64::from(input.timestamp), input.body);
    let verify = |body: &[u8], list: &[u8]| scheme.verify_at(input.id, &timestamp, body, list, at);
    assert!(verify(input.body, genuine.as_bytes()).is_ok(), "{genuine}");
    let mut extended = genuine.clone().into_bytes();
    extended.push(b' ');
    extended.extend_from_slice(input.tail);
    assert!(
        verify(input.body, &extended).is_ok(),
        "a tail broke a genuine list: {:?}",
        String::from_utf8_lossy(&extended)
    );
    if input.other_body != input.body {
        assert!(verify(input.other_body, genuine.as_bytes()).is_err());
    }
    let stem = &genuine.as_bytes()[3..3 + 42];
    if verify(input.body, input.header).is_ok() {
        assert!(
            input.header.windows(stem.len()).any(|w| w == stem),
            "a forged Standard Webhooks signature verified"
        );
    }
    // A fuzzed timestamp header never panics, and verifies only as the genuine time.
    let outcome = scheme.verify_at(input.id, input.timestamp_text, input.body, &genuine, at);
    if outcome.is_ok() {
        assert_eq!(input.timestamp_text.trim_ascii(), timestamp.as_bytes());
    }
}

fn generic(input: &Input<'_>) {
    let scheme = GenericScheme::builder("x-signature")
        .prefix("sha256=")
        .separator(',')
        .encoding(Encoding::Hex)
        .signed_content("{timestamp}.{body}")
        .timestamp_header("x-timestamp")
        .secret(Secret::new("default", "generic-secret"))
        .build()
        .unwrap();
    let at = UNIX_EPOCH + Duration::from_secs(u64::from(input.timestamp));
    let genuine = scheme.sign(input.body, Some(i64::from(input.timestamp)), None);
    let headers = |signature: &[u8]| -> Option<HeaderMap> {
        let mut headers = HeaderMap::new();
        headers.insert("x-signature", HeaderValue::from_bytes(signature).ok()?);
        headers.insert("x-timestamp", HeaderValue::from(input.timestamp));
        Some(headers)
    };
    let genuine_headers = headers(genuine.as_bytes()).unwrap();
    assert!(scheme.verify_request(&genuine_headers, input.body, at).is_ok());
    if input.other_body != input.body {
        assert!(scheme.verify_request(&genuine_headers, input.other_body, at).is_err());
    }
    let mut extended = genuine.clone().into_bytes();
    extended.push(b',');
    extended.extend_from_slice(input.tail);
    if let Some(extended_headers) = headers(&extended) {
        assert!(
            scheme.verify_request(&extended_headers, input.body, at).is_ok(),
            "a tail broke a genuine generic signature: {:?}",
            String::from_utf8_lossy(&extended)
        );
    }
    if let Some(fuzzed) = headers(input.header)
        && scheme.verify_request(&fuzzed, input.body, at).is_ok()
    {
        let presented = input.header.to_ascii_lowercase();
        let stem = genuine.as_bytes();
        assert!(
            presented.windows(stem.len()).any(|w| w == stem),
            "a forged generic signature verified"
        );
    }
}

fuzz_target!(|input: Input<'_>| {
    github(&input);
    standard(&input);
    generic(&input);
});
