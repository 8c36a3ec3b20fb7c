//! Strict [CORS](https://developer.mozilla.org/en-US/docs/Web/HTTP/CORS):
//! [`CorsLayer`], restrictive by default.
//!
//! - **No origin until configured.** Origins are parsed into scheme, host and port and
//!   compared by parts (host case-insensitively, default ports dropped), never with
//!   regular expressions. `https://*.example.com` matches subdomains one or more
//!   labels deep but not `example.com` itself. Wildcards over a public suffix
//!   (`https://*.co.uk`), the `null` origin, credentials together with any origin, and
//!   port wildcards outside [`CorsLayer::development`] are refused when the layer is
//!   built, as a [`ConfigError`](crate::ConfigError).
//! - **Preflights** (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) are
//!   answered by the layer: 204 with the `Access-Control-Allow-*` headers, or 403
//!   problem+json ([`portcullis_core::problem`], code `CORS_PREFLIGHT_REJECTED`) with
//!   no CORS headers when the origin, the method or any requested header is not
//!   allowed. Other `OPTIONS` requests reach the inner service.
//! - **Actual requests** from an allowed origin get `Access-Control-Allow-Origin`
//!   (the origin echoed); from a refused origin they pass without CORS headers, or get
//!   403 with [`CorsLayer::reject_disallowed_origins`] (on in [`CorsLayer::strict`]).
//! - **`Vary: Origin`** is merged into the handler's `Vary` (never duplicated, `*`
//!   left alone) whenever the answer depends on the origin.
//! - **Presets**: [`CorsLayer::strict`], [`CorsLayer::api`],
//!   [`CorsLayer::development`]; only the development preset says in its 403
//!   `detail` which origin, method or header was refused. Configuration also loads
//!   from a comma-separated list ([`CorsLayer::allow_origins_list`]) or a config file
//!   ([`CorsConfig`]).
//!
//! # Example
//!
//! ```
//! use http::{Method, Request, Response, StatusCode};
//! use portcullis_security_headers::cors::CorsLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // ALLOWED_ORIGINS=https://app.example.com,https://*.example.com
//! let cors = CorsLayer::strict()
//!     .allow_origins_list("https://app.example.com,https://*.example.com")?;
//! let service = ServiceBuilder::new().layer(cors).service(service_fn(|_: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
//! }));
//!
//! // An allowed preflight.
//! let preflight = Request::builder()
//!     .method(Method::OPTIONS)
//!     .header("origin", "https://app.example.com")
//!     .header("access-control-request-method", "POST")
//!     .header("access-control-request-headers", "Content-Type")
//!     .body(())?;
//! let response = service.clone().oneshot(preflight).await?;
//! assert_eq!(response.status(), StatusCode::NO_CONTENT);
//! let headers = response.headers();
//! assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
//! assert_eq!(headers["access-control-allow-methods"], "GET, HEAD, POST");
//! assert_eq!(headers["access-control-allow-headers"], "content-type");
//! assert_eq!(headers["access-control-max-age"], "600");
//! assert_eq!(headers["vary"], "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
//!
//! // The apex is not a subdomain: refused, without any CORS header.
//! let request = Request::builder().header("origin", "https://example.com").body(())?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! assert!(response.headers().get("access-control-allow-origin").is_none());
//! # Ok(())
//! # }
//! ```

mod allow_headers;
mod allow_methods;
mod allow_origin;
mod config;
mod expose_headers;
mod future;
mod layer;
mod list;
mod max_age;
mod origin;
mod public_suffix;
mod rejection;
mod service;
mod vary;
mod verdict;

pub use self::allow_headers::AllowHeaders;
pub use self::allow_methods::AllowMethods;
pub use self::allow_origin::AllowOrigin;
pub use self::config::{CorsConfig, CorsPreset};
pub use self::expose_headers::ExposeHeaders;
pub use self::future::ResponseFuture;
pub use self::layer::CorsLayer;
pub use self::max_age::MaxAge;
pub use self::origin::{Origin, OriginPattern};
pub use self::rejection::CorsRejection;
pub use self::service::Cors;
pub use self::verdict::{ORIGIN_REJECTED, PREFLIGHT_REJECTED};
