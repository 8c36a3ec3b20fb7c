//! [`KeyCache`]: the verification cache, so that a request with a known key costs no
//! store lookup.
//!
//! The cache maps a key's [`KeyHash`] to what the store said about it:
//!
//! - **Known keys** (the store returned a record) are kept for the *positive TTL*, 30 s
//!   by default. It is the worst-case delay before a revocation takes effect on an
//!   instance whose [invalidation](crate::invalidation) channel is down: with the
//!   channel up, a revoked, rotated or changed key is dropped at once. A cached record
//!   is only a copy: its expiry and revocation times are checked on every request
//!   ([`KeyRecord::status`]), so a key that expires or reaches a scheduled revocation
//!   while cached is refused on time.
//! - **Unknown keys** (a key in the right format and with a valid checksum that the
//!   store does not hold) are kept for the *negative TTL*, 5 s by default, so a client
//!   retrying a wrong key in a loop costs one store lookup per 5 s. The entry must not
//!   hide a key created just now for long: keep this TTL short, and publish an
//!   [`Invalidation`] when a key is created, which drops the negative entry at once.
//!   Unknown keys have their own capacity ([`KeyCacheConfig::max_unknown`]), so a
//!   flood of made-up keys cannot evict known ones.
//! - **Store errors are never cached.**
//!
//! Lookups are *single-flight*: however many requests present a key that is not
//! cached, one of them asks the store and the others wait for its answer (moka's
//! [`try_get_with`](moka::future::Cache::try_get_with)); an error reaches every
//! waiter. Both maps are bounded ([`moka`]'s TinyLFU admission keeps the keys in use
//! and lets one-off keys go first).
//!
//! A hit is a synchronous lookup in a [`moka::sync::Cache`]: no future, no
//! allocation. `moka::future::Cache::get` is an `async fn` whose future has no name,
//! so the verification layer could only keep it in a `Box`; the future cache is
//! therefore used only to coordinate loads, and keeps nothing once a load is done.
//!
//! Time is the caller's: every method takes `now`, read by the verification layer
//! from its [`Clock`](portcullis_core::clock::Clock), so tests move it by hand. (The
//! maps also expire their entries by the monotonic clock after the same TTLs, which
//! only frees memory.)
//!
//! # Invalidation
//!
//! [`KeyCache`] is an [`InvalidationSink`]: give a clone to the invalidation channel.
//! [`invalidate_hash`](KeyCache::invalidate_hash) drops a key by its hash, and
//! [`invalidate_id`](KeyCache::invalidate_id) by its id, through a side index from
//! id to hash kept exactly as large as the known-key map;
//! [`invalidate_all`](KeyCache::invalidate_all) empties the cache. A load that was
//! under way while an invalidation arrived returns its answer to the requests that
//! waited for it but does not keep it, so a revocation that lands between the store
//! read and the cache write is not undone.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use portcullis_api_keys::cache::{Cached, KeyCache, KeyCacheConfig};
//! use portcullis_api_keys::format::KeyFormat;
//! use portcullis_api_keys::hash::KeyHasher;
//! use portcullis_api_keys::id::{KeyId, TenantId};
//! use portcullis_api_keys::record::KeyRecord;
//! use portcullis_api_keys::store::{KeyStore, memory::MemoryKeyStore};
//! use portcullis_api_keys::timestamp::Timestamp;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let cache = KeyCache::new(KeyCacheConfig::default().positive_ttl(Duration::from_secs(10)));
//! let store = MemoryKeyStore::new();
//! let key = KeyFormat::default().generate();
//! let hash = KeyHasher::sha256().hash(&key.parsed());
//! let now = Timestamp::from_unix_micros(1_700_000_000_000_000);
//! let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"), hash, key.masked(), now);
//! store.insert(&record).await?;
//!
//! assert!(cache.get(&hash, now).is_none());
//! let loaded = cache.get_or_load(&store, &hash, now).await.unwrap();
//! assert_eq!(loaded.as_deref(), Some(&record));
//! assert!(matches!(cache.get(&hash, now), Some(Cached::Found(_))));
//!
//! // After the positive TTL, the next request asks the store again.
//! let later = now.saturating_add(Duration::from_secs(10));
//! assert!(cache.get(&hash, later).is_none());
//!
//! cache.invalidate_id(&record.id);
//! assert!(cache.get(&hash, now).is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use moka::notification::RemovalCause;
use serde::{Deserialize, Deserializer};

