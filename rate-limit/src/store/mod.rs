//! Where quota state lives: the [`Store`] trait and its backends.
//!
//! The trait is shaped by the one operation the layer needs: *atomically check a
//! request against every quota of its plan and consume them all, or none*. A store
//! keeps one small integer [`QuotaState`](crate::algorithm::QuotaState) per quota for
//! each (key, plan) and decides with [`Plan::check`], so every backend decides the same
//! way; a Redis store runs the same algorithm over every quota in one script.
//!
//! - [`MemoryStore`](memory::MemoryStore) (feature `memory`, default): sharded and
//!   bounded, for one process.
//! - [`BoxStore`]: any store behind an `Arc<dyn DynStore>`, to choose a backend at run
//!   time.
//! - `redis` (feature `redis`): every instance shares the limits through Redis, one
//!   `EVALSHA` per request, atomic over every quota of the plan.
//! - [`kv`]: a store over eventually consistent edge key-value stores (get and put
//!   with a TTL, no increment); approximate, with a documented overshoot bound.
//! - `conformance` (feature `conformance`): the suite every backend must pass.
//! - `resilient` (feature `resilient`): a timeout and a circuit breaker around any
//!   store, so a dead backend costs at most the timeout, and usually nothing.
//! - `negative_cache` (feature `negative-cache`): remembers denied keys until their
//!   reset, so a blocked client costs no backend call.
//!
//! A remote store is best wrapped in both, the cache outside:
//! `NegativeCache::new(Resilient::new(store))`; the layer's
//! [`FailurePolicy`](crate::rate_limit::FailurePolicy) decides what a failure means for the
//! request.
//!
//! Store futures are named by associated types, so the layer's response future holds
//! them without a `Box`; they must be `'static` (clone the store's cheap handle into
//! them rather than borrowing `&self`).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use portcullis_rate_limit::key::Fingerprint;
//! use portcullis_rate_limit::plan::Plan;
//! use portcullis_rate_limit::store::{Store, memory::MemoryStore};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let plan = Arc::new(Plan::free());
//! let key = Fingerprint::from_u64(7);
//! let now = 1_700_000_000_000_000_000; // ns since the Unix epoch
//! let outcome = store.check(key, &plan, 1, now).await.unwrap();
//! assert!(outcome.allowed());
//! assert_eq!(outcome.statuses()[0].remaining(), 9);
//! # });
//! ```

mod bounded;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod kv;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "negative-cache")]
pub mod negative_cache;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "resilient")]
pub mod resilient;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::key::Fingerprint;
use crate::outcome::Outcome;
use crate::plan::Plan;

/// The boxed error and future types every Portcullis store names, from
/// [`portcullis_core::boxed`]: a backend's error, and the future of a store whose
/// futures cannot be named (a [`BoxStore`], an `async` block).
///
/// ```
/// use portcullis_rate_limit::store::BoxError;
/// let error: BoxError = "backend down".into();
/// assert_eq!(error.to_string(), "backend down");
/// ```
pub use portcullis_core::boxed::{BoxError, BoxFuture};

/// Why a store could not answer.
///
/// ```
/// use portcullis_rate_limit::store::StoreError;
/// let error = StoreError::backend(std::io::Error::other("connection reset"));
/// assert_eq!(error.to_string(), "rate-limit store failed: connection reset");
/// assert!(std::error::Error::source(&error).is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (connection, protocol, script error).
    #[error("rate-limit store failed: {source}")]
    Backend {
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// The backend returned something the store cannot read.
    #[error("rate-limit store returned malformed state: {reason}")]
    Malformed {
        /// What was wrong.
        reason: String,
    },
    /// The backend did not answer in time (a
    /// [`Resilient`](resilient::Resilient) store's timeout).
    #[error("rate-limit store did not answer within {after:?}")]
    Timeout {
        /// The time allowed.
        after: Duration,
    },
    /// The backend was not called: it failed repeatedly, and the circuit breaker of a
    /// [`Resilient`](resilient::Resilient) store is open.
    #[error(
        "rate-limit store unavailable: circuit open after repeated failures (next try in {retry_in:?})"
    )]
    CircuitOpen {
        /// How long until the breaker lets a call try the backend again.
        retry_in: Duration,
    },
}

impl StoreError {
    /// Wraps a backend error.
    ///
    /// ```
    /// use portcullis_rate_limit::store::StoreError;
    /// let error = StoreError::backend("timed out");
    /// assert!(matches!(error, StoreError::Backend { .. }));
    /// ```
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend {
            source: source.into(),
        }
    }
}

