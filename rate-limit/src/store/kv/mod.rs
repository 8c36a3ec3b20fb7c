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

mod cache;
mod codec;
mod decide;
mod error;
#[cfg(test)]
mod fixtures;
mod future;
mod instance;
mod key_value;
mod memory;
mod merge;
mod store;

pub use error::KvError;
pub use future::{CheckFuture, RefundFuture};
pub use key_value::KeyValue;
pub use memory::MemoryKeyValue;
pub use store::KvStore;