use crate::hash::KeyHash;
use crate::id::KeyId;
use crate::invalidation::{Invalidation, InvalidationSink};
use crate::record::KeyRecord;
use crate::store::{KeyStore, StoreError};
use crate::timestamp::Timestamp;

/// How long a known key stays cached by default: 30 s, the worst-case revocation
/// delay while the invalidation channel is down.
///
/// ```
/// use portcullis_api_keys::cache::{DEFAULT_POSITIVE_TTL, KeyCacheConfig};
/// assert_eq!(KeyCacheConfig::default().positive_ttl, DEFAULT_POSITIVE_TTL);
/// assert_eq!(DEFAULT_POSITIVE_TTL.as_secs(), 30);
/// ```
pub const DEFAULT_POSITIVE_TTL: Duration = Duration::from_secs(30);

/// How long an unknown key stays cached by default: 5 s, the longest a key created
/// without an invalidation can be refused after a client presented it too early.
///
/// ```
/// use portcullis_api_keys::cache::{DEFAULT_NEGATIVE_TTL, KeyCacheConfig};
/// assert_eq!(KeyCacheConfig::default().negative_ttl, DEFAULT_NEGATIVE_TTL);
/// assert_eq!(DEFAULT_NEGATIVE_TTL.as_secs(), 5);
/// ```
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// How many known keys the cache holds by default: 10,000.
///
/// ```
/// use portcullis_api_keys::cache::{DEFAULT_MAX_CAPACITY, KeyCacheConfig};
/// assert_eq!(KeyCacheConfig::default().max_capacity, DEFAULT_MAX_CAPACITY);
/// ```
pub const DEFAULT_MAX_CAPACITY: u64 = 10_000;

/// How many unknown keys the cache holds by default: 10,000.
///
/// ```
/// use portcullis_api_keys::cache::{DEFAULT_MAX_UNKNOWN, KeyCacheConfig};
/// assert_eq!(KeyCacheConfig::default().max_unknown, DEFAULT_MAX_UNKNOWN);
/// ```
pub const DEFAULT_MAX_UNKNOWN: u64 = 10_000;

/// The longest TTL the maps apply by the monotonic clock (moka refuses more than
/// 1,000 years); longer TTLs still hold by the caller's clock.
const MAX_MAP_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The settings of a [`KeyCache`]: TTLs and capacities. Deserializes from a config
/// file with TTLs in seconds (fractions allowed); missing fields take the defaults.
///
/// A TTL of zero turns that kind of entry off (lookups stay single-flight).
///
/// ```
/// use std::time::Duration;
/// use portcullis_api_keys::cache::KeyCacheConfig;
///
/// let config = KeyCacheConfig::default()
///     .positive_ttl(Duration::from_secs(10))
///     .negative_ttl(Duration::from_millis(500))
///     .max_capacity(100_000);
///
/// let loaded: KeyCacheConfig =
///     serde_json::from_str(r#"{ "positive_ttl": 10, "negative_ttl": 0.5, "max_capacity": 100000 }"#)?;
/// assert_eq!(loaded, config);
/// assert!(serde_json::from_str::<KeyCacheConfig>(r#"{ "positive_ttl": -1 }"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KeyCacheConfig {
    /// How long a known key stays cached ([`DEFAULT_POSITIVE_TTL`]).
    #[serde(deserialize_with = "seconds")]
    pub positive_ttl: Duration,
    /// How long an unknown key stays cached ([`DEFAULT_NEGATIVE_TTL`]).
    #[serde(deserialize_with = "seconds")]
    pub negative_ttl: Duration,
    /// How many known keys the cache holds ([`DEFAULT_MAX_CAPACITY`]).
    pub max_capacity: u64,
    /// How many unknown keys the cache holds ([`DEFAULT_MAX_UNKNOWN`]).
    pub max_unknown: u64,
}

