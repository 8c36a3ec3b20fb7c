//! A rate-limit store over an eventually consistent edge key-value store: the
//! [`KeyValue`] trait, the in-memory [`MemoryKeyValue`], and [`KvStore`].
//!
//! Edge key-value stores (Cloudflare Workers KV, Fastly KV Store, Deno KV without
//! transactions) offer `get` and `put` with a time-to-live and little else: no atomic
//! increment, no compare-and-swap, and a write reaches readers elsewhere only after a
//! propagation delay. [`KeyValue`] is that shape. [`KvStore`] builds a [`Store`] on it
//! that is **approximate by nature**: read on, the bound is stated
//! [below](#how-far-it-can-overshoot).
//!
//! # How a check works
//!
//! One value per (key, plan) holds the [`QuotaState`] of every quota of the plan. A
//! check reads it, merges it with what this instance last wrote (see below), decides
//! with [`Plan::check`] like every other store, and, when the request is admitted,
//! writes the new states back with a time-to-live (with a
//! [write interval](KvStore::write_interval), at most once per interval per key; see
//! [below](#writes-per-key)). A denial writes nothing. A refund
//! reads, merges, applies [`Plan::refund`] and writes.
//!
//! Each [`KvStore`] is one *instance* (one process, one edge isolate); clones share it.
//! An instance keeps a bounded local cache of the states it last wrote and decides
//! every check of one key under that key's lock (held only while deciding, never while
//! waiting for the store, so a slow store does not queue a key's checks behind each
//! other):
//!
//! - **read your writes**: the value the store returns is merged with the cached states,
//!   quota by quota, so that no consumption is lost: for GCRA the later theoretical
//!   arrival time; for fixed windows the larger count of the same window (overlapping
//!   first-request windows count as one, from the earlier start), else the later window;
//!   for sliding windows both states brought to the later window, then the larger
//!   current and previous counts;
//! - **own echoes are skipped**: every value names the instance that wrote it, and a
//!   value this instance wrote is older than or equal to its cache, so the cache wins.
//!   That is what lets a refund stick while the store still propagates the value from
//!   before it.
//!
//! So an instance on its own is exact: it never admits more than the limit, however
//! many concurrent checks it runs and however late the store shows its writes (the
//! conformance suite holds).
//!
//! # How far it can overshoot
//!
//! Take `N` instances checking one identity against one store with last-writer-wins
//! writes and a visibility lag `L` (how long until a write is visible elsewhere). The
//! guarantee, for every lag:
//!
//! > **Each instance's decisions count all of its own consumption, so the fleet admits
//! > at most `N` times what one exact store admits: at most `N × limit` per window of a
//! > fixed window (and per current window of a sliding window), and at most
//! > `N × (burst + t / interval)` in any interval `t` of a GCRA quota.**
//!
//! It assumes that each instance keeps the key in its cache while the key is active
//! (the cache holds [`cache_capacity`](KvStore::cache_capacity) keys, least recently
//! written out first), that the instances' clocks agree to well within a window, and
//! that instances are not restarted mid-window (a restarted instance starts from what
//! the store shows).
//!
//! The lag decides how often the bound is approached, not the bound itself:
//!
//! - **One instance at a time** (an identity's traffic pinned to one edge location, the
//!   usual case with anycast routing): when its traffic moves to another instance, the
//!   new one reads everything written up to `L` before its first check. The overshoot of
//!   a move is at most what the previous instance admitted in the last `L` (plus the
//!   write's own latency; plus, with a write interval, what it held back and did not
//!   [flush](KvStore::flush)).
//! - **Several instances at once**: merging keeps the larger of two counts, it does not
//!   add them (the store has no increment, and a value does not tell whose consumption
//!   it holds). Where the store shows a writer its own writes at once, an instance that
//!   writes more often than every `L` only ever reads its own latest value; elsewhere
//!   it reads the value of whichever instance wrote last, `L` ago, whose count grew
//!   about as fast as its own. Either way concurrently active instances add little to
//!   each other's counts, and steady concurrent traffic reaches `N × limit`. The often
//!   quoted `limit + (N − 1) × rate × L` holds only for stores that add up
//!   per-instance counts; it is not what this store guarantees.
//!
//! Use it where an overshoot of up to `N×` is acceptable (abuse and cost protection at
//! the edge), and a store with atomic operations (Redis, a Durable Object) where it is
//! not (billing, contractual quotas). The crate's `tests/kv.rs` checks the bound for
//! every algorithm, shows it reached, and checks the handover overshoot.
//!
//! # The stored value
//!
//! Keys are `{prefix}{fingerprint:016x}{plan id:016x}` (prefix `rl:` by default, see
//! [`KvStore::prefix`]); raw client identities never reach the store. A value is
//! `10 + 24 × quotas` bytes, integers little-endian:
//!
//! | bytes | content |
//! |---|---|
//! | 0 | format version, `1` |
//! | 1..9 | the writing instance's id (random per [`KvStore`]) |
//! | 9 | the number of quotas `n` |
//! | 10.. | `n` times `time`, `count`, `previous` as `u64` |
//!
//! A value of another version or length, or with a quota count that is not the plan's,
//! fails the check with [`StoreError::Malformed`] (never a panic), so the layer's
//! [store-failure policy](crate::rate_limit::FailurePolicy) applies until the value expires.
//!
//! # Time-to-live
//!
//! Every write carries a time-to-live: the time until the states stop mattering
//! ([`Plan::expires_at`]), rounded up to a whole second (edge stores count in seconds)
//! and at least [`min_ttl`](KvStore::min_ttl), one second by default (a refund counts
//! from the latest check the instance saw of the key). Workers KV rejects less than
//! 60 s: set `min_ttl(Duration::from_secs(60))` there. A longer time-to-live only keeps
//! a value that equals a fresh state; it never changes a decision.
//!
//! # Failures
//!
//! A [`KvError`] from `get` or `put` fails the check with [`StoreError::Backend`], and
//! the layer lets the request through or refuses it with `503` as its
//! [`FailurePolicy`](crate::rate_limit::FailurePolicy) says. A failed `put` happens after the
//! decision: the consumption is then only in the instance's cache.
//!
//! # Writes per key
//!
//! By default every admitted request writes. Stores that limit writes per key (Workers
//! KV: about one per second) refuse some writes of an identity busier than that, and
//! those checks fail as above. Set [`write_interval`](KvStore::write_interval) to the
//! store's limit: each key is then written at most once per interval, admissions in
//! between are counted in the instance's cache, the next write carries them, and
//! [`flush`](KvStore::flush) writes whatever is held back (call it where the instance
//! may go away, such as an isolate's `waitUntil`, or on a timer). Decisions and the
//! bound above stay the same; other instances see an instance's consumption up to one
//! interval later. The crate's `tests/kv.rs` checks the write count, the conformance
//! suite with writes held back, and a handover with and without a flush.
//!
//! # Example
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use portcullis_core::client_ip::PeerAddr;
//! use portcullis_rate_limit::RateLimitLayer;
//! use portcullis_rate_limit::plan::Plan;
//! use portcullis_rate_limit::quota::Quota;
//! use portcullis_rate_limit::store::kv::{KvStore, MemoryKeyValue};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // At the edge, `MemoryKeyValue` would be the platform's store behind `KeyValue`.
//! let kv = MemoryKeyValue::new();
//! let layer = RateLimitLayer::new()
//!     .plan(Plan::new("edge", [Quota::per_minute("minute", 2)]).unwrap())
//!     .store(KvStore::new(kv.clone()));
//! let app = Router::new().route("/", get(|| async { "ok" })).layer(layer);
//!
//! let request = || {
//!     let mut request = Request::get("/").body(Body::empty()).unwrap();
//!     request.extensions_mut().insert(PeerAddr("203.0.113.9:5000".parse().unwrap()));
//!     request
//! };
//! for _ in 0..2 {
//!     let response = app.clone().oneshot(request()).await.unwrap();
//!     assert_eq!(response.status(), StatusCode::OK);
//! }
//! let response = app.oneshot(request()).await.unwrap();
//! assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(response.headers()["retry-after"], "30");
//! assert_eq!(kv.len(), 1); // one value for this client and plan
//! # });
//! ```
//!
//! [`QuotaState`]: crate::algorithm::QuotaState
//! [`Plan::check`]: crate::plan::Plan::check
//! [`Plan::refund`]: crate::plan::Plan::refund
//! [`Plan::expires_at`]: crate::plan::Plan::expires_at
//! [`Store`]: crate::store::Store
//! [`StoreError::Malformed`]: crate::store::StoreError::Malformed
//! [`StoreError::Backend`]: crate::store::StoreError::Backend

