#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod algorithm;
pub mod decision;
pub mod error;
pub mod headers;
pub mod key;
pub mod metrics;
pub mod outcome;
mod per_plan;
pub mod plan;
pub mod quota;
pub mod rate_limit;
pub mod request;
pub mod resolver;
pub mod store;

pub use algorithm::Algorithm;
pub use decision::{Decision, Degraded};
pub use error::ConfigError;
pub use headers::HeaderMode;
pub use key::Key;
pub use outcome::Outcome;
pub use plan::Plan;
pub use quota::Quota;
#[cfg(feature = "memory")]
pub use rate_limit::Fallback;
pub use rate_limit::{FailurePolicy, OnMissingKey, RateLimit, RateLimitConfig, RateLimitLayer};
pub use resolver::{PlanResolver, Plans, Resolved};

/// The former path of [`rate_limit`], kept so that existing imports still compile.
#[doc(hidden)]
pub mod layer {
    pub use crate::rate_limit::*;
}
