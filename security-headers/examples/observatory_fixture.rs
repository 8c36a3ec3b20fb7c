//! Prints what a preset really sends, as a fixture for the MDN HTTP Observatory scorer
//! in `benches/observatory` (`node score.mjs FILE --min 130`).
//!
//! ```sh
//! cargo run -q -p portcullis-security-headers --example observatory_fixture -- strict > strict.json
//! ```

use std::convert::Infallible;

use http::{Request, Response, header};
use portcullis_security_headers::csp::CspNonce;
use portcullis_security_headers::headers::SecurityHeadersLayer;
use tower::{ServiceBuilder, ServiceExt, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let preset = std::env::args().nth(1).unwrap_or_default();
    let (layer, html) = match preset.as_str() {
        "strict" => (SecurityHeadersLayer::strict(), true),
        "api" => (SecurityHeadersLayer::api(), false),
        other => {
            return Err(format!("usage: observatory_fixture strict|api (got {other:?})").into());
        }
    };

    let app = ServiceBuilder::new().layer(layer).service(service_fn(
        move |request: Request<()>| async move {
            let nonce = request.extensions().get::<CspNonce>().map(|n| n.as_str().to_owned());
            let (content_type, body) = match (html, nonce) {
                (true, Some(nonce)) => (
                    "text/html; charset=utf-8",
                    format!(
                        "<!doctype html><html><head><title>app</title><style nonce=\"{nonce}\">body{{margin:0}}</style></head>\
                         <body><p id=\"s\"></p><script nonce=\"{nonce}\">document.getElementById('s').textContent='ok'</script></body></html>"
                    ),
                ),
                _ => ("application/json", r#"{"status":"ok"}"#.to_owned()),
            };
            Ok::<_, Infallible>(
                Response::builder()
                    .header(header::CONTENT_TYPE, content_type)
                    .body(body)
                    .expect("static response parts"),
            )
        },
    ));

    let request = Request::get("https://portcullis.example/")
        .header(header::HOST, "portcullis.example")
        .body(())?;
    let response = app.oneshot(request).await?;

    let mut headers = serde_json::Map::new();
    for (name, value) in response.headers() {
        headers.insert(name.as_str().to_owned(), value.to_str()?.into());
    }
    let fixture = serde_json::json!({
        "_comment": format!("Generated from SecurityHeadersLayer::{preset}() by the observatory_fixture example."),
        "hostname": "portcullis.example",
        "status": response.status().as_u16(),
        "http": "redirect",
        "headers": headers,
        "body": response.into_body(),
    });
    println!("{}", serde_json::to_string_pretty(&fixture)?);
    Ok(())
}
