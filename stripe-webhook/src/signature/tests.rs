use std::time::{Duration, UNIX_EPOCH};

use http::HeaderMap;
use portcullis_core::clock::ManualClock;
use proptest::prelude::*;

use super::*;
use crate::error::VerifyError;
use crate::scheme::WebhookScheme;
use crate::secret::Secret;
use crate::tolerance::Tolerance;

const SECRET: &str = "whsec_test_secret";
const BODY: &[u8] = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
const HEADER: &str =
    "t=1700000000,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150";
const T: u64 = 1_700_000_000;

fn at(seconds: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[test]
fn stripe_public_vector_is_valid_when_sent() {
    let verifier = StripeVerifier::new(SECRET).unwrap();
    let verification = verifier.verify_at(BODY, HEADER, at(T)).unwrap();
    assert_eq!(verification.secret(), "default");
    assert_eq!(verification.timestamp(), Some(1_700_000_000));
    assert_eq!(test_header(SECRET, BODY, 1_700_000_000), HEADER);
}

#[test]
fn stripe_public_vector_is_stale_a_day_later() {
    let verifier = StripeVerifier::new(SECRET)
        .unwrap()
        .clock(ManualClock::at_unix(Duration::from_secs(T + 86_400)));
    let error = verifier.verify(BODY, HEADER).unwrap_err();
    assert_eq!(
        error,
        VerifyError::TimestampTooOld {
            age: Duration::from_secs(86_400),
            tolerance: Duration::from_secs(300),
        }
    );
}

#[test]
fn tolerance_edges_past_and_future_with_a_manual_clock() {
    let clock = ManualClock::at_unix(Duration::from_secs(T));
    let verifier = StripeVerifier::new(SECRET)
        .unwrap()
        .tolerance(Tolerance::new(Duration::from_secs(300)).future_skew(Duration::from_secs(10)))
        .clock(clock.clone());
    // Exactly 300 s old: accepted; 301 s: refused with its age.
    clock.set(at(T + 300));
    assert!(verifier.verify(BODY, HEADER).is_ok());
    clock.set(at(T + 301));
    assert!(matches!(
        verifier.verify(BODY, HEADER),
        Err(VerifyError::TimestampTooOld { age, .. }) if age == Duration::from_secs(301)
    ));
    // 10 s in the future: accepted; 11 s: refused.
    clock.set(at(T - 10));
    assert!(verifier.verify(BODY, HEADER).is_ok());
    clock.set(at(T - 11));
    assert!(matches!(
        verifier.verify(BODY, HEADER),
        Err(VerifyError::TimestampInFuture { ahead, allowance })
            if ahead == Duration::from_secs(11) && allowance == Duration::from_secs(10)
    ));
}

#[test]
fn verify_at_a_receive_time_serves_queued_events() {
    // Processed an hour after receipt: the clock would refuse it, the receive time not.
    let verifier = StripeVerifier::new(SECRET)
        .unwrap()
        .clock(ManualClock::at_unix(Duration::from_secs(T + 3_600)));
    assert!(verifier.verify(BODY, HEADER).is_err());
    assert!(verifier.verify_at(BODY, HEADER, at(T + 5)).is_ok());
}

#[test]
fn old_secret_v1_good_v1_and_v0_in_one_header() {
    let header = TestHeader::new(1_700_000_000)
        .signed_with("whsec_old_rolled_secret")
        .signed_with(SECRET)
        .with_v0()
        .header_value(BODY);
    assert_eq!(header.matches("v1=").count(), 2);
    let verifier = StripeVerifier::new(SECRET).unwrap();
    assert_eq!(
        verifier.verify_at(BODY, &header, at(T)).unwrap().secret(),
        "default"
    );
    // The good one first, the old one last: still found (unlike a last-v1-only parser).
    let reversed = TestHeader::new(1_700_000_000)
        .signed_with(SECRET)
        .signed_with("whsec_old_rolled_secret")
        .header_value(BODY);
    assert!(verifier.verify_at(BODY, &reversed, at(T)).is_ok());
}

#[test]
fn several_local_secrets_name_the_match() {
    let verifier = StripeVerifier::with_secrets([
        Secret::new("endpoint-a", "whsec_endpoint_a"),
        Secret::new("endpoint-b", SECRET),
        Secret::new("endpoint-c", "whsec_endpoint_c"),
    ])
    .unwrap();
    let verification = verifier.verify_at(BODY, HEADER, at(T)).unwrap();
    assert_eq!(verification.secret(), "endpoint-b");
    let header_c = test_header("whsec_endpoint_c", BODY, 1_700_000_000);
    assert_eq!(
        verifier.verify_at(BODY, &header_c, at(T)).unwrap().secret(),
        "endpoint-c"
    );
    let foreign = test_header("whsec_someone_else", BODY, 1_700_000_000);
    assert_eq!(
        verifier.verify_at(BODY, &foreign, at(T)).unwrap_err(),
        VerifyError::Mismatch {
            candidates: 1,
            secrets: 3
        }
    );
}

#[test]
fn a_v0_only_header_is_no_signature_not_a_downgrade() {
    let verifier = StripeVerifier::new(SECRET).unwrap();
    let v0_only = HEADER.replace("v1=", "v0=");
    assert_eq!(
        verifier.verify_at(BODY, &v0_only, at(T)).unwrap_err(),
        VerifyError::NoSignature { scheme: "v1" }
    );
}

#[test]
fn spaces_after_commas_and_uppercase_hex_are_tolerated() {
    let verifier = StripeVerifier::new(SECRET).unwrap();
    let spaced = HEADER.replace(',', ", ");
    assert!(verifier.verify_at(BODY, &spaced, at(T)).is_ok());
    let upper = format!("t=1700000000,v1={}", HEADER[16..].to_uppercase());
    assert!(verifier.verify_at(BODY, &upper, at(T)).is_ok());
}

#[test]
fn the_signature_is_checked_before_the_timestamp() {
    let verifier = StripeVerifier::new(SECRET).unwrap();
    let forged = test_header("whsec_forger", BODY, 1_700_000_000);
    // Forged and stale: reported as a mismatch, not as stale.
    assert!(matches!(
        verifier.verify_at(BODY, &forged, at(T + 86_400)),
        Err(VerifyError::Mismatch { .. })
    ));
}

#[test]
fn reserialized_body_mismatch_hints_at_the_cause() {
    let verifier = StripeVerifier::new(SECRET).unwrap();
    let compact = br#"{"id":"evt_test_webhook","object":"event"}"#;
    let error = verifier.verify_at(compact, HEADER, at(T)).unwrap_err();
    assert!(error.to_string().contains("re-serialized"), "{error}");
}

#[test]
fn missing_header_is_reported_by_the_scheme() {
    let verifier = StripeVerifier::new(SECRET).unwrap();
    let error = verifier
        .verify_request(&HeaderMap::new(), BODY, at(T))
        .unwrap_err();
    assert_eq!(error.kind(), "missing_header");
    assert_eq!(error.to_string(), "header `stripe-signature` is missing");
}

#[test]
fn secrets_with_whitespace_are_refused_at_build_time() {
    for secret in ["whsec_abc\n", " whsec_abc", "whsec_a bc", "whsec_abc\r\n"] {
        assert!(
            matches!(
                StripeVerifier::new(secret),
                Err(crate::error::ConfigError::SecretWhitespace { .. })
            ),
            "{secret:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_headers_never_panic(header in any::<Vec<u8>>(), body in any::<Vec<u8>>()) {
        let verifier = StripeVerifier::new(SECRET).unwrap();
        let _ = verifier.verify_at(&body, &header, at(T));
    }

    #[test]
    fn header_like_strings_never_panic(
        header in "(t=-?[0-9]{0,21}|v1=[0-9a-fA-F]{0,70}|v0=[a-z]{0,5}|[ =,a-z0-9]{0,8}){0,6}(, ?)?",
    ) {
        let verifier = StripeVerifier::new(SECRET).unwrap();
        let result = verifier.verify_at(BODY, header.as_bytes(), at(T));
        // Only a header with the real signature verifies.
        prop_assert!(result.is_err() || header.contains(&HEADER[16..]));
    }

    #[test]
    fn generated_headers_always_verify(body in any::<Vec<u8>>(), offset in 0u64..=300) {
        let header = test_header(SECRET, &body, 1_700_000_000);
        let verifier = StripeVerifier::new(SECRET).unwrap();
        prop_assert!(verifier.verify_at(&body, &header, at(T + offset)).is_ok());
    }
}
