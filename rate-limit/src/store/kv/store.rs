//! [`KvStore`]: a [`Store`] over a [`KeyValue`] store; see the [module docs](super).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use pin_project_lite::pin_project;
use portcullis_core::clock::saturating_nanos;
use smallvec::SmallVec;

use super::KeyValue;
use crate::algorithm::{Algorithm, QuotaState};
use crate::key::Fingerprint;
use crate::outcome::{MAX_QUOTAS, Outcome};
use crate::plan::Plan;
use crate::quota::Quota;
use crate::store::{Store, StoreError, bounded};

const DEFAULT_PREFIX: &str = "rl:";
const DEFAULT_CACHE_CAPACITY: usize = 10_000;
const DEFAULT_MIN_TTL: Duration = Duration::from_secs(1);
const SHARDS: usize = 16;
const SECOND_NS: u64 = 1_000_000_000;

/// The format version, the first byte of every value.
const VERSION: u8 = 1;
/// Version, writer id, quota count.
const HEADER_LEN: usize = 1 + 8 + 1;
/// `time`, `count`, `previous`.
const STATE_LEN: usize = 3 * 8;

/// The states of one (key, plan), on the stack for every plan.
type States = SmallVec<[QuotaState; MAX_QUOTAS]>;

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
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    kv: Arc<T>,
    writer: u64,
    prefix: Box<str>,
    min_ttl: Duration,
    capacity: usize,
    /// At most one write per key per this many nanoseconds (0: every admission).
    write_interval: u64,
    shards: Box<[Mutex<Shard>]>,
    shard_capacity: usize,
}

/// A cache key: (fingerprint, plan id).
type CacheKey = (u64, u64);

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<CacheKey, Entry>,
    order: VecDeque<CacheKey>,
}

