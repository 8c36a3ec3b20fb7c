#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod base62;
pub mod cache;
pub mod error;
pub mod format;
pub mod hash;
pub mod id;
pub mod invalidation;
pub mod key;
#[cfg(feature = "tokio")]
pub mod last_used;
pub mod layer;
pub mod lifecycle;
pub mod record;
pub mod revocation;
pub mod scopes;
pub mod store;
pub mod timestamp;
