//! The names of the rate-limit headers.

use http::HeaderName;

/// `RateLimit-Policy`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::RATELIMIT_POLICY.as_str(), "ratelimit-policy");
/// ```
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::RATELIMIT.as_str(), "ratelimit");
/// ```
pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// `X-RateLimit-Limit`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::X_RATELIMIT_LIMIT.as_str(), "x-ratelimit-limit");
/// ```
pub static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `X-RateLimit-Remaining`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::X_RATELIMIT_REMAINING.as_str(), "x-ratelimit-remaining");
/// ```
pub static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `X-RateLimit-Reset`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::X_RATELIMIT_RESET.as_str(), "x-ratelimit-reset");
/// ```
pub static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// `X-RateLimit-Degraded`: on responses to requests limited while the store could
/// not answer, when [enabled](crate::rate_limit::RateLimitLayer::degraded_header); its value
/// is the [`Degraded`](crate::decision::Degraded) mode: `fail-open`, `fail-closed` or
/// `fallback`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::X_RATELIMIT_DEGRADED.as_str(), "x-ratelimit-degraded");
/// ```
pub static X_RATELIMIT_DEGRADED: HeaderName = HeaderName::from_static("x-ratelimit-degraded");