mod memory;
mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use memory::MemoryKeyValue;
pub use store::{CheckFuture, KvStore, RefundFuture};

use super::{BoxError, StoreError};

/// An eventually consistent key-value store with time-to-live: the shape of Cloudflare
/// Workers KV, Fastly KV Store and Deno KV.
///
/// No increment, no compare-and-swap: a `put` replaces the value (the last writer
/// wins), and other readers may see it only after a while. [`KvStore`] is built for
/// exactly that.
///
/// The futures are associated types and `'static` (clone the client's cheap handle
/// into them rather than borrowing `&self`), so [`KvStore`]'s own futures name them
/// and the layer holds them without a `Box`. A client whose futures cannot be named
/// (an `async` block) boxes them, as below.
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use portcullis_rate_limit::store::BoxFuture;
/// use portcullis_rate_limit::store::kv::{KeyValue, KvError, KvStore};
///
/// /// A platform's KV binding (here a stand-in that stores nothing).
/// #[derive(Clone)]
/// struct Binding;
///
/// impl Binding {
///     async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, std::io::Error> {
///         Ok(None)
///     }
///     async fn put(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), std::io::Error> {
///         Ok(())
///     }
/// }
///
/// struct EdgeKv(Binding);
///
/// impl KeyValue for EdgeKv {
///     type GetFuture = BoxFuture<'static, Result<Option<Bytes>, KvError>>;
///     type PutFuture = BoxFuture<'static, Result<(), KvError>>;
///
///     fn get(&self, key: &str) -> Self::GetFuture {
///         let (binding, key) = (self.0.clone(), key.to_owned());
///         Box::pin(async move {
///             let value = binding.get(&key).await.map_err(KvError::backend)?;
///             Ok(value.map(Bytes::from))
///         })
///     }
///
///     fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Self::PutFuture {
///         let (binding, key) = (self.0.clone(), key.to_owned());
///         Box::pin(async move {
///             // `KvStore` passes whole seconds, at least its `min_ttl`.
///             binding.put(&key, &value, ttl.as_secs()).await.map_err(KvError::backend)
///         })
///     }
/// }
///
/// let store = KvStore::new(EdgeKv(Binding)).min_ttl(Duration::from_secs(60));
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Nothing is ever stored, so every check starts from a fresh quota.
/// use std::sync::Arc;
/// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::Store};
/// let plan = Arc::new(Plan::free());
/// let outcome = store.check(Fingerprint::from_u64(1), &plan, 1, 1_700_000_000_000_000_000).await.unwrap();
/// assert!(outcome.allowed());
/// assert_eq!(outcome.statuses()[0].remaining(), 9);
/// # });
/// ```
pub trait KeyValue: Send + Sync + 'static {
    /// The future of [`get`](Self::get).
    type GetFuture: Future<Output = Result<Option<Bytes>, KvError>> + Send + 'static;
    /// The future of [`put`](Self::put).
    type PutFuture: Future<Output = Result<(), KvError>> + Send + 'static;

    /// The value of `key` as this reader sees it now, `None` when there is none or it
    /// has expired. May be out of date.
    fn get(&self, key: &str) -> Self::GetFuture;

    /// Replaces the value of `key`, to expire `ttl` after the write. Readers elsewhere
    /// may keep seeing the old value for a while.
    fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Self::PutFuture;
}

