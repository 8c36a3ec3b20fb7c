//! Counters per outcome, for metrics exporters.
//!
//! Every clone of a layer (and every service it made) counts into the same
//! [`Metrics`]; read them with [`Metrics::snapshot`] and export them with the metrics
//! library of your choice.
//!
//! # Example
//!
//! ```
//! use portcullis_rate_limit::layer::RateLimitLayer;
//!
//! let layer = RateLimitLayer::development();
//! let snapshot = layer.metrics().snapshot();
//! assert_eq!(snapshot.allowed, 0);
//! assert_eq!(snapshot.denied, 0);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shared counters of a layer's decisions; clones count together.
///
/// ```
/// use portcullis_rate_limit::layer::RateLimitLayer;
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
    refunded: AtomicU64,
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
    /// Checks the store failed to answer.
    pub store_errors: u64,
    /// Refunds given after the response.
    pub refunded: u64,
}

impl MetricsSnapshot {
    /// Every request counted (refunds aside).
    ///
    /// ```
    /// let snapshot = portcullis_rate_limit::layer::RateLimitLayer::new().metrics().snapshot();
    /// assert_eq!(snapshot.total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.allowed
            + self.denied
            + self.shadow_denied
            + self.missing_key
            + self.exempt
            + self.store_errors
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
    Refunded,
}

impl Metrics {
    /// Reads every counter.
    ///
    /// ```
    /// let snapshot = portcullis_rate_limit::layer::RateLimitLayer::new().metrics().snapshot();
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
            refunded: read(&c.refunded),
        }
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
            Event::Refunded => &c.refunded,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
