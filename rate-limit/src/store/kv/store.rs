//! [`KvStore`]: a [`Store`] over a [`KeyValue`] store, and its settings; see the
//! [module docs](super).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::clock::saturating_nanos;

use super::decide::Request;
use super::future::{CheckFuture, RefundFuture, Round};
use super::instance::{Instance, SHARDS, Settings};
use super::key_value::KeyValue;
use crate::key::Fingerprint;
use crate::plan::Plan;
use crate::store::{Store, StoreError};

const DEFAULT_PREFIX: &str = "rl:";
const DEFAULT_CACHE_CAPACITY: usize = 10_000;
const DEFAULT_MIN_TTL: Duration = Duration::from_secs(1);

/// A rate-limit [`Store`] over an eventually consistent [`KeyValue`] store: one
/// instance of a fleet. Clones share the instance (its id and its cache).
///
/// Approximate: see the [module docs](super) for how a check works and how far a fleet
/// can overshoot. An instance alone is exact.
///
/// ```
/// use std::sync::Arc;
/// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::Store};
/// use portcullis_rate_limit::store::kv::{KvStore, MemoryKeyValue};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let kv = MemoryKeyValue::new();
/// let store = KvStore::new(kv.clone());
/// let plan = Arc::new(Plan::free());
/// let now = 1_700_000_000_000_000_000; // ns since the Unix epoch
/// let outcome = store.check(Fingerprint::from_u64(7), &plan, 1, now).await.unwrap();
/// assert!(outcome.allowed());
/// assert_eq!(outcome.statuses()[0].remaining(), 9);
/// assert_eq!(kv.keys(), [store.storage_key(Fingerprint::from_u64(7), &plan)]);
/// # });
/// ```
pub struct KvStore<T> {
    inner: Arc<Instance<T>>,
}

impl<T> Clone for KvStore<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for KvStore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvStore")
            .field("writer", &format_args!("{:016x}", self.inner.writer))
            .field("prefix", &self.inner.prefix)
            .field("min_ttl", &self.inner.min_ttl)
            .field("cache_capacity", &self.inner.capacity)
            .field(
                "write_interval",
                &Duration::from_nanos(self.inner.write_interval),
            )
            .finish_non_exhaustive()
    }
}

impl<T: KeyValue> KvStore<T> {
    /// A store over `kv`: keys prefixed `rl:`, a time-to-live of at least 1 s, a cache
    /// of 10,000 keys.
    ///
    /// ```
    /// use portcullis_rate_limit::store::kv::{KvStore, MemoryKeyValue};
    /// let store = KvStore::new(MemoryKeyValue::new());
    /// assert_eq!(store.cached_keys(), 0);
    /// ```
    pub fn new(kv: T) -> Self {
        Self::build(Settings {
            kv: Arc::new(kv),
            prefix: DEFAULT_PREFIX.into(),
            min_ttl: DEFAULT_MIN_TTL,
            capacity: DEFAULT_CACHE_CAPACITY,
            write_interval: 0,
        })
    }

