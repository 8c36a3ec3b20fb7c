//! The state every clone of a [`RateLimitLayer`](super::RateLimitLayer), and every
//! service made from it, shares behind one `Arc`.

use std::fmt;
use std::sync::Arc;

use portcullis_core::clock::{Clock, FastClock};

use super::failure::FailurePolicy;
use super::hooks::{CostFn, RefundPredicate};
use super::on_missing_key::OnMissingKey;
use crate::headers::{HeaderMode, Templates};
use crate::key::DEFAULT_SECRET;
use crate::metrics::Metrics;

/// Everything but the key, resolver and store.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) headers: HeaderMode,
    /// The header templates of the plans met, built once per plan.
    pub(crate) templates: Arc<Templates>,
    pub(crate) shadow: bool,
    pub(crate) on_missing_key: OnMissingKey,
    pub(crate) on_store_error: FailurePolicy,
    pub(crate) degraded_header: bool,
    pub(crate) refund_if: Option<Arc<dyn RefundPredicate>>,
    pub(crate) cost: Option<Arc<dyn CostFn>>,
    pub(crate) secret: [u8; 16],
    pub(crate) metrics: Metrics,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            clock: Arc::new(FastClock::new()),
            headers: HeaderMode::default(),
            templates: Arc::new(Templates::new()),
            shadow: false,
            on_missing_key: OnMissingKey::default(),
            on_store_error: FailurePolicy::default(),
            degraded_header: false,
            refund_if: None,
            cost: None,
            secret: DEFAULT_SECRET,
            metrics: Metrics::default(),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("clock", &self.clock)
            .field("headers", &self.headers)
            .field("templates", &self.templates)
            .field("shadow", &self.shadow)
            .field("on_missing_key", &self.on_missing_key)
            .field("on_store_error", &self.on_store_error)
            .field("degraded_header", &self.degraded_header)
            .field("refund_if", &self.refund_if.is_some())
            .field("cost", &self.cost.is_some())
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

/// The state every clone of a layer and its services share.
#[derive(Clone, Debug)]
pub(crate) struct Shared<K, P, St> {
    pub(crate) key: K,
    pub(crate) plans: P,
    pub(crate) store: St,
    pub(crate) settings: Settings,
}