impl Default for KeyCacheConfig {
    /// 30 s for known keys, 5 s for unknown ones, 10,000 of each.
    fn default() -> Self {
        Self {
            positive_ttl: DEFAULT_POSITIVE_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            max_capacity: DEFAULT_MAX_CAPACITY,
            max_unknown: DEFAULT_MAX_UNKNOWN,
        }
    }
}

impl KeyCacheConfig {
    /// Sets how long a known key stays cached: the worst-case revocation delay while
    /// the invalidation channel is down.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_api_keys::cache::KeyCacheConfig;
    /// let config = KeyCacheConfig::default().positive_ttl(Duration::from_secs(5));
    /// assert_eq!(config.positive_ttl, Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn positive_ttl(mut self, ttl: Duration) -> Self {
        self.positive_ttl = ttl;
        self
    }

    /// Sets how long an unknown key stays cached: keep it short, a negative entry can
    /// hide a key created in the meantime (unless its creation is published as an
    /// invalidation).
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_api_keys::cache::KeyCacheConfig;
    /// let config = KeyCacheConfig::default().negative_ttl(Duration::ZERO); // off
    /// assert_eq!(config.negative_ttl, Duration::ZERO);
    /// ```
    #[must_use]
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Sets how many known keys the cache holds.
    ///
    /// ```
    /// use portcullis_api_keys::cache::KeyCacheConfig;
    /// assert_eq!(KeyCacheConfig::default().max_capacity(500).max_capacity, 500);
    /// ```
    #[must_use]
    pub fn max_capacity(mut self, entries: u64) -> Self {
        self.max_capacity = entries;
        self
    }

    /// Sets how many unknown keys the cache holds.
    ///
    /// ```
    /// use portcullis_api_keys::cache::KeyCacheConfig;
    /// assert_eq!(KeyCacheConfig::default().max_unknown(50).max_unknown, 50);
    /// ```
    #[must_use]
    pub fn max_unknown(mut self, entries: u64) -> Self {
        self.max_unknown = entries;
        self
    }
}

/// A duration written as a number of seconds (fractions allowed, never negative).
pub(crate) fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let seconds = f64::deserialize(deserializer)?;
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        serde::de::Error::custom(format!(
            "{seconds} is not a duration: use a number of seconds, zero or more"
        ))
    })
}

/// What the cache holds for a hash, from [`KeyCache::get`].
///
/// ```
/// use portcullis_api_keys::cache::Cached;
/// assert!(Cached::Unknown.into_record().is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Cached {
    /// The store holds this record (whatever its status).
    Found(Arc<KeyRecord>),
    /// The store holds no key with this hash.
    Unknown,
}

impl Cached {
    /// The record, if the key is known.
    ///
    /// ```
    /// use portcullis_api_keys::cache::Cached;
    /// assert_eq!(Cached::Unknown.into_record(), None);
    /// ```
    pub fn into_record(self) -> Option<Arc<KeyRecord>> {
        match self {
            Self::Found(record) => Some(record),
            Self::Unknown => None,
        }
    }
}

/// A known key: the record, until when it is fresh by the caller's clock, and the
/// token of its entry in the id index.
#[derive(Clone)]
struct Known {
    record: Arc<KeyRecord>,
    fresh_until: Timestamp,
    token: u64,
}

/// The id index: each cached key's id to its hash and the token of its entry.
type Ids = Mutex<HashMap<KeyId, (KeyHash, u64)>>;

/// The verification cache. See the [module docs](self). Clones share the cache.
///
/// ```
/// use portcullis_api_keys::cache::KeyCache;
/// let cache = KeyCache::default();
/// let shared = cache.clone(); // for the invalidation channel
/// assert_eq!(shared.entry_count(), 0);
/// ```
#[derive(Clone)]
pub struct KeyCache {
    inner: Arc<Inner>,
}