    /// Prefixes every key with `prefix`, to share a namespace with other data.
    /// Configure before use: the instance is rebuilt with an empty cache.
    ///
    /// ```
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan};
    /// use portcullis_rate_limit::store::kv::{KvStore, MemoryKeyValue};
    /// let store = KvStore::new(MemoryKeyValue::new()).prefix("limits/");
    /// assert!(store.storage_key(Fingerprint::from_u64(1), &Plan::free()).starts_with("limits/"));
    /// ```
    #[must_use]
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        Self::build(Settings {
            prefix: prefix.into().into_boxed_str(),
            ..self.settings()
        })
    }

    /// Gives every write a time-to-live of at least `min` (1 s by default; Workers KV
    /// needs 60 s). Configure before use: the instance is rebuilt with an empty cache.
    #[must_use]
    pub fn min_ttl(self, min: Duration) -> Self {
        Self::build(Settings {
            min_ttl: min,
            ..self.settings()
        })
    }

    /// Caches the states of at most `capacity` keys (at least 16; 10,000 by default),
    /// dropping expired ones first, then the least recently written. A key dropped
    /// while active loses the instance's exactness for it (see the
    /// [module docs](super#how-far-it-can-overshoot)). Configure before use: the
    /// instance is rebuilt with an empty cache.
    #[must_use]
    pub fn cache_capacity(self, capacity: usize) -> Self {
        Self::build(Settings {
            capacity,
            ..self.settings()
        })
    }

    /// Writes each key at most once per `interval` (by the checks' clock), for stores
    /// that limit writes per key (Workers KV: about one per second). By default every
    /// admitted request writes. Configure before use: the instance is rebuilt with an
    /// empty cache.
    ///
    /// An admission within `interval` of the key's last write is counted in the
    /// instance's cache only; the next admission after the interval writes the states
    /// with all of it, and [`flush`](Self::flush) writes every key held back. Decisions
    /// do not change: the instance counts its own consumption either way, so the
    /// [bound](super#how-far-it-can-overshoot) holds as stated. What changes is how soon
    /// other instances see it: up to `interval` later, and never for consumption
    /// still held back when the instance goes away without a flush.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::Store};
    /// use portcullis_rate_limit::store::kv::{KvStore, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let kv = MemoryKeyValue::new();
    /// let store = KvStore::new(kv.clone()).write_interval(Duration::from_secs(1));
    /// let plan = Arc::new(Plan::free());
    /// for _ in 0..5 {
    ///     store.check(Fingerprint::from_u64(1), &plan, 1, 0).await.unwrap();
    /// }
    /// // One write so far; the four admissions after it wait for the next one.
    /// assert_eq!(store.flush().await.unwrap(), 1);
    /// assert_eq!(store.flush().await.unwrap(), 0);
    /// # });
    /// ```
    #[must_use]
    pub fn write_interval(self, interval: Duration) -> Self {
        Self::build(Settings {
            write_interval: saturating_nanos(interval),
            ..self.settings()
        })
    }

    fn settings(&self) -> Settings<T> {
        self.inner.settings()
    }

    fn build(settings: Settings<T>) -> Self {
        Self {
            inner: Arc::new(Instance::new(settings)),
        }
    }

    /// Writes every key whose writes the [write interval](Self::write_interval) held
    /// back, now; returns how many it wrote. Call it where the instance may go away
    /// (an edge isolate's `waitUntil`, a shutdown hook) or on a timer, so that other
    /// instances see this one's latest consumption. Every write is tried; the first
    /// failure is returned, and its key stays held back for the next flush.
    ///
    /// ```
    /// use portcullis_rate_limit::store::kv::{KvStore, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = KvStore::new(MemoryKeyValue::new());
    /// assert_eq!(store.flush().await.unwrap(), 0); // nothing held back
    /// # });
    /// ```
    pub async fn flush(&self) -> Result<usize, StoreError> {
        let mut written = 0;
        let mut first_error = None;
        for (cache_key, write) in self.inner.write_held_back() {
            match write.await {
                Ok(()) => written += 1,
                Err(error) => {
                    self.inner.hold_back(cache_key);
                    first_error.get_or_insert(StoreError::backend(error));
                }
            }
        }
        first_error.map_or(Ok(written), Err)
    }

    /// The key-value store.
    ///
    /// ```
    /// use portcullis_rate_limit::store::kv::{KvStore, MemoryKeyValue};
    /// let store = KvStore::new(MemoryKeyValue::new());
    /// assert!(store.kv().is_empty());
    /// ```
    pub fn kv(&self) -> &T {
        &self.inner.kv
    }

    /// The key under which the states of (`key`, `plan`) are stored:
    /// `{prefix}{fingerprint:016x}{plan id:016x}`.
    ///
    /// ```
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, quota::Quota};
    /// use portcullis_rate_limit::store::kv::{KvStore, MemoryKeyValue};
    /// let store = KvStore::new(MemoryKeyValue::new());
    /// let plan = Plan::new("p", [Quota::per_minute("m", 1)]).unwrap();
    /// let key = store.storage_key(Fingerprint::from_u64(0xab), &plan);
    /// assert_eq!(key, format!("rl:00000000000000ab{:016x}", plan.id()));
    /// ```
    pub fn storage_key(&self, key: Fingerprint, plan: &Plan) -> String {
        self.inner.storage_key_of((key.as_u64(), plan.id()))
    }

    /// How many keys the instance's cache holds now.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::Store};
    /// use portcullis_rate_limit::store::kv::{KvStore, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = KvStore::new(MemoryKeyValue::new());
    /// store.check(Fingerprint::from_u64(1), &Arc::new(Plan::free()), 1, 0).await.unwrap();
    /// assert_eq!(store.cached_keys(), 1);
    /// # });
    /// ```
    pub fn cached_keys(&self) -> usize {
        (0..SHARDS)
            .map(|index| self.inner.shard(index).map.len())
            .sum()
    }
}

impl<T: KeyValue> KvStore<T> {
    fn request(&self, key: Fingerprint, plan: &Arc<Plan>, cost: u64, at: u64) -> Request {
        Request {
            plan: plan.clone(),
            storage_key: self.storage_key(key, plan),
            cache_key: (key.as_u64(), plan.id()),
            cost,
            at,
        }
    }
}

impl<T: KeyValue> Store for KvStore<T> {
    type CheckFuture = CheckFuture<T>;
    type RefundFuture = RefundFuture<T>;

    fn check(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Self::CheckFuture {
        let request = self.request(key, plan, cost, now_ns);
        CheckFuture::new(Round::start(&self.inner, request, Instance::decide_check))
    }

    fn refund(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> Self::RefundFuture {
        let request = self.request(key, plan, cost, consumed_at_ns);
        RefundFuture::new(Round::start(&self.inner, request, Instance::decide_refund))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv::MemoryKeyValue;
    use crate::store::kv::fixtures::{NOW, S};

    #[test]
    fn ttls_round_up_to_whole_seconds_and_respect_the_minimum() {
        let store = KvStore::new(MemoryKeyValue::new());
        let inner = &store.inner;
        assert_eq!(inner.ttl(NOW + 6 * S, NOW), Duration::from_secs(6));
        assert_eq!(inner.ttl(NOW + 6 * S + 1, NOW), Duration::from_secs(7));
        assert_eq!(inner.ttl(NOW + 1, NOW), Duration::from_secs(1));
        assert_eq!(inner.ttl(NOW - 1, NOW), Duration::from_secs(1));
        let edge = store.min_ttl(Duration::from_secs(60));
        assert_eq!(edge.inner.ttl(NOW + 6 * S, NOW), Duration::from_secs(60));
        assert_eq!(edge.inner.ttl(NOW + 90 * S, NOW), Duration::from_secs(90));
    }

    #[test]
    fn instances_get_distinct_ids_and_settings_rebuild_a_new_instance() {
        let kv = MemoryKeyValue::new();
        let a = KvStore::new(kv.clone());
        let b = KvStore::new(kv);
        assert_ne!(a.inner.writer, b.inner.writer);
        assert_eq!(a.clone().inner.writer, a.inner.writer);
        let configured = a.clone().prefix("x:");
        assert_ne!(configured.inner.writer, a.inner.writer);
        assert!(Arc::ptr_eq(&configured.inner.kv, &a.inner.kv));
    }
}
