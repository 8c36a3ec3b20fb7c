//! Security response headers with presets: [`SecurityHeadersLayer`].
//!
//! | Preset | For | In short |
//! | --- | --- | --- |
//! | [`strict()`](SecurityHeadersLayer::strict) | HTML apps | every OWASP Secure Headers and helmet header, equal or stricter; CSP `default-src 'none'` with per-request nonces |
//! | [`api()`](SecurityHeadersLayer::api) | JSON APIs | OWASP REST Security: `no-store`, `default-src 'none'; frame-ancestors 'none'`, `DENY`, `nosniff`, HSTS, CORP, `no-referrer` |
//! | [`development()`](SecurityHeadersLayer::development) | `http://localhost` | strict, with the CSP report-only and no HSTS |
//!
//! Presets differ only in values; every header has a setter, and
//! [`without`](SecurityHeadersLayer::without) drops one.
//!
//! # Rules
//!
//! - **The handler wins.** A header the response already has is left alone, for every
//!   header the layer manages. A handler changes the headers of one response with a
//!   [`SecurityHeadersOverride`] in its response extensions (allow framing, one more
//!   `connect-src`, skip a header); with the `axum` feature it is an
//!   `IntoResponseParts`.
//! - **HSTS and `upgrade-insecure-requests` go to HTTPS requests only**: the URI
//!   scheme says so (HTTP/2, absolute form), a [trusted
//!   proxy](SecurityHeadersLayer::trusted_proxies) says so in `X-Forwarded-Proto` or
//!   `Forwarded: proto=https`, or the server terminates TLS itself
//!   ([`assume_https`](SecurityHeadersLayer::assume_https)). Never to `localhost`,
//!   `*.localhost` or an IP literal (from the URI authority or `Host`).
//! - **Nonces.** When a policy has [`Source::Nonce`](crate::csp::Source::Nonce), every
//!   request gets a fresh [`CspNonce`](crate::csp::CspNonce) in its extensions, the
//!   same value appears in the CSP header, and the response gets `Cache-Control:
//!   no-store` unless the handler set `Cache-Control`.
//! - **Configuration mistakes are errors when the layer is built**
//!   ([`ConfigError`](crate::ConfigError)), never panics at request time.
//!
//! # Cost per response
//!
//! Constant header values are encoded once, when the layer is built, and shared by
//! every clone behind one `Arc`. Per request the layer makes the nonce (16 bytes from
//! the thread-local CSPRNG, base64 into a stack buffer) and one exactly sized buffer
//! for the CSP value: the policy is split around its nonce slots ahead of time, so
//! the pieces are only concatenated. Each header is one hash-map entry lookup.
//!
//! # Example
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use portcullis_security_headers::csp::CspNonce;
//! use portcullis_security_headers::headers::SecurityHeadersLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = ServiceBuilder::new()
//!     .layer(SecurityHeadersLayer::strict().assume_https(true))
//!     .service(service_fn(|request: Request<()>| async move {
//!         let nonce = request.extensions().get::<CspNonce>().copied().unwrap();
//!         let page = format!(r#"<script nonce="{nonce}">hello()</script>"#);
//!         let mut response = Response::new(page);
//!         // The handler's own value is kept.
//!         response.headers_mut().insert("referrer-policy", "same-origin".parse().unwrap());
//!         Ok::<_, std::convert::Infallible>(response)
//!     }));
//!
//! let request = Request::builder().uri("/").header("host", "example.com").body(())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let headers = response.headers();
//! assert_eq!(headers["strict-transport-security"], "max-age=63072000; includeSubDomains");
//! assert_eq!(headers["x-frame-options"], "DENY");
//! assert_eq!(headers["referrer-policy"], "same-origin");
//! assert_eq!(headers["cache-control"], "no-store");
//! let csp = headers["content-security-policy"].to_str()?;
//! assert!(csp.starts_with("default-src 'none'; script-src 'nonce-"));
//! assert!(csp.ends_with("upgrade-insecure-requests"));
//! # Ok(())
//! # }
//! ```

mod config;
mod cross_domain_policies;
mod cross_origin;
mod dns_prefetch_control;
mod frame_options;
mod future;
mod header;
mod hsts;
mod https;
mod layer;
mod overrides;
mod permissions_policy;
mod referrer_policy;
mod service;
mod state;

pub use config::{SecurityHeadersConfig, SecurityHeadersPreset};
pub use cross_domain_policies::PermittedCrossDomainPolicies;
pub use cross_origin::{
    CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy,
};
pub use dns_prefetch_control::DnsPrefetchControl;
pub use frame_options::FrameOptions;
pub use future::ResponseFuture;
pub use header::SecurityHeader;
pub use hsts::Hsts;
pub(crate) use https::is_loopback_host;
pub use layer::SecurityHeadersLayer;
pub use overrides::SecurityHeadersOverride;
pub use permissions_policy::{OWASP_FEATURES, PermissionsPolicy};
pub use referrer_policy::ReferrerPolicy;
pub use service::SecurityHeaders;

#[cfg(test)]
mod tests;