struct Inner {
    config: KeyCacheConfig,
    known: moka::sync::Cache<KeyHash, Known>,
    /// Unknown hashes, with the time until which they are fresh.
    unknown: moka::sync::Cache<KeyHash, Timestamp>,
    /// Coordinates loads: concurrent loads of a hash share one store lookup. Its
    /// entries expire as soon as they are written; waiters get the value from moka's
    /// waiter, not from the map.
    loads: moka::future::Cache<KeyHash, Option<Arc<KeyRecord>>>,
    ids: Arc<Ids>,
    /// Moves on every invalidation: a load that sees it move does not keep its
    /// answer.
    generation: AtomicU64,
    /// Tokens of id-index entries.
    tokens: AtomicU64,
}

impl Default for KeyCache {
    /// A cache with [`KeyCacheConfig::default`].
    fn default() -> Self {
        Self::new(KeyCacheConfig::default())
    }
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("config", &self.inner.config)
            .field("known", &self.inner.known.entry_count())
            .field("unknown", &self.inner.unknown.entry_count())
            .finish()
    }
}

impl KeyCache {
    /// An empty cache with these settings.
    ///
    /// ```
    /// use portcullis_api_keys::cache::{KeyCache, KeyCacheConfig};
    /// let cache = KeyCache::new(KeyCacheConfig::default().max_capacity(1_000));
    /// assert_eq!(cache.config().max_capacity, 1_000);
    /// ```
    pub fn new(config: KeyCacheConfig) -> Self {
        let ids: Arc<Ids> = Arc::default();
        let listener_ids = Arc::clone(&ids);
        let known = moka::sync::Cache::builder()
            .max_capacity(config.max_capacity)
            .time_to_live(config.positive_ttl.min(MAX_MAP_TTL))
            .eviction_listener(move |hash: Arc<KeyHash>, known: Known, cause| {
                if cause != RemovalCause::Replaced {
                    forget_id(&listener_ids, &known.record.id, &hash, known.token);
                }
            })
            .build();
        let unknown = moka::sync::Cache::builder()
            .max_capacity(config.max_unknown)
            .time_to_live(config.negative_ttl.min(MAX_MAP_TTL))
            .build();
        let loads = moka::future::Cache::builder()
            .max_capacity(config.max_capacity.saturating_add(config.max_unknown))
            .time_to_live(Duration::ZERO)
            .build();
        Self {
            inner: Arc::new(Inner {
                config,
                known,
                unknown,
                loads,
                ids,
                generation: AtomicU64::new(0),
                tokens: AtomicU64::new(0),
            }),
        }
    }

    /// The settings.
    ///
    /// ```
    /// use portcullis_api_keys::cache::{DEFAULT_POSITIVE_TTL, KeyCache};
    /// assert_eq!(KeyCache::default().config().positive_ttl, DEFAULT_POSITIVE_TTL);
    /// ```
    pub fn config(&self) -> &KeyCacheConfig {
        &self.inner.config
    }

    /// What the cache holds for `hash` that is still fresh at `now`, without waiting
    /// or allocating; `None` when the store must be asked.
    ///
    /// ```
    /// use portcullis_api_keys::cache::KeyCache;
    /// use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
    /// use portcullis_api_keys::timestamp::Timestamp;
    /// let hash = KeyHash::from_digest(HashAlgorithm::Sha256, &[0; 32]).unwrap();
    /// assert!(KeyCache::default().get(&hash, Timestamp::UNIX_EPOCH).is_none());
    /// ```
    pub fn get(&self, hash: &KeyHash, now: Timestamp) -> Option<Cached> {
        let inner = &self.inner;
        if let Some(known) = inner.known.get(hash)
            && now < known.fresh_until
        {
            return Some(Cached::Found(known.record));
        }
        match inner.unknown.get(hash) {
            Some(fresh_until) if now < fresh_until => Some(Cached::Unknown),
            _ => None,
        }
    }