/// What this instance last wrote (or merged) for one (key, plan).
#[derive(Debug)]
struct Entry {
    states: States,
    /// When the states stop mattering (ns since the epoch).
    expires_at: u64,
    /// The latest check time seen, to time refunds' writes.
    seen_at: u64,
    /// The check time of this instance's last write of the key.
    written_at: u64,
    /// Whether the states hold consumption not written yet (writes held back by the
    /// write interval).
    pending: bool,
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
        let inner = &self.inner;
        Settings {
            kv: inner.kv.clone(),
            prefix: inner.prefix.clone(),
            min_ttl: inner.min_ttl,
            capacity: inner.capacity,
            write_interval: inner.write_interval,
        }
    }

    fn build(settings: Settings<T>) -> Self {
        let capacity = settings.capacity.max(SHARDS);
        Self {
            inner: Arc::new(Inner {
                kv: settings.kv,
                writer: fresh_writer_id(),
                prefix: settings.prefix,
                min_ttl: settings.min_ttl,
                capacity,
                write_interval: settings.write_interval,
                shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
                shard_capacity: capacity.div_ceil(SHARDS),
            }),
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
        let inner = &self.inner;
        let mut writes = Vec::new();
        for index in 0..SHARDS {
            let mut shard = inner.shard(index);
            for (cache_key, entry) in &mut shard.map {
                if !entry.pending {
                    continue;
                }
                entry.pending = false;
                entry.written_at = entry.seen_at;
                let storage_key = inner.storage_key_of(*cache_key);
                let value = encode(inner.writer, &entry.states);
                let ttl = inner.ttl(entry.expires_at, entry.seen_at);
                writes.push((*cache_key, inner.kv.put(&storage_key, value, ttl)));
            }
        }
        let mut written = 0;
        let mut first_error = None;
        for (cache_key, write) in writes {
            match write.await {
                Ok(()) => written += 1,
                Err(error) => {
                    if let Some(entry) = inner.shard_of(cache_key).map.get_mut(&cache_key) {
                        entry.pending = true;
                    }
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

/// A [`KvStore`]'s settings, which its builder methods rebuild it with.
struct Settings<T> {
    kv: Arc<T>,
    prefix: Box<str>,
    min_ttl: Duration,
    capacity: usize,
    write_interval: u64,
}

impl<T> Inner<T> {
    /// `{prefix}{fingerprint:016x}{plan id:016x}`.
    fn storage_key_of(&self, (fingerprint, plan): CacheKey) -> String {
        use std::fmt::Write as _;
        let mut storage_key = String::with_capacity(self.prefix.len() + 32);
        storage_key.push_str(&self.prefix);
        let _ = write!(storage_key, "{fingerprint:016x}{plan:016x}");
        storage_key
    }

    fn shard(&self, index: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard cannot leave an entry half-written (entries are
        // replaced whole), so a poisoned lock is still usable.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn shard_of(&self, cache_key: CacheKey) -> MutexGuard<'_, Shard> {
        let mixed = (cache_key.0 ^ cache_key.1.rotate_left(32)) >> 40;
        self.shard(mixed as usize % SHARDS)
    }

    /// The time-to-live of states expiring at `expires_at`, written at `now`: rounded
    /// up to a whole second, at least the minimum.
    fn ttl(&self, expires_at: u64, now: u64) -> Duration {
        let seconds = expires_at.saturating_sub(now).div_ceil(SECOND_NS);
        Duration::from_secs(seconds).max(self.min_ttl)
    }
}

impl<T: KeyValue> Inner<T> {
    /// A check's decision, once the stored value has been read: merge, decide, cache
    /// and, when admitted, start the write (under the key's lock, so this instance's
    /// writes of a key reach the store in decision order).
    fn decide_check(
        &self,
        request: &Request,
        stored: Option<Bytes>,
    ) -> Result<(Outcome, Option<T::PutFuture>), StoreError> {
        let Request {
            ref plan,
            ref storage_key,
            cache_key,
            cost,
            at: now,
        } = *request;
        let stored = stored.map(|value| decode(&value, plan)).transpose()?;
        let mut shard = self.shard_of(cache_key);
        let cached = shard.map.get(&cache_key);
        // A key this instance has not written yet is written at once.
        let due =
            cached.is_none_or(|entry| now.saturating_sub(entry.written_at) >= self.write_interval);
        let mut states = merge(
            plan,
            cached.map(|entry| &entry.states[..]),
            stored,
            self.writer,
        );
        let (outcome, expires_at) = plan.check_all(&mut states, now, cost);
        if !outcome.allowed() {
            if let Some(entry) = shard.map.get_mut(&cache_key) {
                // Keep what was learnt from other instances; nothing to write.
                entry.states = states;
                entry.seen_at = entry.seen_at.max(now);
            }
            return Ok((outcome, None));
        }
        if !due {
            shard.store(
                cache_key,
                states,
                expires_at,
                now,
                Write::HeldBack,
                self.shard_capacity,
            );
            return Ok((outcome, None));
        }
        let write = self.cache_and_write(shard, cache_key, storage_key, states, expires_at, now);
        Ok((outcome, Some(write)))
    }

    /// A refund, once the stored value has been read: merge, give back, cache, write.
    fn decide_refund(
        &self,
        request: &Request,
        stored: Option<Bytes>,
    ) -> Result<((), Option<T::PutFuture>), StoreError> {
        let Request {
            ref plan,
            ref storage_key,
            cache_key,
            cost,
            at: consumed_at,
        } = *request;
        let stored = stored.map(|value| decode(&value, plan)).transpose()?;
        let shard = self.shard_of(cache_key);
        let cached = shard.map.get(&cache_key);
        if cached.is_none() && stored.is_none() {
            return Ok(((), None)); // nothing was consumed that still counts
        }
        let seen_at = cached.map_or(0, |entry| entry.seen_at);
        let mut states = merge(
            plan,
            cached.map(|entry| &entry.states[..]),
            stored,
            self.writer,
        );
        plan.refund(&mut states, consumed_at, cost);
        let expires_at = plan.expires_at(&states);
        let now = seen_at.max(consumed_at);
        let write = self.cache_and_write(shard, cache_key, storage_key, states, expires_at, now);
        Ok(((), Some(write)))
    }

    /// Caches `states` as written and starts their write, still under the key's lock so
    /// that this instance's writes of a key reach the store in decision order.
    fn cache_and_write(
        &self,
        mut shard: MutexGuard<'_, Shard>,
        cache_key: CacheKey,
        storage_key: &str,
        states: States,
        expires_at: u64,
        now: u64,
    ) -> T::PutFuture {
        let value = encode(self.writer, &states);
        let ttl = self.ttl(expires_at, now);
        shard.store(
            cache_key,
            states,
            expires_at,
            now,
            Write::Now,
            self.shard_capacity,
        );
        self.kv.put(storage_key, value, ttl)
    }
}

/// Whether cached states are written now or held back by the write interval.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    Now,
    HeldBack,
}

impl Shard {
    /// Caches `states` for `key`, inserting it if new (which may drop old keys).
    fn store(
        &mut self,
        key: CacheKey,
        states: States,
        expires_at: u64,
        now: u64,
        write: Write,
        capacity: usize,
    ) {
        if let Some(entry) = self.map.get_mut(&key) {
            entry.states = states;
            entry.expires_at = expires_at;
            entry.seen_at = entry.seen_at.max(now);
            match write {
                Write::Now => {
                    entry.written_at = entry.written_at.max(now);
                    entry.pending = false;
                }
                Write::HeldBack => entry.pending = true,
            }
            return;
        }
        let entry = Entry {
            states,
            expires_at,
            seen_at: now,
            written_at: now,
            pending: write == Write::HeldBack,
        };
        bounded::insert(
            &mut self.map,
            &mut self.order,
            key,
            entry,
            |entry| entry.expires_at > now,
            capacity,
        );
    }
}

/// A fresh, random instance id: the values an instance wrote are its own echoes.
fn fresh_writer_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CREATED: AtomicU64 = AtomicU64::new(0);
    // `RandomState` is seeded randomly per process and varies per call.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(CREATED.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u64(saturating_nanos(since_epoch));
    hasher.finish()
}

/// Encodes the states this instance writes; see the [module docs](super#the-stored-value).
fn encode(writer: u64, states: &[QuotaState]) -> Bytes {
    let mut value = BytesMut::with_capacity(HEADER_LEN + STATE_LEN * states.len());
    value.put_u8(VERSION);
    value.put_u64_le(writer);
    // Plans hold at most `MAX_QUOTAS` quotas.
    value.put_u8(u8::try_from(states.len()).unwrap_or(u8::MAX));
    for state in states {
        value.put_u64_le(state.time);
        value.put_u64_le(state.count);
        value.put_u64_le(state.previous);
    }
    value.freeze()
}

/// A stored value: its writer and states.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    writer: u64,
    states: States,
}

/// Decodes a stored value of `plan`, refusing anything but the exact format.
fn decode(value: &[u8], plan: &Plan) -> Result<Stored, StoreError> {
    let malformed = |reason: String| StoreError::Malformed { reason };
    let Some((&version, rest)) = value.split_first() else {
        return Err(malformed("empty value".into()));
    };
    if version != VERSION {
        return Err(malformed(format!("unknown format version {version}")));
    }
    let Some((writer, rest)) = rest.split_first_chunk::<8>() else {
        return Err(malformed(format!("{} bytes, too short", value.len())));
    };
    let Some((&count, mut rest)) = rest.split_first() else {
        return Err(malformed(format!("{} bytes, too short", value.len())));
    };
    let quotas = plan.quotas().len();
    if usize::from(count) != quotas {
        return Err(malformed(format!(
            "{count} quota states for a plan of {quotas} quotas"
        )));
    }
    if rest.len() != STATE_LEN * quotas {
        return Err(malformed(format!(
            "{} bytes of states, expected {}",
            rest.len(),
            STATE_LEN * quotas
        )));
    }
    let mut states = States::new();
    while let Some((time, tail)) = rest.split_first_chunk::<8>()
        && let Some((count, tail)) = tail.split_first_chunk::<8>()
        && let Some((previous, tail)) = tail.split_first_chunk::<8>()
    {
        states.push(QuotaState {
            time: u64::from_le_bytes(*time),
            count: u64::from_le_bytes(*count),
            previous: u64::from_le_bytes(*previous),
        });
        rest = tail;
    }
    Ok(Stored {
        writer: u64::from_le_bytes(*writer),
        states,
    })
}

/// What this instance decides on: its cached states merged, quota by quota, with the
/// stored ones, unless those are its own (then older than or equal to its cache).
fn merge(
    plan: &Plan,
    cached: Option<&[QuotaState]>,
    stored: Option<Stored>,
    writer: u64,
) -> States {
    let quotas = plan.quotas();
    let state = |states: Option<&[QuotaState]>, index: usize| {
        states
            .and_then(|states| states.get(index))
            .copied()
            .unwrap_or_default()
    };
    match (cached, stored) {
        (Some(cached), Some(stored)) if stored.writer != writer => quotas
            .iter()
            .enumerate()
            .map(|(index, quota)| {
                merge_state(
                    quota,
                    state(Some(cached), index),
                    state(Some(&stored.states), index),
                )
            })
            .collect(),
        (Some(cached), _) => (0..quotas.len())
            .map(|index| state(Some(cached), index))
            .collect(),
        (None, Some(stored)) => stored.states,
        (None, None) => (0..quotas.len()).map(|_| QuotaState::default()).collect(),
    }
}

/// The state that loses neither side's consumption, for `quota`'s algorithm.
fn merge_state(quota: &Quota, a: QuotaState, b: QuotaState) -> QuotaState {
    let window = quota.window_ns().max(1);
    match quota.algorithm() {
        // The later theoretical arrival time has consumed more.
        Algorithm::Gcra { .. } => QuotaState {
            time: a.time.max(b.time),
            ..QuotaState::default()
        },
        Algorithm::FixedWindow { .. } => {
            if a.count == 0 {
                b
            } else if b.count == 0 {
                a
            } else if a.time.abs_diff(b.time) < window {
                // One window (UTC windows overlap only when equal): the earlier start,
                // which instances converge on, and the larger count.
                QuotaState {
                    time: a.time.min(b.time),
                    count: a.count.max(b.count),
                    previous: 0,
                }
            } else if a.time > b.time {
                a
            } else {
                b
            }
        }
        Algorithm::SlidingWindow => {
            let start = a.time.max(b.time);
            let (a_previous, a_current) = counts_at(a, start, window);
            let (b_previous, b_current) = counts_at(b, start, window);
            QuotaState {
                time: start,
                count: a_current.max(b_current),
                previous: a_previous.max(b_previous),
            }
        }
    }
}

/// A sliding-window state's (previous, current) counts seen from the window starting
/// at `start`.
fn counts_at(state: QuotaState, start: u64, window: u64) -> (u64, u64) {
    if state.time == start {
        (state.previous, state.count)
    } else if state.time.checked_add(window) == Some(start) {
        (state.count, 0)
    } else {
        (0, 0)
    }
}

/// What a check or refund needs once the stored value is read.
#[derive(Debug)]
struct Request {
    plan: Arc<Plan>,
    storage_key: String,
    cache_key: CacheKey,
    cost: u64,
    /// The check's time, or the refunded consumption's.
    at: u64,
}

/// A decision step: the output and, when there is something to write, the write.
type Decide<T, O> = fn(
    &Inner<T>,
    &Request,
    Option<Bytes>,
) -> Result<(O, Option<<T as KeyValue>::PutFuture>), StoreError>;

pin_project! {
    /// A read, a decision, maybe a write.
    #[project = RoundProj]
    enum Round<T, O>
    where
        T: KeyValue,
    {
        Reading {
            #[pin]
            future: T::GetFuture,
            inner: Arc<Inner<T>>,
            request: Request,
            decide: Decide<T, O>,
        },
        Writing {
            #[pin]
            future: T::PutFuture,
            output: Option<O>,
        },
        Done,
    }
}

impl<T: KeyValue, O> Round<T, O> {
    fn start(inner: &Arc<Inner<T>>, request: Request, decide: Decide<T, O>) -> Self {
        Self::Reading {
            future: inner.kv.get(&request.storage_key),
            inner: inner.clone(),
            request,
            decide,
        }
    }
}

impl<T: KeyValue, O> Future for Round<T, O> {
    type Output = Result<O, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project() {
                RoundProj::Reading {
                    future,
                    inner,
                    request,
                    decide,
                } => match ready!(future.poll(cx))
                    .map_err(StoreError::from)
                    .and_then(|stored| decide(inner, request, stored))
                {
                    Ok((output, Some(write))) => Self::Writing {
                        future: write,
                        output: Some(output),
                    },
                    Ok((output, None)) => {
                        self.set(Self::Done);
                        return Poll::Ready(Ok(output));
                    }
                    Err(error) => {
                        self.set(Self::Done);
                        return Poll::Ready(Err(error));
                    }
                },
                RoundProj::Writing { future, output } => {
                    let written = ready!(future.poll(cx));
                    let Some(output) = output.take() else {
                        unreachable!("polled after completion")
                    };
                    self.set(Self::Done);
                    return Poll::Ready(written.map(|()| output).map_err(StoreError::from));
                }
                RoundProj::Done => panic!("`KvStore` future polled after completion"),
            };
            self.set(next);
        }
    }
}

pin_project! {
    /// The future of [`KvStore`]'s [`Store::check`]: reads the stored states, decides,
    /// and writes when the request is admitted.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::Store};
    /// use portcullis_rate_limit::store::kv::{CheckFuture, KvStore, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = KvStore::new(MemoryKeyValue::new());
    /// let future: CheckFuture<MemoryKeyValue> =
    ///     store.check(Fingerprint::from_u64(1), &Arc::new(Plan::free()), 1, 0);
    /// assert!(future.await.unwrap().allowed());
    /// # });
    /// ```
    pub struct CheckFuture<T>
    where
        T: KeyValue,
    {
        #[pin]
        round: Round<T, Outcome>,
    }
}

pin_project! {
    /// The future of [`KvStore`]'s [`Store::refund`]: reads the stored states, gives
    /// the cost back, and writes.
    pub struct RefundFuture<T>
    where
        T: KeyValue,
    {
        #[pin]
        round: Round<T, ()>,
    }
}

impl<T: KeyValue> Future for CheckFuture<T> {
    type Output = Result<Outcome, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().round.poll(cx)
    }
}

