//! `portcullis-stripe-webhook` against a bare HMAC-SHA256 of the same bytes and
//! against `async-stripe`'s webhook verification (`async-stripe-webhook`), same run.
//!
//! For 2 KiB and 64 KiB events (throughput in bytes of body):
//!
//! - `hmac_sha256_bare`: `Hmac::<Sha256>::new_from_slice(secret)`, then the signed
//!   content `"{t}.{body}"`, then `finalize`: what any verifier must at least do.
//!   Target: `portcullis_verify` ≥ 0.9× its throughput.
//! - `hmac_sha256_prekeyed`: the same from a key state prepared once (what the
//!   verifier does), the floor of the floor.
//! - `portcullis_verify`: `StripeVerifier::verify_at` on the header value (parse, one
//!   HMAC, constant-time compare, tolerance).
//! - `portcullis_verify_and_parse`: the above plus `Event::from_slice` (envelope, then
//!   `Unknown(serde_json::Value)` for this type): the same work as `construct_event`.
//! - `async_stripe_construct_event`: `stripe_webhook::Webhook::
//!   construct_event_with_timestamp`, which verifies and then parses (it offers no
//!   verification alone). Target: `portcullis_verify_and_parse` ≥ 1.0× its throughput.
//!
//! The event's type is one neither library types (`portcullis.bench.padded`), so both
//! keep the object as generic JSON: the comparison is of verification plus envelope
//! parsing, not of typed-model breadth.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use portcullis_stripe_webhook::event::Event;
use portcullis_stripe_webhook::signature::{StripeVerifier, test_header};
use sha2::Sha256;

const SECRET: &str = "whsec_bench_secret_0123456789abcdef";
const TIMESTAMP: i64 = 1_700_000_000;

/// A Stripe-shaped event of about `size` bytes: the padding sits in the object's
/// metadata, as a large real event's fields would.
fn event(size: usize) -> String {
    let head = r#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2023-10-16","created":1700000000,"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"portcullis.bench.padded","data":{"object":{"id":"obj_123","object":"bench","metadata":{"#;
    let tail = r#"}}}}"#;
    let mut body = String::from(head);
    let mut i = 0;
    while body.len() + tail.len() + 40 < size {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(r#""key_{i:05}":"value_{i:05}_abcdefghij""#));
        i += 1;
    }
    body.push_str(tail);
    body
}

fn verification(c: &mut Criterion) {
    let verifier = StripeVerifier::new(SECRET).unwrap();
    let received = UNIX_EPOCH + Duration::from_secs(TIMESTAMP as u64 + 5);
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();

    for (name, size) in [("2KiB", 2 * 1024), ("64KiB", 64 * 1024)] {
        let body = event(size);
        let header = test_header(SECRET, body.as_bytes(), TIMESTAMP);
        // Every contender accepts this delivery.
        verifier
            .verify_at(body.as_bytes(), &header, received)
            .unwrap();
        Event::from_slice(body.as_bytes()).unwrap();
        stripe_webhook::Webhook::construct_event_with_timestamp(
            &body,
            &header,
            SECRET,
            TIMESTAMP + 5,
        )
        .unwrap_or_else(|error| panic!("async-stripe refused the event: {error:?}"));

        let mut group = c.benchmark_group(format!("stripe_webhook/verify_{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        let t = TIMESTAMP.to_string();

        group.bench_function("hmac_sha256_bare", |b| {
            b.iter(|| {
                let mut mac =
                    <Hmac<Sha256> as Mac>::new_from_slice(black_box(SECRET).as_bytes()).unwrap();
                mac.update(t.as_bytes());
                mac.update(b".");
                mac.update(black_box(body.as_bytes()));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_function("hmac_sha256_prekeyed", |b| {
            b.iter(|| {
                let mut mac = keyed.clone();
                mac.update(t.as_bytes());
                mac.update(b".");
                mac.update(black_box(body.as_bytes()));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_function("portcullis_verify", |b| {
            b.iter(|| {
                black_box(
                    verifier
                        .verify_at(black_box(body.as_bytes()), black_box(&header), received)
                        .is_ok(),
                )
            })
        });
        group.bench_function("portcullis_verify_and_parse", |b| {
            b.iter(|| {
                verifier
                    .verify_at(black_box(body.as_bytes()), black_box(&header), received)
                    .unwrap();
                black_box(Event::from_slice(black_box(body.as_bytes())).unwrap())
            })
        });
        group.bench_function("async_stripe_construct_event", |b| {
            b.iter(|| {
                black_box(
                    stripe_webhook::Webhook::construct_event_with_timestamp(
                        black_box(&body),
                        black_box(&header),
                        SECRET,
                        TIMESTAMP + 5,
                    )
                    .unwrap(),
                )
            })
        });
        group.finish();
    }
}

criterion_group!(benches, verification);
criterion_main!(benches);
