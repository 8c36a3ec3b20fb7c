//! Shared building blocks of the Portcullis Tower layers.
//!
//! Every Portcullis crate rejects requests the same way, finds the client the same way
//! and reads time the same way. Those pieces live here, once:
//!
//! - [`problem`]: RFC 9457 `application/problem+json` rejections with a stable machine
//!   `code`, answered as a gRPC status instead when the caller speaks gRPC.
//! - [`body`]: the response body type a layer returns when it may answer by itself.
//! - [`client_ip`]: the client address behind trusted proxies (`Forwarded`,
//!   `X-Forwarded-For`, `X-Forwarded-Proto`), and IPv6 prefix grouping.
//! - [`clock`]: an injectable clock so tests are deterministic.
//! - `redis` (feature `redis`): the Redis connection the stores open by URL.
//!
//! # Example
//!
//! ```
//! use http::{Request, StatusCode};
//! use portcullis_core::problem::Problem;
//!
//! let request = Request::new(());
//! let response = Problem::new(StatusCode::TOO_MANY_REQUESTS, "QUOTA_EXCEEDED", "Quota exceeded")
//!     .with_detail("The minute quota of the free plan is used up.")
//!     .into_response::<()>(request.headers());
//!
//! assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod body;
pub mod client_ip;
pub mod clock;
pub mod grpc;
pub mod problem;
#[cfg(feature = "redis")]
pub mod redis;