impl<K: KeyValue> KeyValue for Arc<K> {
    type GetFuture = K::GetFuture;
    type PutFuture = K::PutFuture;

    fn get(&self, key: &str) -> Self::GetFuture {
        (**self).get(key)
    }

    fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Self::PutFuture {
        (**self).put(key, value, ttl)
    }
}

/// Why a [`KeyValue`] store could not answer. Converts into
/// [`StoreError::Backend`], keeping the source.
///
/// ```
/// use portcullis_rate_limit::store::{StoreError, kv::KvError};
///
/// let error = KvError::backend(std::io::Error::other("connection reset"));
/// assert_eq!(error.to_string(), "key-value store failed: connection reset");
/// let error = StoreError::from(error);
/// assert!(matches!(error, StoreError::Backend { .. }));
/// assert_eq!(
///     error.to_string(),
///     "rate-limit store failed: key-value store failed: connection reset"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The store failed (connection, protocol, quota of operations).
    #[error("key-value store failed: {source}")]
    Backend {
        /// The client's error.
        #[source]
        source: BoxError,
    },
    /// The store refused a time-to-live below its minimum (Workers KV: 60 s).
    #[error("key-value store refused a time-to-live of {ttl:?}, below its minimum of {min:?}")]
    TtlTooShort {
        /// The time-to-live asked for.
        ttl: Duration,
        /// The store's minimum.
        min: Duration,
    },
}

impl KvError {
    /// Wraps a client's error.
    ///
    /// ```
    /// use portcullis_rate_limit::store::kv::KvError;
    /// let error = KvError::backend("429 Too Many Requests");
    /// assert!(matches!(error, KvError::Backend { .. }));
    /// ```
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend {
            source: source.into(),
        }
    }
}

impl From<KvError> for StoreError {
    fn from(error: KvError) -> Self {
        StoreError::backend(error)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn kv_errors_become_backend_errors_that_keep_their_source() {
        let error = StoreError::from(KvError::backend(std::io::Error::other("reset")));
        let StoreError::Backend { source } = &error else {
            panic!("not a backend error: {error:?}");
        };
        assert!(source.downcast_ref::<KvError>().is_some());
        let root = error.source().and_then(|kv| kv.source());
        assert_eq!(root.map(ToString::to_string).as_deref(), Some("reset"));

        let short = KvError::TtlTooShort {
            ttl: Duration::from_secs(1),
            min: Duration::from_secs(60),
        };
        assert_eq!(
            short.to_string(),
            "key-value store refused a time-to-live of 1s, below its minimum of 60s"
        );
    }
}
