//! The audit log's redaction by value (`Redactor`) and its `traceparent` parser
//! (`TraceContext::parse`) over arbitrary text.
//!
//! Properties:
//! - nothing `portcullis_core::secret::find_secrets` finds (API keys, Stripe webhook
//!   secrets, JWTs, bearer credentials) is left by `redact_text`, `redact_query`
//!   (queries and form bodies) or `redact_path_into`, nor in a JSON document after
//!   `redact_json` (its keys and strings);
//! - what the scanner finds lies in the text, on character boundaries;
//! - redacting secrets twice changes nothing more;
//! - a `traceparent` that parses is at least 55 bytes, its ids are the lower-case
//!   hex of the text at their places, not all zeros.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_audit_log::redact::Redactor;
use portcullis_audit_log::trace_context::TraceContext;
use portcullis_core::secret::{contains_secret, find_secrets};

fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                out.push(key.clone());
                strings(child, out);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for found in find_secrets(text) {
        assert!(found.range.start < found.range.end && found.range.end <= text.len());
        assert!(text.is_char_boundary(found.range.start) && text.is_char_boundary(found.range.end));
    }
    let redactor = Redactor::new(b"fuzz");
    let redacted = redactor.redact_text(text);
    assert!(!contains_secret(&redacted), "{text:?} -> {redacted:?}");
    // Without card numbers (a hash's hex digits may pass for one), a second pass
    // finds nothing more.
    let secrets_only = Redactor::new(b"fuzz").redact_card_numbers(false);
    let once = secrets_only.redact_text(text);
    assert_eq!(secrets_only.redact_text(&once), once, "idempotent");
    let query = redactor.redact_query(text);
    assert!(!contains_secret(&query), "{text:?} -> {query:?}");
    let mut path = String::new();
    redactor.redact_path_into(text, &mut path);
    assert!(!contains_secret(&path), "{text:?} -> {path:?}");
    if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) {
        redactor.redact_json(&mut value);
        let mut found = Vec::new();
        strings(&value, &mut found);
        for string in found {
            assert!(!contains_secret(&string), "{text:?}: {string:?}");
        }
    }

    if let Some(trace) = TraceContext::parse(text) {
        let bytes = text.as_bytes();
        assert!(bytes.len() >= 55);
        assert_eq!(trace.trace_id().as_bytes(), &bytes[3..35]);
        assert_eq!(trace.span_id().as_bytes(), &bytes[36..52]);
        for id in [trace.trace_id(), trace.span_id()] {
            assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(id.bytes().any(|b| b != b'0'));
        }
    }
});