    /// The record with this hash, from the cache if it is fresh at `now`, else from
    /// `store` (one lookup however many callers ask at once), then cached. `None` when
    /// the store holds no such key. A store error is returned to every caller that
    /// waited for the lookup and is not cached.
    ///
    /// ```
    /// use portcullis_api_keys::cache::KeyCache;
    /// use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// use portcullis_api_keys::timestamp::Timestamp;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let cache = KeyCache::default();
    /// let hash = KeyHash::from_digest(HashAlgorithm::Sha256, &[0; 32]).unwrap();
    /// let now = Timestamp::from_unix_micros(1);
    /// assert_eq!(cache.get_or_load(&MemoryKeyStore::new(), &hash, now).await.unwrap(), None);
    /// assert!(cache.get(&hash, now).is_some()); // cached as unknown
    /// # });
    /// ```
    pub async fn get_or_load<St: KeyStore>(
        &self,
        store: &St,
        hash: &KeyHash,
        now: Timestamp,
    ) -> Result<Option<Arc<KeyRecord>>, Arc<StoreError>> {
        if let Some(cached) = self.get(hash, now) {
            return Ok(cached.into_record());
        }
        self.inner
            .loads
            .try_get_with(*hash, self.load(store, hash, now))
            .await
    }

    /// The one lookup of a single-flight load.
    async fn load<St: KeyStore>(
        &self,
        store: &St,
        hash: &KeyHash,
        now: Timestamp,
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        // A load that finished between the caller's miss and this one is as good.
        if let Some(cached) = self.get(hash, now) {
            return Ok(cached.into_record());
        }
        let generation = self.inner.generation.load(Ordering::SeqCst);
        let record = store.get_by_hash(hash).await?.map(Arc::new);
        self.remember(hash, record.as_ref(), now);
        if self.inner.generation.load(Ordering::SeqCst) != generation {
            // Something was invalidated while the store answered: this answer may
            // predate it. Give it to the waiting requests, but do not keep it.
            self.forget(hash);
        }
        Ok(record)
    }

    fn remember(&self, hash: &KeyHash, record: Option<&Arc<KeyRecord>>, now: Timestamp) {
        let inner = &self.inner;
        let config = &inner.config;
        match record {
            Some(record) => {
                inner.unknown.invalidate(hash);
                if config.positive_ttl.is_zero() {
                    return;
                }
                let token = inner.tokens.fetch_add(1, Ordering::Relaxed);
                lock(&inner.ids).insert(record.id, (*hash, token));
                inner.known.insert(
                    *hash,
                    Known {
                        record: Arc::clone(record),
                        fresh_until: now.saturating_add(config.positive_ttl),
                        token,
                    },
                );
            }
            None => {
                inner.known.invalidate(hash);
                if !config.negative_ttl.is_zero() {
                    let fresh_until = now.saturating_add(config.negative_ttl);
                    inner.unknown.insert(*hash, fresh_until);
                }
            }
        }
    }

    fn forget(&self, hash: &KeyHash) {
        self.inner.known.invalidate(hash);
        self.inner.unknown.invalidate(hash);
    }

