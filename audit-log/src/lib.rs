#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod body;
pub mod chain;
pub mod context;
pub mod delivery;
mod error;
mod json;
pub mod layer;
pub mod level;
pub mod record;
pub mod redact;
pub mod request_id;
pub mod sink;
pub mod trace_context;
pub mod verify;

pub use error::ConfigError;
