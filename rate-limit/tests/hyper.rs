//! The layer in front of a plain hyper server over real TCP on loopback: status codes
//! and every header as a client sees them.
#![cfg(feature = "memory")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use portcullis_core::client_ip::PeerAddr;
use portcullis_core::clock::ManualClock;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::rate_limit::RateLimitLayer;
use tokio::net::TcpListener;
use tower::{Layer, service_fn};

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}

/// Serves `requests` connections, then stops.
async fn serve(layer: RateLimitLayer, requests: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..requests {
            let (stream, peer) = listener.accept().await.unwrap();
            let service = layer.layer(service_fn(hello));
            // hyper knows the peer from `accept`: hand it to the limiter.
            let service = tower::ServiceBuilder::new()
                .map_request(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    request
                })
                .service(service);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_server_limits_and_reports_over_tcp() {
    let layer = RateLimitLayer::new()
        .plan(Plan::free())
        .clock(ManualClock::at_unix(Duration::from_secs(1_700_006_400)));
    let addr = serve(layer, 11).await;
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http::<Empty<Bytes>>();
    let uri: http::Uri = format!("http://{addr}/v1/quote").parse().unwrap();

    for remaining in (0..10).rev() {
        let response = tokio::time::timeout(Duration::from_secs(10), client.get(uri.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(
            headers["ratelimit-policy"],
            "\"minute\";q=10;w=60, \"day\";q=100;w=86400"
        );
        let reset = 6 * (10 - remaining);
        assert_eq!(
            headers["ratelimit"],
            format!("\"minute\";r={remaining};t={reset}").as_str()
        );
        assert_eq!(headers["x-ratelimit-limit"], "10");
        assert_eq!(
            headers["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
        assert_eq!(headers["x-ratelimit-reset"], reset.to_string().as_str());
        assert!(!headers.contains_key("retry-after"));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "hello");
    }

    let response = tokio::time::timeout(Duration::from_secs(10), client.get(uri))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["retry-after"], "6");
    assert_eq!(headers["ratelimit"], "\"minute\";r=0;t=6");
    assert_eq!(headers["x-ratelimit-limit"], "10");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert_eq!(headers["x-ratelimit-reset"], "6");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "QUOTA_EXCEEDED");
    assert_eq!(problem["quotas"], serde_json::json!(["minute"]));
}
