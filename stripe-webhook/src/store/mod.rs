//! Where idempotency claims and ordering marks live.
//!
//! [`IdempotencyStore`] is shaped by the one thing the service needs: *claim this
//! event id for processing, unless it is being or has been processed*, then mark it
//! completed or release the claim. Backends:
//!
//! - [`MemoryStore`](memory::MemoryStore) (feature `memory`, default): one process,
//!   entries expire by TTL.
//! - `RedisStore` (feature `redis`): `SET NX PX`, shared by every instance.
//! - `SqlStore` (features `sqlite`, `postgres`): a table with a unique event id, a
//!   state and an expiry.
//! - [`BoxStore`]: any store behind an `Arc<dyn …>`, to pick a backend at run time.
//! - [`NoStore`]: no idempotency; every delivery runs the handler.
//!
//! # Semantics
//!
//! | store says | when | the service answers |
//! |---|---|---|
//! | [`Claim::Claimed`] | no live entry for the id | runs the handler; then [`complete`](IdempotencyStore::complete) (handled) or [`release`](IdempotencyStore::release) (retryable error) |
//! | [`Claim::InProgress`] | another delivery holds a live claim | `409` without running the handler: Stripe retries later |
//! | [`Claim::Completed`] | a completed entry within its TTL | `200` without running the handler |
//!
//! A claim carries a TTL (default 5 minutes): an instance that crashes mid-handler
//! blocks its event for that long at most. A release only removes the claim it made
//! (by its [`ClaimToken`]), so a late release cannot free another delivery's claim.
//! Completed entries live for the completion TTL (default 7 days, beyond Stripe's 3
//! days of retries).
//!
//! Store futures are named by associated types so the service's future holds them
//! without boxing (the memory store's are ready values); they own what they need and
//! are `'static`.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use portcullis_stripe_webhook::store::{Claim, ClaimToken, IdempotencyStore, memory::MemoryStore};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let ttl = Duration::from_secs(300);
//! let (first, second) = (ClaimToken::new(), ClaimToken::new());
//! assert_eq!(store.claim("evt_1", &first, now, ttl).await.unwrap(), Claim::Claimed);
//! assert_eq!(store.claim("evt_1", &second, now, ttl).await.unwrap(), Claim::InProgress);
//! store.complete("evt_1", &first, now, Duration::from_secs(86_400)).await.unwrap();
//! assert_eq!(store.claim("evt_1", &second, now, ttl).await.unwrap(), Claim::Completed);
//! # });
//! ```

#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql;

use std::fmt;
use std::future::{Future, Ready, ready};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A boxed error from a store's backend: [`portcullis_core::boxed::BoxError`], the one
/// every Portcullis crate names.
pub use portcullis_core::boxed::BoxError;

/// A boxed, sendable store future: [`portcullis_core::boxed::BoxFuture`].
pub use portcullis_core::boxed::BoxFuture;

/// A store could not answer.
///
/// ```
/// use std::error::Error;
/// use portcullis_stripe_webhook::store::StoreError;
/// let error = StoreError::backend(std::io::Error::other("down"));
/// assert_eq!(error.to_string(), "idempotency store failed");
/// assert_eq!(error.source().unwrap().to_string(), "down");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (connection, query, protocol).
    #[error("idempotency store failed")]
    Backend {
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend {
            source: source.into(),
        }
    }
}

/// What a claim found. See the [module docs](self#semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Claim {
    /// The caller holds the claim: run the handler.
    Claimed,
    /// Another delivery of the event holds a live claim.
    InProgress,
    /// The event was processed already.
    Completed,
}

/// Identifies one claim, so that only its holder releases it. Random per delivery.
///
/// ```
/// use portcullis_stripe_webhook::store::ClaimToken;
/// let (a, b) = (ClaimToken::new(), ClaimToken::new());
/// assert_ne!(a, b);
/// assert_eq!(a.as_str().len(), 32);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken(Arc<str>);

impl ClaimToken {
    /// A new token: 128 bits from the standard library's randomly keyed hasher, the
    /// process id, the time and a counter, in hex.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let word = |salt: u64| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(salt);
            hasher.write_u64(count);
            hasher.write_u128(nanos);
            hasher.write_u32(std::process::id());
            hasher.finish()
        };
        Self(Arc::from(format!("{:016x}{:016x}", word(1), word(2))))
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClaimToken").field(&&*self.0).finish()
    }
}