/// Atomic, all-or-nothing quota checks keyed by (key, plan).
///
/// Implementations must decide with [`Plan::check`] (or an exact port of it, such as
/// a server-side script) and be atomic per (key, plan): concurrent checks on one key
/// must never admit more than the limits allow. They must pass the `conformance` suite.
///
/// ```
/// use std::sync::Arc;
/// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::Store};
///
/// async fn remaining<S: Store>(store: &S, key: Fingerprint) -> u64 {
///     let plan = Arc::new(Plan::starter());
///     let outcome = store.check(key, &plan, 1, 1_700_000_000_000_000_000).await.unwrap();
///     outcome.statuses()[0].remaining()
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Starter: 60 a minute, and the first check used one.
/// let store = portcullis_rate_limit::store::memory::MemoryStore::new();
/// assert_eq!(remaining(&store, Fingerprint::from_u64(7)).await, 59);
/// assert_eq!(remaining(&store, Fingerprint::from_u64(7)).await, 58);
/// # });
/// ```
pub trait Store: Send + Sync + 'static {
    /// The future of [`check`](Self::check).
    type CheckFuture: Future<Output = Result<Outcome, StoreError>> + Send + 'static;
    /// The future of [`refund`](Self::refund).
    type RefundFuture: Future<Output = Result<(), StoreError>> + Send + 'static;

    /// Checks a request of `cost` by `key` at `now_ns` (nanoseconds since the Unix
    /// epoch, the unit of the [algorithms](crate::algorithm)) against every quota of
    /// `plan`, consuming all of them if all allow, none otherwise.
    fn check(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Self::CheckFuture;

    /// The answer of [`check`](Self::check) when the store has it without waiting (an
    /// in-memory store), so the layer decides in `call`; it must decide and consume
    /// exactly as `check` would. `None`, the default, makes the layer await `check`.
    fn check_immediately(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Option<Result<Outcome, StoreError>> {
        let _ = (key, plan, cost, now_ns);
        None
    }

    /// Gives back `cost` units that a check at `consumed_at_ns` consumed (a refund
    /// after the response), as far as they still count.
    fn refund(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> Self::RefundFuture;
}

/// The object-safe form of [`Store`], implemented for every store: put one behind an
/// `Arc<dyn DynStore>` (or a [`BoxStore`]) to pick the backend at run time.
pub trait DynStore: Send + Sync + 'static {
    /// [`Store::check`], boxed.
    fn check_boxed(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> BoxFuture<'static, Result<Outcome, StoreError>>;

    /// [`Store::check_immediately`].
    fn check_immediately_dyn(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Option<Result<Outcome, StoreError>>;

    /// [`Store::refund`], boxed.
    fn refund_boxed(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> BoxFuture<'static, Result<(), StoreError>>;
}

impl<S: Store> DynStore for S {
    fn check_boxed(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> BoxFuture<'static, Result<Outcome, StoreError>> {
        Box::pin(self.check(key, plan, cost, now_ns))
    }

    fn check_immediately_dyn(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Option<Result<Outcome, StoreError>> {
        self.check_immediately(key, plan, cost, now_ns)
    }

    fn refund_boxed(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(self.refund(key, plan, cost, consumed_at_ns))
    }
}

/// Any store, chosen at run time: a [`Store`] over an `Arc<dyn DynStore>`.
///
/// Costs a `Box` per check; prefer the concrete store type when it is known at
/// compile time.
#[derive(Clone)]
pub struct BoxStore {
    inner: Arc<dyn DynStore>,
}

impl BoxStore {
    /// Boxes `store`.
    pub fn new(store: impl Store) -> Self {
        Self {
            inner: Arc::new(store),
        }
    }

    /// Wraps a store already behind an `Arc<dyn DynStore>`.
    pub fn from_arc(inner: Arc<dyn DynStore>) -> Self {
        Self { inner }
    }
}

impl fmt::Debug for BoxStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxStore").finish_non_exhaustive()
    }
}

impl Store for BoxStore {
    type CheckFuture = BoxFuture<'static, Result<Outcome, StoreError>>;
    type RefundFuture = BoxFuture<'static, Result<(), StoreError>>;

    fn check(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Self::CheckFuture {
        self.inner.check_boxed(key, plan, cost, now_ns)
    }

    fn check_immediately(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Option<Result<Outcome, StoreError>> {
        self.inner.check_immediately_dyn(key, plan, cost, now_ns)
    }

    fn refund(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> Self::RefundFuture {
        self.inner.refund_boxed(key, plan, cost, consumed_at_ns)
    }
}
