#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod algorithm;
pub mod decision;
pub mod error;
pub mod headers;
pub mod key;
pub mod layer;
pub mod metrics;
pub mod outcome;
mod per_plan;
pub mod plan;
pub mod quota;
pub mod request;
pub mod resolver;
pub mod store;
