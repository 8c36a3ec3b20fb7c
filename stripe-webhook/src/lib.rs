#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod endpoint;
pub mod error;
pub mod event;
pub mod ordering;
pub mod scheme;
pub mod secret;
pub mod signature;
pub mod store;
pub mod tolerance;
