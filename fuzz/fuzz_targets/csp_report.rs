//! CSP violation report bodies (`CspViolation::parse`), both formats.
//!
//! Properties: parsing never panics and is deterministic; a legacy `report-uri` body
//! that parses yields exactly one violation; a Reporting API body yields no more
//! violations than it has entries, each with the Reporting API format; the same
//! report in a legacy envelope built from fuzzed field values reads those values back
//! (an empty optional field reads as absent).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis_security_headers::report::{CspViolation, ReportFormat};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    body: &'a [u8],
    document_uri: String,
    effective_directive: String,
    blocked_uri: Option<String>,
    line_number: Option<u64>,
}

fuzz_target!(|input: Input<'_>| {
    for format in [ReportFormat::ReportUri, ReportFormat::ReportingApi] {
        let first = CspViolation::parse(format, input.body);
        let second = CspViolation::parse(format, input.body);
        assert_eq!(
            first.as_ref().ok(),
            second.as_ref().ok(),
            "parsing is not deterministic"
        );
        let Ok(violations) = first else { continue };
        assert!(violations.iter().all(|v| v.format == format));
        match format {
            ReportFormat::ReportUri => assert_eq!(violations.len(), 1),
            _ => {
                let entries = match serde_json::from_slice::<serde_json::Value>(input.body) {
                    Ok(serde_json::Value::Array(entries)) => entries.len(),
                    _ => 1,
                };
                assert!(violations.len() <= entries);
            }
        }
    }

    let mut report = serde_json::json!({
        "document-uri": input.document_uri,
        "effective-directive": input.effective_directive,
    });
    if let Some(blocked) = &input.blocked_uri {
        report["blocked-uri"] = serde_json::Value::from(blocked.as_str());
    }
    if let Some(line) = input.line_number {
        report["line-number"] = serde_json::Value::from(line);
    }
    let body = serde_json::to_vec(&serde_json::json!({ "csp-report": report })).unwrap();
    let violations = CspViolation::parse(ReportFormat::ReportUri, &body)
        .expect("a well-formed legacy report parses");
    let violation = &violations[0];
    assert_eq!(violation.document_url, input.document_uri);
    assert_eq!(violation.effective_directive, input.effective_directive);
    // An empty string is how browsers say "absent": read as `None`.
    let blocked = input.blocked_uri.clone().filter(|uri| !uri.is_empty());
    assert_eq!(violation.blocked_url, blocked);
    assert_eq!(violation.line_number, input.line_number);
});
