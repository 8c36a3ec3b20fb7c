//! Parsing CSP sources and header configuration never panics, and whatever is accepted
//! is safe to put into a header.

use std::collections::BTreeMap;

use http::HeaderValue;
use portcullis_security_headers::csp::{Directive, Policy, ReportingEndpoints, Source};
use portcullis_security_headers::headers::PermissionsPolicy;
use proptest::prelude::*;

/// Text that looks like CSP: quotes, separators, schemes, keywords and noise.
fn csp_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        "'[a-z0-9+/=-]{0,30}'?",
        "(https?|wss?|data|blob)(:|://)[a-z0-9.*;, '\t-]{0,20}(:[0-9]{0,5})?(/[ -~]{0,10})?",
        Just("self".to_owned()),
        Just("'self'".to_owned()),
        Just("'nonce'".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn source_parsing_never_panics_and_accepted_sources_are_safe(text in csp_like()) {
        let parsed = text.parse::<Source>();
        let _ = Source::host(&text);
        let _ = Source::scheme(&text);
        if let Ok(source) = parsed {
            let rendered = source.to_string();
            prop_assert!(!rendered.contains([';', ',', ' ', '\t', '\r', '\n']));
            prop_assert!(HeaderValue::try_from(rendered.as_str()).is_ok());
            prop_assert_ne!(rendered.to_ascii_lowercase(), "self");
            prop_assert_ne!(rendered.to_ascii_lowercase(), "none");
            if source != Source::Nonce {
                // What we write is what we read.
                prop_assert_eq!(rendered.parse::<Source>().unwrap(), source);
            }
        }
    }

    #[test]
    fn policies_from_configuration_never_panic(
        entries in proptest::collection::btree_map(csp_like(), proptest::collection::vec(csp_like(), 0..4), 0..5),
        known in proptest::collection::vec(csp_like(), 0..4),
    ) {
        let mut map: BTreeMap<String, Vec<String>> = entries;
        map.insert("script-src".to_owned(), known);
        let json = serde_json::to_string(&map).unwrap();
        if let Ok(policy) = serde_json::from_str::<Policy>(&json) {
            let text = policy.to_string();
            prop_assert!(HeaderValue::try_from(text.replace('…', "x")).is_ok());
            // Every directive ends where we say it does.
            let count = text.split("; ").count();
            prop_assert!(count >= 1);
        }
    }

    #[test]
    fn directive_names_never_panic(text in csp_like()) {
        if let Ok(directive) = text.parse::<Directive>() {
            prop_assert!(directive.as_str().eq_ignore_ascii_case(&text));
        }
    }

    #[test]
    fn other_header_values_never_panic(feature in csp_like(), origin in csp_like(), name in csp_like(), url in csp_like()) {
        if let Ok(policy) = PermissionsPolicy::new().allow(&feature, [&origin]) {
            prop_assert!(policy.to_header_value().is_some());
        }
        if let Ok(endpoints) = ReportingEndpoints::new().endpoint(&name, &url) {
            prop_assert!(endpoints.to_header_value().is_some());
        }
        let _ = Policy::new().report_uri(&url);
        let _ = Policy::new().report_to(&name);
    }
}
