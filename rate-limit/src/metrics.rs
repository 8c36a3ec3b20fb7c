//! Counters per outcome, for metrics exporters.
//!
//! Every clone of a layer (and every service it made) counts into the same
//! [`Metrics`]; read them with [`Metrics::snapshot`] and export them with the metrics
//! library of your choice.
//!
//! # Example
//!
//! ```
//! use portcullis_rate_limit::RateLimitLayer;
//!
//! let layer = RateLimitLayer::development();
//! let snapshot = layer.metrics().snapshot();
//! assert_eq!(snapshot.allowed, 0);
//! assert_eq!(snapshot.denied, 0);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Shared counters of a layer's decisions; clones count together.
///
/// ```
/// use portcullis_rate_limit::RateLimitLayer;
/// let layer = RateLimitLayer::new();
/// let metrics = layer.clone().metrics().clone();
/// assert_eq!(metrics.snapshot(), layer.metrics().snapshot());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    allowed: AtomicU64,
    denied: AtomicU64,
    shadow_denied: AtomicU64,
    missing_key: AtomicU64,
    exempt: AtomicU64,
    store_errors: AtomicU64,
    fail_open: AtomicU64,
    fail_closed: AtomicU64,
    fallback: AtomicU64,
    refunded: AtomicU64,
    degradations: AtomicU64,
    recoveries: AtomicU64,
    /// When the layer became degraded (ns since the epoch, at least 1); 0 while
    /// healthy.
    degraded_since: AtomicU64,
}

/// The counters at one moment.
///
/// ```
/// use portcullis_rate_limit::metrics::MetricsSnapshot;
/// let snapshot = MetricsSnapshot::default();
/// assert_eq!(snapshot.total(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Requests every quota allowed.
    pub allowed: u64,
    /// Requests refused with 429.
    pub denied: u64,
    /// Requests a quota denied but shadow mode let through.
    pub shadow_denied: u64,
    /// Requests whose key could not be extracted.
    pub missing_key: u64,
    /// Requests no plan applied to.
    pub exempt: u64,
    /// Checks the store failed to answer; each is also counted in `fail_open`,
    /// `fail_closed` or `fallback`, as the
    /// [`FailurePolicy`](crate::rate_limit::FailurePolicy) says.
    pub store_errors: u64,
    /// Requests let through unlimited because the store failed.
    pub fail_open: u64,
    /// Requests refused with 503 because the store failed.
    pub fail_closed: u64,
    /// Requests decided by the local fallback limiter because the store failed (also
    /// counted as `allowed`, `denied` or `shadow_denied`).
    pub fallback: u64,
    /// Refunds given after the response.
    pub refunded: u64,
    /// Times the layer went from healthy to degraded (a store failure after a store
    /// answer, or the first failure).
    pub degradations: u64,
    /// Times the layer went from degraded back to healthy (a store answer after a
    /// failure).
    pub recoveries: u64,
}

impl MetricsSnapshot {
    /// Every request counted once (refunds aside): a request the store failed to
    /// check counts as failed open, failed closed, or as the fallback decided.
    ///
    /// ```
    /// let snapshot = portcullis_rate_limit::RateLimitLayer::new().metrics().snapshot();
    /// assert_eq!(snapshot.total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.allowed
            + self.denied
            + self.shadow_denied
            + self.missing_key
            + self.exempt
            + self.fail_open
            + self.fail_closed
    }
}

/// Which counter to bump.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    Allowed,
    Denied,
    ShadowDenied,
    MissingKey,
    Exempt,
    StoreError,
    FailOpen,
    FailClosed,
    #[cfg(feature = "memory")]
    Fallback,
    Refunded,
}

impl Metrics {
    /// Reads every counter.
    ///
    /// ```
    /// let snapshot = portcullis_rate_limit::RateLimitLayer::new().metrics().snapshot();
    /// assert_eq!(snapshot.denied, 0);
    /// ```
    pub fn snapshot(&self) -> MetricsSnapshot {
        let c = &self.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            allowed: read(&c.allowed),
            denied: read(&c.denied),
            shadow_denied: read(&c.shadow_denied),
            missing_key: read(&c.missing_key),
            exempt: read(&c.exempt),
            store_errors: read(&c.store_errors),
            fail_open: read(&c.fail_open),
            fail_closed: read(&c.fail_closed),
            fallback: read(&c.fallback),
            refunded: read(&c.refunded),
            degradations: read(&c.degradations),
            recoveries: read(&c.recoveries),
        }
    }

    /// Whether the layer is degraded now: its store's last answer was a failure.
    ///
    /// ```
    /// let layer = portcullis_rate_limit::RateLimitLayer::new();
    /// assert!(!layer.metrics().is_degraded());
    /// ```
    pub fn is_degraded(&self) -> bool {
        self.counters.degraded_since.load(Ordering::Relaxed) != 0
    }

    /// Marks the layer degraded at `now_ns`; `true` for the one caller that made the
    /// transition from healthy.
    pub(crate) fn enter_degraded(&self, now_ns: u64) -> bool {
        let c = &self.counters;
        let entered = c.degraded_since.load(Ordering::Relaxed) == 0
            && c.degraded_since
                .compare_exchange(0, now_ns.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if entered {
            c.degradations.fetch_add(1, Ordering::Relaxed);
        }
        entered
    }

    /// Marks the layer healthy at `now_ns`; for the one caller that made the transition
    /// from degraded, how long it was degraded. One relaxed load while healthy.
    #[inline]
    pub(crate) fn leave_degraded(&self, now_ns: u64) -> Option<Duration> {
        let c = &self.counters;
        if c.degraded_since.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let since = c.degraded_since.swap(0, Ordering::Relaxed);
        if since == 0 {
            return None;
        }
        c.recoveries.fetch_add(1, Ordering::Relaxed);
        Some(Duration::from_nanos(now_ns.saturating_sub(since)))
    }

    pub(crate) fn record(&self, event: Event) {
        let c = &self.counters;
        let counter = match event {
            Event::Allowed => &c.allowed,
            Event::Denied => &c.denied,
            Event::ShadowDenied => &c.shadow_denied,
            Event::MissingKey => &c.missing_key,
            Event::Exempt => &c.exempt,
            Event::StoreError => &c.store_errors,
            Event::FailOpen => &c.fail_open,
            Event::FailClosed => &c.fail_closed,
            #[cfg(feature = "memory")]
            Event::Fallback => &c.fallback,
            Event::Refunded => &c.refunded,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
