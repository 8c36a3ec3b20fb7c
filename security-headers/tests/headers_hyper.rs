//! The security headers layer on a plain hyper 1 server, no framework.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use portcullis_core::client_ip::{PeerAddr, TrustedProxies};
use portcullis_security_headers::csp::CspNonce;
use portcullis_security_headers::headers::SecurityHeadersLayer;
use tower::{ServiceBuilder, ServiceExt, service_fn};

async fn handler(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let nonce = request
        .extensions()
        .get::<CspNonce>()
        .map_or_else(String::new, ToString::to_string);
    let mut response = Response::new(Full::new(Bytes::from(format!(
        r#"<script nonce="{nonce}"></script>"#
    ))));
    response
        .headers_mut()
        .insert(header::SERVER, "hyper".parse().unwrap());
    Ok(response)
}

#[tokio::test]
async fn hyper_server_sends_the_headers() {
    let layer = SecurityHeadersLayer::strict().trusted_proxies(TrustedProxies::loopback());
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(handler));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let service = service.clone();
            tokio::spawn(async move {
                let hyper_service =
                    hyper::service::service_fn(move |mut request: Request<Incoming>| {
                        request.extensions_mut().insert(PeerAddr(peer));
                        service.clone().oneshot(request)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_service)
                    .await;
            });
        }
    });

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);

    let mut nonces = Vec::new();
    for proto in ["https", "http"] {
        let request = Request::get("/")
            .header(header::HOST, "www.example.com")
            .header("x-forwarded-for", "203.0.113.50")
            .header("x-forwarded-proto", proto)
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(
            headers.contains_key(header::STRICT_TRANSPORT_SECURITY),
            proto == "https"
        );
        assert!(!headers.contains_key(header::SERVER));
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let csp = headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        let nonce = body
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        assert!(csp.contains(&format!("script-src 'nonce-{nonce}'")));
        assert_eq!(csp.contains("upgrade-insecure-requests"), proto == "https");
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);
    server.abort();
}