    fn bump_generation(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Drops whatever is cached for the key with this hash (known or unknown), at
    /// once.
    pub fn invalidate_hash(&self, hash: &KeyHash) {
        self.bump_generation();
        self.forget(hash);
    }

    /// Drops the cached record of the key with this id, at once, whatever hash it is
    /// cached under.
    pub fn invalidate_id(&self, id: &KeyId) {
        self.bump_generation();
        // Out of the lock before touching the map: its listener takes the lock.
        let entry = lock(&self.inner.ids).remove(id);
        if let Some((hash, _)) = entry {
            self.inner.known.invalidate(&hash);
        }
    }

    /// Drops every entry, at once: after a bulk change, or a reconnect of the
    /// invalidation channel that may have missed messages.
    ///
    /// ```
    /// use portcullis_api_keys::cache::KeyCache;
    /// let cache = KeyCache::default();
    /// cache.invalidate_all();
    /// assert_eq!(cache.entry_count(), 0);
    /// ```
    pub fn invalidate_all(&self) {
        self.bump_generation();
        self.inner.known.invalidate_all();
        self.inner.unknown.invalidate_all();
        lock(&self.inner.ids).clear();
    }

    /// How many entries (known and unknown) the cache holds, after applying pending
    /// evictions and expirations.
    ///
    /// ```
    /// assert_eq!(portcullis_api_keys::cache::KeyCache::default().entry_count(), 0);
    /// ```
    pub fn entry_count(&self) -> u64 {
        let inner = &self.inner;
        inner.known.run_pending_tasks();
        inner.unknown.run_pending_tasks();
        inner.known.entry_count() + inner.unknown.entry_count()
    }
}

impl InvalidationSink for KeyCache {
    /// Drops the key by hash and by id.
    fn invalidate(&self, invalidation: &Invalidation) {
        self.invalidate_hash(&invalidation.hash);
        self.invalidate_id(&invalidation.id);
    }
}

fn lock(ids: &Ids) -> MutexGuard<'_, HashMap<KeyId, (KeyHash, u64)>> {
    // Every critical section is one map operation: a panic cannot leave it half done.
    ids.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes `id` from the index if it still points at this entry (a newer entry of the
/// same key has another token).
fn forget_id(ids: &Ids, id: &KeyId, hash: &KeyHash, token: u64) {
    let mut ids = lock(ids);
    if ids.get(id) == Some(&(*hash, token)) {
        ids.remove(id);
    }
}

#[cfg(all(test, feature = "memory"))]
mod tests {
    use super::*;
    use crate::format::KeyFormat;
    use crate::hash::KeyHasher;
    use crate::id::TenantId;
    use crate::record::KeyUpdate;
    use crate::store::memory::MemoryKeyStore;
    use std::future::Future;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    const T0: Timestamp = Timestamp::from_unix_micros(1_700_000_000_000_000);

    /// A memory store that counts `get_by_hash` calls, can delay them, and can fail.
    #[derive(Clone, Default)]
    struct Counting {
        store: MemoryKeyStore,
        lookups: Arc<AtomicUsize>,
        delay: Option<Duration>,
        fail: bool,
        /// Runs while the store is answering, before it returns.
        during: Option<Arc<dyn Fn() + Send + Sync>>,
    }

    impl Counting {
        fn lookups(&self) -> usize {
            self.lookups.load(Ordering::SeqCst)
        }
    }

    impl KeyStore for Counting {
        fn insert(
            &self,
            record: &KeyRecord,
        ) -> impl Future<Output = Result<(), StoreError>> + Send {
            self.store.insert(record)
        }

        async fn get_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            if let Some(delay) = self.delay {
                tokio::time::sleep(delay).await;
            }
            let found = self.store.get_by_hash(hash).await;
            if let Some(during) = &self.during {
                during();
            }
            if self.fail {
                return Err(StoreError::backend("connection refused"));
            }
            found
        }

        fn get(
            &self,
            id: &KeyId,
        ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
            self.store.get(id)
        }

        fn list_by_tenant(
            &self,
            tenant: &TenantId,
        ) -> impl Future<Output = Result<Vec<KeyRecord>, StoreError>> + Send {
            self.store.list_by_tenant(tenant)
        }

        fn update(
            &self,
            id: &KeyId,
            update: &KeyUpdate,
        ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
            self.store.update(id, update)
        }

        fn revoke(
            &self,
            id: &KeyId,
            at: Timestamp,
        ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
            self.store.revoke(id, at)
        }

        fn record_last_used(
            &self,
            uses: &[(KeyId, Timestamp)],
        ) -> impl Future<Output = Result<(), StoreError>> + Send {
            self.store.record_last_used(uses)
        }
    }

    async fn stored(store: &Counting) -> KeyRecord {
        let key = KeyFormat::default().generate();
        let hash = KeyHasher::sha256().hash(&key.parsed());
        let record = KeyRecord::new(
            KeyId::generate(),
            TenantId::new("acme"),
            hash,
            key.masked(),
            T0,
        );
        store.insert(&record).await.unwrap();
        record
    }

    fn unknown_hash() -> KeyHash {
        KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed())
    }

