//! The collector mounted in an axum router behind a real HTTP/1 server.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use portcullis_security_headers::report::{CspReportCollector, CspViolation, Disposition};

const FIREFOX_LEGACY: &str = r#"{"csp-report":{"blocked-uri":"https://cdn.evil.example/skimmer.js","column-number":1,"disposition":"enforce","document-uri":"https://shop.example.com/checkout","effective-directive":"script-src-elem","line-number":1,"original-policy":"default-src 'none'; script-src 'nonce-abc'; report-uri /csp-reports","referrer":"","source-file":"https://shop.example.com/checkout","status-code":200,"violated-directive":"script-src-elem"}}"#;

const CHROME_REPORTING_API: &str = r#"[{"age":0,"body":{"blockedURL":"eval","disposition":"report","documentURL":"https://shop.example.com/","effectiveDirective":"script-src","lineNumber":3,"originalPolicy":"script-src 'self'; report-to default","referrer":"","sample":"","sourceFile":"https://shop.example.com/app.js","statusCode":200},"type":"csp-violation","url":"https://shop.example.com/","user_agent":"Mozilla/5.0 Chrome/127.0.0.0"}]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_route_service_collects_reports() {
    let received: Arc<Mutex<Vec<CspViolation>>> = Arc::default();
    let sink = Arc::clone(&received);
    let collector = CspReportCollector::new()
        .max_body_size(4096)
        .handler(move |violation: CspViolation| sink.lock().unwrap().push(violation));

    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route_service("/csp-reports", collector.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = format!("http://{address}/csp-reports");
    let send = |method: &str, content_type: &str, body: Bytes| {
        let request = Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", content_type)
            .body(Full::new(body))
            .unwrap();
        let client = client.clone();
        async move {
            let response = client.request(request).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, headers, body)
        }
    };

    let (status, _, body) = send("POST", "application/csp-report", FIREFOX_LEGACY.into()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());

    let (status, _, _) = send(
        "POST",
        "application/reports+json",
        CHROME_REPORTING_API.into(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, headers, body) = send("POST", "application/json", FIREFOX_LEGACY.into()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(headers["content-type"], "application/problem+json");
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "CSP_REPORT_UNSUPPORTED_MEDIA_TYPE");

    let (status, headers, _) = send("GET", "application/csp-report", Bytes::new()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST");

    let (status, _, _) = send(
        "POST",
        "application/csp-report",
        Bytes::from(vec![b' '; 5000]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, _, _) = send("POST", "application/csp-report", "{oops".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    {
        let received = received.lock().unwrap();
        assert_eq!(received.len(), 2);
        assert_eq!(
            received[0].blocked_url.as_deref(),
            Some("https://cdn.evil.example/skimmer.js")
        );
        assert_eq!(received[1].disposition, Some(Disposition::Report));
        assert_eq!(received[1].effective_directive, "script-src");
    }
    let stats = collector.stats();
    assert_eq!((stats.accepted, stats.rejected), (2, 4));

    server.abort();
}
