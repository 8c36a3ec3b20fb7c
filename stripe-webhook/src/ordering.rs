//! Ignore events older than the last one applied to the same object.
//!
//! Stripe does not deliver events in order: a `customer.subscription.updated` from
//! 10:00 may arrive after the one from 10:05, and applying it would roll the
//! subscription back. An [`OrderingGuard`] remembers, per object id, the newest
//! `created` it admitted, and calls an older event [`Admission::Stale`].
//!
//! [`admit`](OrderingGuard::admit) is atomic: it checks and records in one step, so two
//! instances cannot both admit an older and a newer event in the wrong order *of
//! admission*. Events created in the same second are all admitted (Stripe's
//! `created` has one-second resolution). Retries of an admitted event are admitted
//! again (same `created`), so a failed handler is retried normally.
//!
//! Stores: the [`MemoryStore`](crate::store::memory::MemoryStore) and, with feature
//! `redis`, the Redis store (one small script per admission).
//!
//! # Example
//!
//! ```
//! use portcullis_stripe_webhook::event::Event;
//! use portcullis_stripe_webhook::ordering::{Admission, OrderingGuard};
//! use portcullis_stripe_webhook::store::memory::MemoryStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let guard = OrderingGuard::new(MemoryStore::new());
//! let newer = Event::from_slice(br#"{"id":"evt_2","type":"customer.subscription.updated","created":1700000300,
//!     "data":{"object":{"id":"sub_1","status":"canceled"}}}"#).unwrap();
//! let older = Event::from_slice(br#"{"id":"evt_1","type":"customer.subscription.updated","created":1700000000,
//!     "data":{"object":{"id":"sub_1","status":"active"}}}"#).unwrap();
//!
//! assert_eq!(guard.admit_event(&newer).await.unwrap(), Admission::Fresh);
//! assert_eq!(guard.admit_event(&older).await.unwrap(), Admission::Stale { last_applied: 1_700_000_300 });
//! # });
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::clock::{Clock, SystemClock};

use crate::event::Event;
use crate::store::StoreError;

/// Whether an event is the newest seen for its object, and the store trait that
/// decides it: they live in [`crate::store`] beside the idempotency store, and are
/// named here too.
pub use crate::store::{Admission, OrderingStore};

/// Admits events per object in `created` order. See the [module docs](self).
#[derive(Clone)]
pub struct OrderingGuard<S> {
    store: S,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl<S: fmt::Debug> fmt::Debug for OrderingGuard<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderingGuard")
            .field("store", &self.store)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<S: OrderingStore> OrderingGuard<S> {
    /// A guard over `store`, remembering each object for 7 days.
    pub fn new(store: S) -> Self {
        Self {
            store,
            ttl: Duration::from_secs(7 * 86_400),
            clock: Arc::new(SystemClock),
        }
    }

    /// How long an object's mark lives after its last admission (default 7 days).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the clock the TTLs count on.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Admits an event about `object_id` created at `created` (Unix seconds).
    ///
    /// ```
    /// use portcullis_stripe_webhook::ordering::{Admission, OrderingGuard};
    /// use portcullis_stripe_webhook::store::memory::MemoryStore;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let guard = OrderingGuard::new(MemoryStore::new());
    /// assert!(guard.admit("in_1", 100).await.unwrap().is_fresh());
    /// assert!(guard.admit("in_1", 100).await.unwrap().is_fresh()); // a retry
    /// assert!(!guard.admit("in_1", 99).await.unwrap().is_fresh());
    /// # });
    /// ```
    pub fn admit(&self, object_id: &str, created: i64) -> S::AdmitFuture {
        self.store
            .admit(object_id, created, self.clock.now(), self.ttl)
    }

    /// Admits a Stripe event by its object id and `created`; an event with no object
    /// id is always fresh.
    ///
    /// ```
    /// use portcullis_stripe_webhook::event::Event;
    /// use portcullis_stripe_webhook::ordering::OrderingGuard;
    /// use portcullis_stripe_webhook::store::memory::MemoryStore;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let guard = OrderingGuard::new(MemoryStore::new());
    /// let event = Event::from_slice(br#"{"id":"evt_1","type":"ping"}"#).unwrap();
    /// assert!(guard.admit_event(&event).await.unwrap().is_fresh());
    /// # });
    /// ```
    pub async fn admit_event(&self, event: &Event) -> Result<Admission, StoreError> {
        match event.object_id() {
            Some(object_id) => self.admit(object_id, event.created()).await,
            None => Ok(Admission::Fresh),
        }
    }
}