/// Idempotency by event id: claim, then complete or release. See the
/// [module docs](self).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use portcullis_stripe_webhook::store::{Claim, ClaimToken, IdempotencyStore};
/// use portcullis_stripe_webhook::store::memory::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let (now, ttl) = (SystemTime::now(), Duration::from_secs(60));
/// let first = ClaimToken::new();
/// assert_eq!(store.claim("evt_1", &first, now, ttl).await.unwrap(), Claim::Claimed);
/// // A simultaneous second delivery finds the claim.
/// assert_eq!(store.claim("evt_1", &ClaimToken::new(), now, ttl).await.unwrap(), Claim::InProgress);
/// // The handler failed: release, and Stripe's retry claims it again.
/// store.release("evt_1", &first).await.unwrap();
/// assert_eq!(store.claim("evt_1", &ClaimToken::new(), now, ttl).await.unwrap(), Claim::Claimed);
/// # });
/// ```
pub trait IdempotencyStore: Send + Sync + 'static {
    /// The future of [`claim`](Self::claim).
    type ClaimFuture: Future<Output = Result<Claim, StoreError>> + Send + 'static;
    /// The future of [`complete`](Self::complete).
    type CompleteFuture: Future<Output = Result<(), StoreError>> + Send + 'static;
    /// The future of [`release`](Self::release).
    type ReleaseFuture: Future<Output = Result<(), StoreError>> + Send + 'static;

    /// Atomically claims `key` with `token` for `ttl`, unless a live claim or a
    /// completed entry exists. `now` is the service's clock (stores with their own
    /// clock, such as Redis, count the TTL on theirs).
    fn claim(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::ClaimFuture;

    /// Marks `key` completed for `ttl`, whoever holds its claim by now.
    fn complete(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::CompleteFuture;

    /// Removes the claim on `key` if `token` still holds it, so a retry runs the
    /// handler.
    fn release(&self, key: &str, token: &ClaimToken) -> Self::ReleaseFuture;
}

impl<S: IdempotencyStore> IdempotencyStore for Arc<S> {
    type ClaimFuture = S::ClaimFuture;
    type CompleteFuture = S::CompleteFuture;
    type ReleaseFuture = S::ReleaseFuture;

    fn claim(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::ClaimFuture {
        (**self).claim(key, token, now, ttl)
    }

    fn complete(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::CompleteFuture {
        (**self).complete(key, token, now, ttl)
    }

    fn release(&self, key: &str, token: &ClaimToken) -> Self::ReleaseFuture {
        (**self).release(key, token)
    }
}

/// Whether an event is the newest seen for its object.
///
/// ```
/// use portcullis_stripe_webhook::store::Admission;
/// assert!(Admission::Fresh.is_fresh());
/// assert!(!Admission::Stale { last_applied: 5 }.is_fresh());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Admission {
    /// As new as or newer than anything admitted for the object: apply it.
    Fresh,
    /// Older than an event already admitted for the object: ignore it.
    Stale {
        /// The `created` of the newest admitted event.
        last_applied: i64,
    },
}

impl Admission {
    /// Whether to apply the event.
    pub fn is_fresh(&self) -> bool {
        matches!(self, Self::Fresh)
    }
}

/// Where the newest admitted `created` per object lives.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use portcullis_stripe_webhook::store::{Admission, OrderingStore};
/// use portcullis_stripe_webhook::store::memory::MemoryStore;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let (now, ttl) = (SystemTime::now(), Duration::from_secs(60));
/// assert_eq!(store.admit("sub_1", 10, now, ttl).await.unwrap(), Admission::Fresh);
/// assert_eq!(store.admit("sub_1", 9, now, ttl).await.unwrap(), Admission::Stale { last_applied: 10 });
/// # });
/// ```
pub trait OrderingStore: Send + Sync + 'static {
    /// The future of [`admit`](Self::admit).
    type AdmitFuture: Future<Output = Result<Admission, StoreError>> + Send + 'static;

    /// Atomically: if a mark for `object_id` newer than `created` is live, `Stale`;
    /// otherwise record `max(mark, created)` for `ttl` and `Fresh`.
    fn admit(
        &self,
        object_id: &str,
        created: i64,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::AdmitFuture;
}

/// No idempotency: every claim succeeds, so every delivery runs the handler.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use portcullis_stripe_webhook::store::{Claim, ClaimToken, IdempotencyStore, NoStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let claim = NoStore.claim("evt_1", &ClaimToken::new(), SystemTime::now(), Duration::ZERO).await;
/// assert_eq!(claim.unwrap(), Claim::Claimed);
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoStore;

impl IdempotencyStore for NoStore {
    type ClaimFuture = Ready<Result<Claim, StoreError>>;
    type CompleteFuture = Ready<Result<(), StoreError>>;
    type ReleaseFuture = Ready<Result<(), StoreError>>;

    fn claim(&self, _: &str, _: &ClaimToken, _: SystemTime, _: Duration) -> Self::ClaimFuture {
        ready(Ok(Claim::Claimed))
    }

    fn complete(
        &self,
        _: &str,
        _: &ClaimToken,
        _: SystemTime,
        _: Duration,
    ) -> Self::CompleteFuture {
        ready(Ok(()))
    }

    fn release(&self, _: &str, _: &ClaimToken) -> Self::ReleaseFuture {
        ready(Ok(()))
    }
}

/// An [`IdempotencyStore`] with boxed futures, so that it can sit behind
/// `Arc<dyn DynIdempotencyStore>`; implemented for every store.
pub trait DynIdempotencyStore: Send + Sync + 'static {
    /// [`IdempotencyStore::claim`], boxed.
    fn claim_boxed(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<Claim, StoreError>>;
    /// [`IdempotencyStore::complete`], boxed.
    fn complete_boxed(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>>;
    /// [`IdempotencyStore::release`], boxed.
    fn release_boxed(
        &self,
        key: &str,
        token: &ClaimToken,
    ) -> BoxFuture<'static, Result<(), StoreError>>;
}

impl<S: IdempotencyStore> DynIdempotencyStore for S {
    fn claim_boxed(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<Claim, StoreError>> {
        Box::pin(IdempotencyStore::claim(self, key, token, now, ttl))
    }

    fn complete_boxed(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(IdempotencyStore::complete(self, key, token, now, ttl))
    }

    fn release_boxed(
        &self,
        key: &str,
        token: &ClaimToken,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(IdempotencyStore::release(self, key, token))
    }
}

/// Any store, chosen at run time.
#[derive(Clone)]
pub struct BoxStore(Arc<dyn DynIdempotencyStore>);

impl BoxStore {
    /// Boxes `store`.
    pub fn new(store: impl IdempotencyStore) -> Self {
        Self(Arc::new(store))
    }
}

impl fmt::Debug for BoxStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxStore").finish_non_exhaustive()
    }
}

impl IdempotencyStore for BoxStore {
    type ClaimFuture = BoxFuture<'static, Result<Claim, StoreError>>;
    type CompleteFuture = BoxFuture<'static, Result<(), StoreError>>;
    type ReleaseFuture = BoxFuture<'static, Result<(), StoreError>>;

    fn claim(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::ClaimFuture {
        self.0.claim_boxed(key, token, now, ttl)
    }

    fn complete(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::CompleteFuture {
        self.0.complete_boxed(key, token, now, ttl)
    }

    fn release(&self, key: &str, token: &ClaimToken) -> Self::ReleaseFuture {
        self.0.release_boxed(key, token)
    }
}

/// The store a service uses unless told otherwise: the
/// [`MemoryStore`](memory::MemoryStore) (feature `memory`), else [`NoStore`].
#[cfg(feature = "memory")]
pub type DefaultStore = memory::MemoryStore;

/// The store a service uses unless told otherwise: the `MemoryStore` (feature
/// `memory`), else [`NoStore`].
#[cfg(not(feature = "memory"))]
pub type DefaultStore = NoStore;

/// Unix milliseconds of a time (0 before 1970): the unit SQL expiries are kept in.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whole milliseconds of a TTL, at least 1 (Redis refuses `PX 0`).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}
