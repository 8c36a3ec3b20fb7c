//! Security headers, Content-Security-Policy and CORS as Tower layers.
//!
//! - [`headers`]: [`SecurityHeadersLayer`](headers::SecurityHeadersLayer) with the
//!   presets `strict()` (HTML apps), `api()` (JSON APIs) and `development()`.
//! - [`csp`]: a typed Content-Security-Policy builder with per-request nonces, hash
//!   sources and reporting.
//! - [`report`]: a Tower service that collects CSP violation reports.
//! - [`cors`]: [`CorsLayer`](cors::CorsLayer), restrictive by default, exact origin
//!   matching, 403 for refused preflights.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod cors;
pub mod csp;
mod error;
pub mod headers;
pub mod report;

pub use error::ConfigError;
