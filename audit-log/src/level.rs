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
//! skip health checks). An [`OutcomeLevelFn`]
//! ([`AuditLayer::level_after_response`](crate::layer::AuditLayer::level_after_response))
//! decides again once the response is known, from its [`Outcome`]: record only the
//! denied requests of a busy API, keep the bodies of failed requests only.
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

use http::{Method, StatusCode, Uri};
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

/// How a request ended, for an [`OutcomeLevelFn`].
///
/// ```
/// use http::{Method, StatusCode, Uri};
/// use portcullis_audit_log::level::{Level, Outcome};
/// let uri = Uri::from_static("/v1/quote");
/// let outcome = Outcome::new(&Method::GET, &uri, Some(StatusCode::TOO_MANY_REQUESTS), Level::Metadata)
///     .with_problem_code(Some("QUOTA_EXCEEDED"));
/// assert_eq!(outcome.problem_code, Some("QUOTA_EXCEEDED"));
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Outcome<'a> {
    /// The request's method.
    pub method: &'a Method,
    /// The request's URI.
    pub uri: &'a Uri,
    /// The response status; `None` when there was no response (the inner service
    /// panicked or failed, or the client went away).
    pub status: Option<StatusCode>,
    /// The `code` of a Portcullis [`Problem`](portcullis_core::problem::Problem) in the
    /// response (`portcullis.rejection.code`): why an inner layer refused it.
    pub problem_code: Option<&'a str>,
    /// The level chosen when the request came in (by the default level or the
    /// [`LevelFn`]).
    pub level: Level,
}

impl<'a> Outcome<'a> {
    /// The outcome of a request answered with `status` (or not answered), chosen to
    /// be audited at `level`.
    pub fn new(method: &'a Method, uri: &'a Uri, status: Option<StatusCode>, level: Level) -> Self {
        Self {
            method,
            uri,
            status,
            problem_code: None,
            level,
        }
    }

    /// With the rejection code of the response's problem.
    #[must_use]
    pub fn with_problem_code(mut self, code: Option<&'a str>) -> Self {
        self.problem_code = code;
        self
    }
}

/// Decides, once the response is known, the level a request is recorded at; see
/// [`AuditLayer::level_after_response`](crate::layer::AuditLayer::level_after_response).
///
/// ```
/// use http::{Method, StatusCode, Uri};
/// use portcullis_audit_log::level::{Level, Outcome, OutcomeLevelFn};
/// // Every admin request; of the customer API, only what was denied.
/// let rule: OutcomeLevelFn = |outcome| {
///     let denied = matches!(outcome.status.map(|s| s.as_u16()), Some(401 | 403 | 429));
///     if outcome.uri.path().starts_with("/v1/") && !denied { Level::None } else { outcome.level }
/// };
/// let uri = Uri::from_static("/v1/quote");
/// let ok = Outcome::new(&Method::GET, &uri, Some(StatusCode::OK), Level::Metadata);
/// let limited = Outcome::new(&Method::GET, &uri, Some(StatusCode::TOO_MANY_REQUESTS), Level::Metadata);
/// assert_eq!(rule(&ok), Level::None);
/// assert_eq!(rule(&limited), Level::Metadata);
/// ```
pub type OutcomeLevelFn = fn(&Outcome<'_>) -> Level;
