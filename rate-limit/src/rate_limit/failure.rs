//! What the layer does when its store cannot answer: [`FailurePolicy`].

use serde::Deserialize;

#[cfg(feature = "memory")]
use super::fallback::Fallback;
use crate::decision::Degraded;

/// What to do with a request when the store cannot answer (a Redis outage, a timeout,
/// an open [circuit breaker](crate::store::resilient)).
///
/// The default is [`FailOpen`](Self::FailOpen): a rate limiter protects an API, and an
/// outage of the limiter's store should not become an outage of the API. Choose
/// [`FailClosed`](Self::FailClosed) where letting requests through unlimited is worse
/// than refusing them, or [`Fallback`](Self::Fallback) to keep limiting with a local
/// in-memory limiter (what the [`auth_bruteforce`](super::RateLimitLayer::auth_bruteforce)
/// preset does, so a store outage neither opens the door to password guessing nor
/// locks every user out).
///
/// Whatever the policy, the request is counted in
/// [`MetricsSnapshot::store_errors`](crate::metrics::MetricsSnapshot::store_errors)
/// and in the policy's own counter, a `tracing` warning marks the moment the layer
/// becomes degraded (and another when the store answers again), and the
/// [`Degraded`] mode rides in the request and response extensions (and in an
/// `x-ratelimit-degraded` header when [enabled](super::RateLimitLayer::degraded_header)).
///
/// ```
/// use portcullis_rate_limit::{FailurePolicy, Fallback, RateLimitLayer};
///
/// assert!(matches!(FailurePolicy::default(), FailurePolicy::FailOpen));
/// let closed = RateLimitLayer::new().on_store_error(FailurePolicy::FailClosed);
/// // Four instances share the store: each enforces a quarter of every limit alone.
/// let local = RateLimitLayer::new().on_store_error(Fallback::local().instances(4));
///
/// // Policies load from configuration too.
/// let policy: FailurePolicy = serde_json::from_str(r#"{"fallback":{"instances":4}}"#).unwrap();
/// assert!(matches!(policy, FailurePolicy::Fallback(fallback) if fallback.instance_count() == 4));
/// let policy: FailurePolicy = serde_json::from_str(r#""fail_closed""#).unwrap();
/// assert!(matches!(policy, FailurePolicy::FailClosed));
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Let the request through, unlimited and without rate-limit headers.
    #[default]
    FailOpen,
    /// Refuse the request: `503 Service Unavailable` with a `RATE_LIMIT_UNAVAILABLE`
    /// problem (gRPC callers get `UNAVAILABLE`).
    FailClosed,
    /// Decide with a local in-memory limiter over the same plans, each limit divided
    /// by the expected instance count: the same headers and `429`s as usual, with a
    /// [`Decision`](crate::decision::Decision) that says it was
    /// [degraded](crate::decision::Decision::degraded).
    #[cfg(feature = "memory")]
    Fallback(Fallback),
}

impl FailurePolicy {
    /// The degraded mode this policy puts a request in.
    pub(crate) fn degraded(&self) -> Degraded {
        match self {
            Self::FailOpen => Degraded::FailOpen,
            Self::FailClosed => Degraded::FailClosed,
            #[cfg(feature = "memory")]
            Self::Fallback(_) => Degraded::Fallback,
        }
    }
}

#[cfg(feature = "memory")]
impl From<Fallback> for FailurePolicy {
    fn from(fallback: Fallback) -> Self {
        Self::Fallback(fallback)
    }
}
