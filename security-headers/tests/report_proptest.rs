//! Whatever the body, the collector answers 2xx or 4xx and never panics.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use portcullis_security_headers::report::{CspReportCollector, CspViolation};
use proptest::prelude::*;
use tower::ServiceExt;

const CONTENT_TYPES: [&str; 3] = [
    "application/csp-report",
    "application/reports+json",
    "text/plain",
];

const SEEDS: [&str; 2] = [
    r#"{"csp-report":{"document-uri":"https://a.example/","effective-directive":"img-src","blocked-uri":"https://b.example/x.png","line-number":3,"disposition":"report"}}"#,
    r#"[{"type":"csp-violation","age":1,"url":"https://a.example/","user_agent":"x","body":{"documentURL":"https://a.example/","effectiveDirective":"script-src-elem","blockedURL":"inline","lineNumber":1,"columnNumber":2,"statusCode":200,"disposition":"enforce"}}]"#,
];

fn status_for(content_type: &str, body: Vec<u8>) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let collector = CspReportCollector::new()
        .max_body_size(1024)
        .handler(|_: CspViolation| {});
    let request = Request::post("/csp-reports")
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = runtime.block_on(collector.oneshot(request)).unwrap();
    response.status().as_u16()
}

fn assert_2xx_or_4xx(status: u16) -> Result<(), TestCaseError> {
    prop_assert!(
        (200..300).contains(&status) || (400..500).contains(&status),
        "status {status}"
    );
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        content_type in prop::sample::select(&CONTENT_TYPES[..]),
        body in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        assert_2xx_or_4xx(status_for(content_type, body))?;
    }

    #[test]
    fn mutated_reports_never_panic(
        seed in 0..SEEDS.len(),
        content_type in prop::sample::select(&CONTENT_TYPES[..2]),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut body = SEEDS[seed].as_bytes().to_vec();
        for (index, byte) in edits {
            let at = index.index(body.len());
            body[at] = byte;
        }
        body.truncate(cut.index(body.len() + 1));
        assert_2xx_or_4xx(status_for(content_type, body))?;
    }

    #[test]
    fn arbitrary_json_values_never_panic(
        content_type in prop::sample::select(&CONTENT_TYPES[..2]),
        text in "[\\[\\]{}\":,0-9a-zA-Z\\- ]{0,200}",
    ) {
        assert_2xx_or_4xx(status_for(content_type, text.into_bytes()))?;
    }
}