    #[tokio::test]
    async fn a_known_key_is_looked_up_once_until_its_ttl() {
        let store = Counting::default();
        let record = stored(&store).await;
        let cache = KeyCache::default();
        for _ in 0..3 {
            let found = cache.get_or_load(&store, &record.hash, T0).await.unwrap();
            assert_eq!(found.as_deref(), Some(&record));
        }
        assert_eq!(store.lookups(), 1);
        let almost = T0.saturating_add(DEFAULT_POSITIVE_TTL - Duration::from_micros(1));
        assert!(cache.get(&record.hash, almost).is_some());
        let expired = T0.saturating_add(DEFAULT_POSITIVE_TTL);
        assert!(cache.get(&record.hash, expired).is_none());
        cache
            .get_or_load(&store, &record.hash, expired)
            .await
            .unwrap();
        assert_eq!(store.lookups(), 2);
    }

    #[tokio::test]
    async fn an_unknown_key_is_remembered_for_the_negative_ttl_only() {
        let store = Counting::default();
        let cache = KeyCache::default();
        let hash = unknown_hash();
        for _ in 0..3 {
            assert_eq!(cache.get_or_load(&store, &hash, T0).await.unwrap(), None);
        }
        assert_eq!(store.lookups(), 1);
        assert_eq!(cache.get(&hash, T0), Some(Cached::Unknown));
        let later = T0.saturating_add(DEFAULT_NEGATIVE_TTL);
        assert_eq!(cache.get(&hash, later), None);
        cache.get_or_load(&store, &hash, later).await.unwrap();
        assert_eq!(store.lookups(), 2);
    }

