//! Security headers, Content-Security-Policy and CORS as Tower layers.
//!
//! - [`headers`]: [`SecurityHeadersLayer`](headers::SecurityHeadersLayer) with the
//!   presets `strict()` (HTML apps), `api()` (JSON APIs) and `development()`.
//! - [`csp`]: a typed Content-Security-Policy builder with per-request nonces, hash
//!   sources and reporting.
//! - [`report`]: a Tower service that collects CSP violation reports.
//! - [`cors`]: [`CorsLayer`](cors::CorsLayer), restrictive by default, exact origin
//!   matching, 403 for refused preflights.
//!
//! Every layer works with any Tower-based server (axum, hyper, tonic), is generic over
//! request and response bodies, and reports configuration mistakes as a
//! [`ConfigError`] when it is built, never as a panic while serving.
//!
//! # Example
//!
//! An API that browsers at `https://app.example.com` may call, with the `api` preset's
//! headers on every response:
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use portcullis_security_headers::{cors::CorsLayer, headers::SecurityHeadersLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = ServiceBuilder::new()
//!     .layer(SecurityHeadersLayer::api())
//!     .layer(CorsLayer::api().allow_origins_list("https://app.example.com")?)
//!     .service(service_fn(|_: Request<()>| async {
//!         Ok::<_, Infallible>(Response::new(String::from("{}")))
//!     }));
//!
//! let request = Request::get("https://api.example.com/v1/quote")
//!     .header("origin", "https://app.example.com")
//!     .body(())?;
//! let response = app.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
//! assert_eq!(response.headers()["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
//! assert_eq!(response.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
//!
//! // A preflight from a site that is not allowed: 403, and no CORS headers at all.
//! let preflight = Request::options("https://api.example.com/v1/quote")
//!     .header("origin", "https://evil.example")
//!     .header("access-control-request-method", "POST")
//!     .body(())?;
//! let response = app.oneshot(preflight).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert!(response.headers().get("access-control-allow-origin").is_none());
//! # Ok(())
//! # }
//! ```
//!
//! # Compared with `tower-http`
//!
//! | | `tower-http` | this crate |
//! |---|---|---|
//! | security headers | one `SetResponseHeaderLayer` per header | presets scoring 130 on the MDN HTTP Observatory |
//! | CSP | a static string | typed builder, per-request nonce, hashes, reporting, per-route overrides |
//! | refused CORS preflight | 200 without CORS headers | 403 problem+json |
//! | OPTIONS that is not a preflight | answered by the CORS layer | passed to your service |
//! | invalid CORS config | panics when the layer is applied | `Err(ConfigError)` when built |
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod cors;
pub mod csp;
mod error;
pub mod headers;
pub mod report;

pub use error::ConfigError;
