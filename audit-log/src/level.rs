//! How much of a request is recorded: [`Level`], and a per-request rule.
//!
//! The levels follow Kubernetes' audit levels:
//!
//! | level | records |
//! |---|---|
//! | [`None`](Level::None) | nothing (the request id is still set and echoed) |
//! | [`Metadata`](Level::Metadata) | who, when, what (method, path, redacted query), outcome; no headers, no bodies |
//! | [`Request`](Level::Request) | metadata, the redacted request headers and the request body up to the cap |
//! | [`RequestResponse`](Level::RequestResponse) | that, and the response headers and body up to the cap |
//!
//! A [`LevelFn`] picks the level per request (audit the admin, auth and data routes,
//! skip health checks).
//!
//! # Example
//!
//! ```
//! use http::{Method, Uri};
//! use portcullis_audit_log::level::{Level, LevelFn};
//!
//! let rule: LevelFn = |method: &Method, uri: &Uri| match uri.path() {
//!     "/healthz" => Level::None,
//!     path if path.starts_with("/admin") || path.starts_with("/auth") => Level::Request,
//!     _ if method == Method::GET => Level::Metadata,
//!     _ => Level::Request,
//! };
//! assert_eq!(rule(&Method::GET, &"/healthz".parse().unwrap()), Level::None);
//! assert_eq!(rule(&Method::POST, &"/admin/users".parse().unwrap()), Level::Request);
//! assert!(Level::RequestResponse > Level::Metadata);
//! ```

use http::{Method, Uri};
use serde::Deserialize;

/// How much of a request is recorded; see the [module docs](self).
///
/// ```
/// use portcullis_audit_log::level::Level;
/// assert_eq!(Level::default(), Level::Metadata);
/// let level: Level = serde_json::from_str("\"request_response\"").unwrap();
/// assert_eq!(level, Level::RequestResponse);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Level {
    /// Not audited.
    None,
    /// Who, when, what and the outcome.
    #[default]
    Metadata,
    /// Metadata, request headers and the request body up to the cap.
    Request,
    /// Request, and the response headers and body up to the cap.
    RequestResponse,
}

impl Level {
    /// The level's name, as in configuration files.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Metadata => "metadata",
            Self::Request => "request",
            Self::RequestResponse => "request_response",
        }
    }
}

/// Picks the level of one request from its method and URI.
///
/// ```
/// use portcullis_audit_log::level::{Level, LevelFn};
/// let only_writes: LevelFn = |method, _| if method.is_safe() { Level::None } else { Level::Metadata };
/// assert_eq!(only_writes(&http::Method::DELETE, &"/x".parse().unwrap()), Level::Metadata);
/// ```
pub type LevelFn = fn(&Method, &Uri) -> Level;
