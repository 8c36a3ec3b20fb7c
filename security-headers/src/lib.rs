#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod cors;
pub mod csp;
mod error;
pub mod headers;
pub mod report;

pub use error::ConfigError;

pub use cors::{Cors, CorsConfig, CorsLayer};
pub use csp::{CspNonce, Directive, Policy, Source};
pub use headers::{
    SecurityHeader, SecurityHeaders, SecurityHeadersConfig, SecurityHeadersLayer,
    SecurityHeadersOverride,
};
pub use report::{CspReportCollector, CspViolation};