impl<T: KeyValue> Future for RefundFuture<T> {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().round.poll(cx)
    }
}

impl<T: KeyValue> fmt::Debug for CheckFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckFuture").finish_non_exhaustive()
    }
}

impl<T: KeyValue> fmt::Debug for RefundFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefundFuture").finish_non_exhaustive()
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
        CheckFuture {
            round: Round::start(&self.inner, request, Inner::decide_check),
        }
    }

    fn refund(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> Self::RefundFuture {
        let request = self.request(key, plan, cost, consumed_at_ns);
        RefundFuture {
            round: Round::start(&self.inner, request, Inner::decide_refund),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv::MemoryKeyValue;

    const S: u64 = 1_000_000_000;
    const MINUTE: u64 = 60 * S;
    /// A UTC day boundary.
    const NOW: u64 = 1_700_006_400 * S;

    fn plan(quotas: impl IntoIterator<Item = Quota>) -> Plan {
        Plan::new("p", quotas).unwrap()
    }

    fn state(time: u64, count: u64, previous: u64) -> QuotaState {
        QuotaState {
            time,
            count,
            previous,
        }
    }

    #[test]
    fn values_round_trip_in_the_documented_layout() {
        let plan = Plan::free();
        let states = [state(NOW + 6 * S, 0, 0), state(NOW, 3, 0)];
        let value = encode(0x0102_0304_0506_0708, &states);
        assert_eq!(value.len(), 10 + 2 * 24);
        assert_eq!(value[0], 1);
        assert_eq!(value[1..9], 0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(value[9], 2);
        assert_eq!(value[10..18], (NOW + 6 * S).to_le_bytes());
        assert_eq!(value[42..50], 3u64.to_le_bytes());
        let decoded = decode(&value, &plan).unwrap();
        assert_eq!(decoded.writer, 0x0102_0304_0506_0708);
        assert_eq!(decoded.states[..], states);
    }

    #[test]
    fn malformed_values_are_refused_with_a_reason() {
        let plan = Plan::free();
        let good = encode(7, &[state(1, 2, 3), state(4, 5, 6)]);
        let reason = |value: &[u8]| match decode(value, &plan) {
            Err(StoreError::Malformed { reason }) => reason,
            other => panic!("not refused as malformed: {other:?}"),
        };
        assert_eq!(reason(b""), "empty value");
        let mut other_version = good.to_vec();
        other_version[0] = 2;
        assert_eq!(reason(&other_version), "unknown format version 2");
        assert_eq!(reason(&good[..5]), "5 bytes, too short");
        assert_eq!(reason(&good[..9]), "9 bytes, too short");
        let one_quota = encode(7, &[state(1, 2, 3)]);
        assert_eq!(reason(&one_quota), "1 quota states for a plan of 2 quotas");
        assert_eq!(
            reason(&good[..good.len() - 1]),
            "47 bytes of states, expected 48"
        );
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert_eq!(reason(&trailing), "49 bytes of states, expected 48");
        assert_eq!(reason(b"{\"count\":3}"), "unknown format version 123");
    }

    #[test]
    fn gcra_merges_to_the_later_arrival_time() {
        let quota = Quota::per_minute("m", 10);
        let merged = merge_state(&quota, state(NOW + 6 * S, 0, 0), state(NOW + 30 * S, 0, 0));
        assert_eq!(merged, state(NOW + 30 * S, 0, 0));
        let merged = merge_state(&quota, state(NOW + 30 * S, 0, 0), QuotaState::default());
        assert_eq!(merged, state(NOW + 30 * S, 0, 0));
    }

    #[test]
    fn fixed_windows_merge_the_larger_count_of_one_window_or_the_later_window() {
        let utc = Quota::per_minute("m", 10).with_algorithm(Algorithm::fixed_window());
        let same = merge_state(&utc, state(NOW, 3, 0), state(NOW, 7, 0));
        assert_eq!(same, state(NOW, 7, 0));
        let later = merge_state(&utc, state(NOW + MINUTE, 1, 0), state(NOW, 9, 0));
        assert_eq!(later, state(NOW + MINUTE, 1, 0));
        let fresh = merge_state(&utc, QuotaState::default(), state(NOW, 2, 0));
        assert_eq!(fresh, state(NOW, 2, 0));

        let first =
            Quota::per_minute("m", 10).with_algorithm(Algorithm::fixed_window_from_first_request());
        // Two instances opened overlapping windows: one window, from the earlier start.
        let overlapping = merge_state(&first, state(NOW + 5 * S, 2, 0), state(NOW, 5, 0));
        assert_eq!(overlapping, state(NOW, 5, 0));
        let apart = merge_state(&first, state(NOW, 5, 0), state(NOW + MINUTE, 2, 0));
        assert_eq!(apart, state(NOW + MINUTE, 2, 0));
        let empty = merge_state(&first, state(NOW + 5 * S, 0, 0), state(NOW, 4, 0));
        assert_eq!(empty, state(NOW, 4, 0));
    }

    #[test]
    fn sliding_windows_merge_counts_seen_from_the_later_window() {
        let quota = Quota::per_minute("m", 10).with_algorithm(Algorithm::sliding_window());
        let same = merge_state(&quota, state(NOW, 3, 8), state(NOW, 5, 2));
        assert_eq!(same, state(NOW, 5, 8));
        // One instance is a window behind: its current count is the other's previous.
        let behind = merge_state(&quota, state(NOW, 9, 1), state(NOW + MINUTE, 2, 4));
        assert_eq!(behind, state(NOW + MINUTE, 2, 9));
        // Two windows behind: nothing of it counts any more.
        let stale = merge_state(&quota, state(NOW, 9, 1), state(NOW + 2 * MINUTE, 2, 0));
        assert_eq!(stale, state(NOW + 2 * MINUTE, 2, 0));
        let fresh = merge_state(&quota, QuotaState::default(), state(NOW, 1, 1));
        assert_eq!(fresh, state(NOW, 1, 1));
    }

    #[test]
    fn own_echoes_lose_to_the_cache_and_other_writers_merge() {
        let plan = plan([Quota::per_minute("m", 10)]);
        let cached = [state(NOW + 6 * S, 0, 0)];
        let older_own = Stored {
            writer: 1,
            states: [state(NOW + 30 * S, 0, 0)].into_iter().collect(),
        };
        // A refund lowered the cache below what this instance wrote before.
        let merged = merge(&plan, Some(&cached), Some(older_own), 1);
        assert_eq!(merged[..], cached);
        let other = Stored {
            writer: 2,
            states: [state(NOW + 30 * S, 0, 0)].into_iter().collect(),
        };
        let merged = merge(&plan, Some(&cached), Some(other), 1);
        assert_eq!(merged[..], [state(NOW + 30 * S, 0, 0)]);
        let stored = Stored {
            writer: 1,
            states: [state(NOW + 12 * S, 0, 0)].into_iter().collect(),
        };
        assert_eq!(
            merge(&plan, None, Some(stored), 1)[..],
            [state(NOW + 12 * S, 0, 0)]
        );
        assert_eq!(merge(&plan, None, None, 1)[..], [QuotaState::default()]);
    }

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

    #[test]
    fn the_cache_stays_bounded_and_drops_expired_keys_first() {
        let mut shard = Shard::default();
        let states = || States::from_elem(QuotaState::default(), 1);
        for key in 0..100u64 {
            shard.store((key, 0), states(), NOW + MINUTE, NOW, Write::Now, 10);
            assert!(shard.map.len() <= 10);
        }
        assert_eq!(shard.map.len(), shard.order.len());
        // Expired keys go first: a later insertion sweeps them, live ones stay.
        let mut shard = Shard::default();
        shard.store((1, 0), states(), NOW + S, NOW, Write::Now, 10);
        shard.store((2, 0), states(), NOW + MINUTE, NOW, Write::Now, 10);
        shard.store((3, 0), states(), NOW + MINUTE, NOW + 2 * S, Write::Now, 10);
        assert!(!shard.map.contains_key(&(1, 0)));
        assert!(shard.map.contains_key(&(2, 0)));
        assert!(shard.map.contains_key(&(3, 0)));
    }
}