    #[tokio::test]
    async fn a_zero_ttl_caches_nothing() {
        let store = Counting::default();
        let record = stored(&store).await;
        let cache = KeyCache::new(
            KeyCacheConfig::default()
                .positive_ttl(Duration::ZERO)
                .negative_ttl(Duration::ZERO),
        );
        let unknown = unknown_hash();
        for _ in 0..2 {
            cache.get_or_load(&store, &record.hash, T0).await.unwrap();
            cache.get_or_load(&store, &unknown, T0).await.unwrap();
        }
        assert_eq!(store.lookups(), 4);
        assert_eq!(cache.entry_count(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_lookup() {
        let store = Counting {
            delay: Some(Duration::from_millis(100)),
            ..Counting::default()
        };
        let record = stored(&store).await;
        let cache = KeyCache::default();
        let tasks: Vec<_> = (0..1_000)
            .map(|_| {
                let (cache, store) = (cache.clone(), store.clone());
                tokio::spawn(async move { cache.get_or_load(&store, &record.hash, T0).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().unwrap().id, record.id);
        }
        assert_eq!(store.lookups(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_error_reaches_every_waiter_and_is_not_cached() {
        let store = Counting {
            delay: Some(Duration::from_millis(50)),
            fail: true,
            ..Counting::default()
        };
        let cache = KeyCache::default();
        let hash = unknown_hash();
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (cache, store) = (cache.clone(), store.clone());
                tokio::spawn(async move { cache.get_or_load(&store, &hash, T0).await })
            })
            .collect();
        for task in tasks {
            let error = task.await.unwrap().unwrap_err();
            assert!(matches!(*error, StoreError::Backend { .. }));
        }
        assert_eq!(store.lookups(), 1);
        assert_eq!(cache.get(&hash, T0), None);
        cache.get_or_load(&store, &hash, T0).await.unwrap_err();
        assert_eq!(store.lookups(), 2);
    }

    #[tokio::test]
    async fn invalidation_by_hash_by_id_and_all_drops_at_once() {
        let store = Counting::default();
        let cache = KeyCache::default();
        let (a, b) = (stored(&store).await, stored(&store).await);
        let unknown = unknown_hash();
        let load_all = async || {
            for hash in [a.hash, b.hash, unknown] {
                cache.get_or_load(&store, &hash, T0).await.unwrap();
            }
        };
        load_all().await;
        assert_eq!(cache.entry_count(), 3);

        cache.invalidate_hash(&a.hash);
        cache.invalidate_id(&b.id);
        cache.invalidate_hash(&unknown);
        for hash in [a.hash, b.hash, unknown] {
            assert_eq!(cache.get(&hash, T0), None);
        }
        assert_eq!(cache.entry_count(), 0);

        load_all().await;
        cache.invalidate(&Invalidation::new(a.id, a.hash));
        assert_eq!(cache.get(&a.hash, T0), None);
        assert!(cache.get(&b.hash, T0).is_some());
        cache.invalidate_all();
        for hash in [a.hash, b.hash, unknown] {
            assert_eq!(cache.get(&hash, T0), None);
        }
        assert_eq!(store.lookups(), 6);
    }

    #[tokio::test]
    async fn the_id_index_follows_the_known_entries() {
        let store = Counting::default();
        let cache = KeyCache::default();
        let record = stored(&store).await;
        cache.get_or_load(&store, &record.hash, T0).await.unwrap();
        assert_eq!(lock(&cache.inner.ids).len(), 1);
        // Reloaded after its TTL: replaced, the index points at the new entry.
        let later = T0.saturating_add(DEFAULT_POSITIVE_TTL);
        cache
            .get_or_load(&store, &record.hash, later)
            .await
            .unwrap();
        cache.entry_count();
        assert_eq!(lock(&cache.inner.ids).len(), 1);
        cache.invalidate_id(&record.id);
        assert_eq!(cache.get(&record.hash, later), None);
        // Dropped by hash: the listener empties the index.
        cache
            .get_or_load(&store, &record.hash, later)
            .await
            .unwrap();
        cache.invalidate_hash(&record.hash);
        cache.entry_count();
        assert!(lock(&cache.inner.ids).is_empty());
    }

    #[tokio::test]
    async fn a_load_overtaken_by_an_invalidation_is_not_kept() {
        let cache = KeyCache::default();
        let revoking = cache.clone();
        let store = Counting {
            // The key is revoked (and the invalidation applied) while the store's
            // answer, read before the revocation, is on its way.
            during: Some(Arc::new(move || revoking.invalidate_all())),
            ..Counting::default()
        };
        let record = stored(&store).await;
        let found = cache.get_or_load(&store, &record.hash, T0).await.unwrap();
        assert_eq!(found.as_deref(), Some(&record));
        assert_eq!(cache.get(&record.hash, T0), None);
    }

    #[tokio::test]
    async fn finding_a_key_replaces_its_negative_entry() {
        let store = Counting::default();
        let cache = KeyCache::default();
        let key = KeyFormat::default().generate();
        let hash = KeyHasher::sha256().hash(&key.parsed());
        assert_eq!(cache.get_or_load(&store, &hash, T0).await.unwrap(), None);
        let record = KeyRecord::new(
            KeyId::generate(),
            TenantId::new("a"),
            hash,
            key.masked(),
            T0,
        );
        store.insert(&record).await.unwrap();
        // Without an invalidation the negative entry holds for its TTL …
        assert_eq!(cache.get_or_load(&store, &hash, T0).await.unwrap(), None);
        // … with one, the new key works at once.
        cache.invalidate(&Invalidation::new(record.id, hash));
        let found = cache.get_or_load(&store, &hash, T0).await.unwrap();
        assert_eq!(found.as_deref(), Some(&record));
        assert_eq!(cache.get(&hash, T0), Some(Cached::Found(Arc::new(record))));
    }

    #[test]
    fn config_deserializes_seconds_and_refuses_the_rest() {
        let config: KeyCacheConfig = serde_json::from_str(r#"{"negative_ttl": 0.25}"#).unwrap();
        assert_eq!(config.negative_ttl, Duration::from_millis(250));
        assert_eq!(config.positive_ttl, DEFAULT_POSITIVE_TTL);
        for bad in [
            r#"{"positive_ttl": -1}"#,
            r#"{"positive_ttl": "30s"}"#,
            r#"{"ttl": 3}"#,
        ] {
            assert!(
                serde_json::from_str::<KeyCacheConfig>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
