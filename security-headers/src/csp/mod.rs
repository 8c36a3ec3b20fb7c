//! A typed Content-Security-Policy builder with per-request nonces, hash sources and
//! reporting.
//!
//! - [`Policy`] is built from [`Directive`]s and [`Source`]s. Keywords are variants
//!   (`Source::SelfOrigin` is `'self'`), hosts and schemes are checked when made, and
//!   [`Policy::directive`] refuses policies that would not do what they say (a
//!   directive twice, `'strict-dynamic'` without a nonce, a nonce in `img-src`, …).
//! - [`Source::Nonce`] is replaced on every response by a fresh [`CspNonce`] (128 bits
//!   from a CSPRNG). The [`SecurityHeadersLayer`](crate::headers::SecurityHeadersLayer)
//!   hands the same nonce to the handler in the request extensions (and as an axum
//!   extractor with the `axum` feature), and marks the response `Cache-Control:
//!   no-store` unless the handler chose a caching policy itself: a cached page would
//!   replay its nonce.
//! - [`Source::sha256_of`] allows one inline script by its hash.
//! - Reporting: [`Policy::report_uri`], [`Policy::report_to`] and the
//!   `Reporting-Endpoints` header ([`ReportingEndpoints`],
//!   [`SecurityHeadersLayer::reporting_endpoint`](crate::headers::SecurityHeadersLayer::reporting_endpoint)).
//!   An enforced and a report-only policy can be sent side by side.
//!
//! Policies are put on responses by the [`headers`](crate::headers) layer.
//!
//! # Example
//!
//! ```
//! use http::{Request, Response};
//! use portcullis_security_headers::csp::{CspNonce, Directive, Policy, Source};
//! use portcullis_security_headers::headers::SecurityHeadersLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::new()
//!     .directive(Directive::DefaultSrc, [Source::None])?
//!     .directive(Directive::ScriptSrc, [Source::Nonce, Source::sha256_of("init()")])?
//!     .directive(Directive::ConnectSrc, [Source::SelfOrigin])?
//!     .report_to("csp-endpoint")?;
//! let report_only = Policy::strict().report_to("csp-endpoint")?;
//!
//! let layer = SecurityHeadersLayer::new()
//!     .content_security_policy(policy)?
//!     .content_security_policy_report_only(report_only)?
//!     .reporting_endpoint("csp-endpoint", "https://example.com/csp-reports")?;
//!
//! let service = ServiceBuilder::new().layer(layer).service(service_fn(
//!     |request: Request<String>| async move {
//!         let nonce = request.extensions().get::<CspNonce>().unwrap();
//!         let page = format!(r#"<script nonce="{nonce}">start()</script>"#);
//!         Ok::<_, std::convert::Infallible>(Response::new(page))
//!     },
//! ));
//!
//! let response = service.oneshot(Request::new(String::new())).await?;
//! let headers = response.headers();
//! let csp = headers["content-security-policy"].to_str()?;
//! let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
//! assert!(response.body().contains(nonce));
//! assert!(headers.contains_key("content-security-policy-report-only"));
//! assert_eq!(headers["reporting-endpoints"], r#"csp-endpoint="https://example.com/csp-reports""#);
//! assert_eq!(headers["cache-control"], "no-store");
//! # Ok(())
//! # }
//! ```

mod directive;
mod hash;
mod nonce;
mod policy;
mod reporting;
mod sandbox;
mod sink;
mod source;
mod template;

pub use directive::Directive;
pub use hash::{HashAlgorithm, HashSource};
pub use nonce::CspNonce;
pub use policy::Policy;
pub(crate) use policy::PolicyEdit;
pub use reporting::ReportingEndpoints;
pub use sandbox::SandboxFlag;
pub use source::{HostSource, SchemeSource, Source};
pub(crate) use template::Template;
