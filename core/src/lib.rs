#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod body;
pub mod boxed;
pub mod client_ip;
pub mod clock;
pub mod grpc;
pub mod problem;
#[cfg(feature = "redis")]
pub mod redis;
pub mod secret;
#[cfg(feature = "serve")]
pub mod serve;
