//! `Stripe-Signature` parsing and verification.
//!
//! Properties:
//! 1. A header made by `TestHeader` for `(secret, body, t)` verifies for `body` at `t`.
//! 2. The same header with `,` and a fuzzed tail appended still verifies, unless the
//!    tail holds an item whose key is exactly `t` (items are split on `,`, ASCII
//!    whitespace trimmed, the key is what precedes the first `=`): a second timestamp
//!    is refused as malformed. Nothing else in a tail may change the outcome.
//! 3. A valid header never verifies a different body.
//! 4. A fully fuzzed header never verifies (no one can forge HMAC-SHA256), and
//!    verification at any receive time never panics.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis_stripe_webhook::error::VerifyError;
use portcullis_stripe_webhook::signature::{StripeVerifier, TestHeader};

const SECRET: &str = "whsec_fuzz_secret";

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    body: &'a [u8],
    other_body: &'a [u8],
    timestamp: u32,
    with_v0: bool,
    tail: &'a [u8],
    header: &'a [u8],
    received_offset: i64,
}

fn tail_has_timestamp(tail: &[u8]) -> bool {
    tail.split(|&b| b == b',').any(|item| {
        let item = item.trim_ascii();
        item.iter()
            .position(|&b| b == b'=')
            .is_some_and(|equals| &item[..equals] == b"t")
    })
}

fuzz_target!(|input: Input<'_>| {
    let verifier = StripeVerifier::new(SECRET).unwrap();
    let timestamp = i64::from(input.timestamp);
    let sent = UNIX_EPOCH + Duration::from_secs(u64::from(input.timestamp));
    let mut builder = TestHeader::new(timestamp).signed_with(SECRET);
    if input.with_v0 {
        builder = builder.with_v0();
    }
    let header = builder.header_value(input.body);

    // 1.
    let verified = verifier.verify_at(input.body, &header, sent);
    assert_eq!(verified.map(|v| v.timestamp()), Ok(Some(timestamp)), "{header}");

    // 2.
    let mut extended = header.clone().into_bytes();
    extended.push(b',');
    extended.extend_from_slice(input.tail);
    let outcome = verifier.verify_at(input.body, &extended, sent);
    if tail_has_timestamp(input.tail) {
        assert!(
            matches!(outcome, Err(VerifyError::MalformedHeader { .. })),
            "a second `t=` in {:?} was not refused: {outcome:?}",
            String::from_utf8_lossy(&extended)
        );
    } else {
        assert!(
            outcome.is_ok(),
            "a tail that holds no `t=` broke a valid header {:?}: {outcome:?}",
            String::from_utf8_lossy(&extended)
        );
    }

    // 3.
    if input.other_body != input.body {
        assert!(verifier.verify_at(input.other_body, &header, sent).is_err());
    }

    // 4.
    let received = if input.received_offset >= 0 {
        sent.checked_add(Duration::from_secs(input.received_offset.unsigned_abs()))
    } else {
        sent.checked_sub(Duration::from_secs(input.received_offset.unsigned_abs()))
    };
    if let Some(received) = received {
        let outcome = verifier.verify_at(input.body, input.header, received);
        assert!(
            outcome.is_err(),
            "a fuzzed header verified: {:?}",
            String::from_utf8_lossy(input.header)
        );
    }
});
