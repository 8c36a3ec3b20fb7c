//! [`MemoryKeyValue`]: an in-memory [`KeyValue`] store with time-to-live and an
//! optional, simulated propagation lag.

use std::collections::HashMap;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use portcullis_core::clock::{Clock, SystemClock, saturating_nanos};

use super::error::KvError;
use super::key_value::KeyValue;

/// An in-memory [`KeyValue`] store: values expire after their time-to-live, and with a
/// [`visibility_lag`](Self::visibility_lag) it behaves like an edge store, where a
/// write is visible at once to readers at its own *location* and elsewhere only after
/// the lag (or, without [`read_your_writes`](Self::read_your_writes), only after the
/// lag there too). Clones share the data and the location;
/// [`location`](Self::location) gives a handle at another location over the same data.
///
/// Every write is kept as a version, so a reader sees the newest write visible to it
/// (the last writer wins) and a write that has expired hides older ones. Time comes
/// from a [`Clock`] (the system clock unless [`clock`](Self::clock) says otherwise).
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use portcullis_core::clock::ManualClock;
/// use portcullis_rate_limit::store::kv::{KeyValue, MemoryKeyValue};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
/// let here = MemoryKeyValue::new()
///     .clock(clock.clone())
///     .visibility_lag(Duration::from_secs(5));
/// let there = here.location();
///
/// here.put("k", Bytes::from_static(b"v1"), Duration::from_secs(60)).await.unwrap();
/// assert_eq!(here.get("k").await.unwrap(), Some(Bytes::from_static(b"v1")));
/// assert_eq!(there.get("k").await.unwrap(), None); // still propagating
///
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(there.get("k").await.unwrap(), Some(Bytes::from_static(b"v1")));
///
/// clock.advance(Duration::from_secs(55));
/// assert_eq!(here.get("k").await.unwrap(), None); // expired
/// # });
/// ```
#[derive(Clone)]
pub struct MemoryKeyValue {
    shared: Arc<Shared>,
    location: u64,
}

struct Shared {
    entries: Mutex<HashMap<String, Vec<Version>>>,
    config: Config,
    next_location: AtomicU64,
}

#[derive(Clone, Debug)]
struct Config {
    clock: Arc<dyn Clock>,
    lag_ns: u64,
    read_your_writes: bool,
    min_ttl: Duration,
}

/// One write of a key.
#[derive(Clone, Debug)]
struct Version {
    written_at: u64,
    location: u64,
    expires_at: u64,
    value: Bytes,
}

impl Default for MemoryKeyValue {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryKeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.shared.config;
        f.debug_struct("MemoryKeyValue")
            .field("location", &self.location)
            .field("visibility_lag", &Duration::from_nanos(config.lag_ns))
            .field("read_your_writes", &config.read_your_writes)
            .field("min_ttl", &config.min_ttl)
            .field("clock", &config.clock)
            .finish_non_exhaustive()
    }
}

impl MemoryKeyValue {
    /// An empty store on the system clock, with writes visible everywhere at once and
    /// any time-to-live accepted.
    ///
    /// ```
    /// let kv = portcullis_rate_limit::store::kv::MemoryKeyValue::new();
    /// assert!(kv.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::build(Config {
            clock: Arc::new(SystemClock),
            lag_ns: 0,
            read_your_writes: true,
            min_ttl: Duration::ZERO,
        })
    }

    /// Reads time from `clock` (a [`ManualClock`](portcullis_core::clock::ManualClock)
    /// in tests): it decides expiry and visibility. Configure before use: the store is
    /// rebuilt empty.
    #[must_use]
    pub fn clock(self, clock: impl Clock) -> Self {
        self.rebuild(|config| config.clock = Arc::new(clock))
    }

    /// Makes a write visible to readers at other [locations](Self::location) only
    /// `lag` after it (Workers KV: up to about 60 s); readers at the writer's location
    /// see it at once. Configure before use: the store is rebuilt empty.
    #[must_use]
    pub fn visibility_lag(self, lag: Duration) -> Self {
        self.rebuild(|config| config.lag_ns = saturating_nanos(lag))
    }

    /// Whether readers at the writer's location see a write at once (`true`, the
    /// default) or, like everyone else, only after the [lag](Self::visibility_lag):
    /// edge stores that cache reads may serve an older value even where the write was
    /// made. Configure before use: the store is rebuilt empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use portcullis_rate_limit::store::kv::{KeyValue, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let kv = MemoryKeyValue::new()
    ///     .visibility_lag(Duration::from_secs(3_600))
    ///     .read_your_writes(false);
    /// kv.put("k", Bytes::from_static(b"v"), Duration::from_secs(60)).await.unwrap();
    /// assert!(kv.get("k").await.unwrap().is_none());
    /// # });
    /// ```
    #[must_use]
    pub fn read_your_writes(self, read_your_writes: bool) -> Self {
        self.rebuild(|config| config.read_your_writes = read_your_writes)
    }

    /// Refuses writes whose time-to-live is below `min` with
    /// [`KvError::TtlTooShort`], as edge stores do (Workers KV: 60 s). Configure
    /// before use: the store is rebuilt empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use portcullis_rate_limit::store::kv::{KeyValue, KvError, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let kv = MemoryKeyValue::new().min_ttl(Duration::from_secs(60));
    /// let refused = kv.put("k", Bytes::new(), Duration::from_secs(59)).await;
    /// assert!(matches!(refused, Err(KvError::TtlTooShort { .. })));
    /// # });
    /// ```
    #[must_use]
    pub fn min_ttl(self, min: Duration) -> Self {
        self.rebuild(|config| config.min_ttl = min)
    }

    fn rebuild(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.shared.config.clone();
        change(&mut config);
        Self::build(config)
    }

    fn build(config: Config) -> Self {
        Self {
            shared: Arc::new(Shared {
                entries: Mutex::default(),
                config,
                next_location: AtomicU64::new(1),
            }),
            location: 0,
        }
    }

    /// A handle at a new location over the same data: it sees its own writes at once
    /// and every other location's after the [lag](Self::visibility_lag). Give each
    /// simulated instance its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use portcullis_rate_limit::store::kv::{KeyValue, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let here = MemoryKeyValue::new().visibility_lag(Duration::from_secs(3_600));
    /// let there = here.location();
    /// there.put("k", Bytes::from_static(b"v"), Duration::from_secs(60)).await.unwrap();
    /// assert!(there.get("k").await.unwrap().is_some());
    /// assert!(here.get("k").await.unwrap().is_none());
    /// # });
    /// ```
    pub fn location(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            location: self.shared.next_location.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// How many keys hold a value that has not expired (visible everywhere or still
    /// propagating).
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use portcullis_rate_limit::store::kv::{KeyValue, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let kv = MemoryKeyValue::new();
    /// kv.put("a", Bytes::new(), Duration::from_secs(60)).await.unwrap();
    /// kv.put("a", Bytes::new(), Duration::from_secs(60)).await.unwrap();
    /// assert_eq!(kv.len(), 1);
    /// # });
    /// ```
    pub fn len(&self) -> usize {
        let now = self.now();
        self.entries()
            .values()
            .filter(|versions| newest_live(versions, now).is_some())
            .count()
    }

    /// Whether no key holds a value that has not expired.
    ///
    /// ```
    /// assert!(portcullis_rate_limit::store::kv::MemoryKeyValue::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys that hold a value that has not expired, sorted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use portcullis_rate_limit::store::kv::{KeyValue, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let kv = MemoryKeyValue::new();
    /// kv.put("b", Bytes::new(), Duration::from_secs(60)).await.unwrap();
    /// kv.put("a", Bytes::new(), Duration::from_secs(60)).await.unwrap();
    /// assert_eq!(kv.keys(), ["a", "b"]);
    /// # });
    /// ```
    pub fn keys(&self) -> Vec<String> {
        let now = self.now();
        let mut keys: Vec<String> = self
            .entries()
            .iter()
            .filter(|(_, versions)| newest_live(versions, now).is_some())
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort_unstable();
        keys
    }

    /// How long until the newest write of `key` expires; `None` when it has (or
    /// there is none). Right after a write, this is the time-to-live it was given.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use portcullis_core::clock::ManualClock;
    /// use portcullis_rate_limit::store::kv::{KeyValue, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
    /// let kv = MemoryKeyValue::new().clock(clock.clone());
    /// kv.put("k", Bytes::new(), Duration::from_secs(60)).await.unwrap();
    /// assert_eq!(kv.time_to_live("k"), Some(Duration::from_secs(60)));
    /// clock.advance(Duration::from_secs(45));
    /// assert_eq!(kv.time_to_live("k"), Some(Duration::from_secs(15)));
    /// assert_eq!(kv.time_to_live("other"), None);
    /// # });
    /// ```
    pub fn time_to_live(&self, key: &str) -> Option<Duration> {
        let now = self.now();
        let entries = self.entries();
        let newest = newest_live(entries.get(key)?, now)?;
        Some(Duration::from_nanos(newest.expires_at - now))
    }

    /// Forgets every write that no reader can see any more: writes superseded by a
    /// newer one visible everywhere, and keys whose newest write has expired.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use portcullis_core::clock::ManualClock;
    /// use portcullis_rate_limit::store::kv::{KeyValue, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
    /// let kv = MemoryKeyValue::new().clock(clock.clone());
    /// kv.put("k", Bytes::new(), Duration::from_secs(1)).await.unwrap();
    /// clock.advance(Duration::from_secs(1));
    /// kv.purge_expired();
    /// assert_eq!(kv.stored_versions(), 0);
    /// # });
    /// ```
    pub fn purge_expired(&self) {
        let now = self.now();
        let lag = self.shared.config.lag_ns;
        self.entries().retain(|_, versions| {
            prune(versions, now, lag);
            // An expired newest write hides older ones once it is visible everywhere
            // (pruning then left it alone); before that, older ones may still show.
            !(versions.len() == 1 && versions[0].expires_at <= now)
        });
    }

    /// How many writes the store keeps in memory, over all keys (expired ones until
    /// they are pruned or [purged](Self::purge_expired)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use portcullis_rate_limit::store::kv::{KeyValue, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let kv = MemoryKeyValue::new();
    /// kv.put("k", Bytes::new(), Duration::from_secs(9)).await.unwrap();
    /// kv.put("k", Bytes::new(), Duration::from_secs(9)).await.unwrap();
    /// assert_eq!(kv.stored_versions(), 1); // no lag: the first write is gone
    /// # });
    /// ```
    pub fn stored_versions(&self) -> usize {
        self.entries().values().map(Vec::len).sum()
    }

    fn now(&self) -> u64 {
        self.shared.config.clock.unix_nanos()
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, Vec<Version>>> {
        // Versions are pushed and pruned whole: a panic elsewhere cannot leave one
        // half-written, so a poisoned lock is still usable.
        self.shared
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read(&self, key: &str) -> Option<Bytes> {
        let now = self.now();
        let Config {
            lag_ns,
            read_your_writes,
            ..
        } = self.shared.config;
        let entries = self.entries();
        let newest_visible = entries.get(key)?.iter().rev().find(|version| {
            (read_your_writes && version.location == self.location)
                || version.written_at.saturating_add(lag_ns) <= now
        })?;
        (newest_visible.expires_at > now).then(|| newest_visible.value.clone())
    }

    fn write(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), KvError> {
        let min = self.shared.config.min_ttl;
        if ttl < min {
            return Err(KvError::TtlTooShort { ttl, min });
        }
        let now = self.now();
        let version = Version {
            written_at: now,
            location: self.location,
            expires_at: now.saturating_add(saturating_nanos(ttl)),
            value,
        };
        let mut entries = self.entries();
        match entries.get_mut(key) {
            Some(versions) => {
                versions.push(version);
                prune(versions, now, self.shared.config.lag_ns);
            }
            None => {
                entries.insert(key.to_owned(), vec![version]);
            }
        }
        Ok(())
    }
}

/// The newest write, if it has not expired.
fn newest_live(versions: &[Version], now: u64) -> Option<&Version> {
    versions.last().filter(|version| version.expires_at > now)
}

/// Drops the writes older than the newest one that every location sees: no reader can
/// see them again.
fn prune(versions: &mut Vec<Version>, now: u64, lag: u64) {
    let everywhere = versions
        .iter()
        .rposition(|version| version.written_at.saturating_add(lag) <= now);
    if let Some(index) = everywhere {
        versions.drain(..index);
    }
}

impl KeyValue for MemoryKeyValue {
    type GetFuture = Ready<Result<Option<Bytes>, KvError>>;
    type PutFuture = Ready<Result<(), KvError>>;

    /// Reads at once: the newest write visible at this location, unless it expired.
    fn get(&self, key: &str) -> Self::GetFuture {
        ready(Ok(self.read(key)))
    }

    /// Writes at once, when called (not when polled): writes take effect in call
    /// order.
    fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Self::PutFuture {
        ready(self.write(key, value, ttl))
    }
}

#[cfg(test)]
mod tests {
    use portcullis_core::clock::ManualClock;

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn lagging(lag: Duration) -> (ManualClock, MemoryKeyValue) {
        let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
        let kv = MemoryKeyValue::new()
            .clock(clock.clone())
            .visibility_lag(lag);
        (clock, kv)
    }

    fn get(kv: &MemoryKeyValue, key: &str) -> Option<Bytes> {
        kv.read(key)
    }

    fn put(kv: &MemoryKeyValue, key: &str, value: &'static [u8], ttl: Duration) {
        kv.write(key, Bytes::from_static(value), ttl).unwrap();
    }

    #[test]
    fn values_expire_after_their_ttl() {
        let (clock, kv) = lagging(Duration::ZERO);
        put(&kv, "k", b"v", 10 * SECOND);
        clock.advance(10 * SECOND - Duration::from_nanos(1));
        assert_eq!(get(&kv, "k").as_deref(), Some(&b"v"[..]));
        assert_eq!(kv.time_to_live("k"), Some(Duration::from_nanos(1)));
        clock.advance(Duration::from_nanos(1));
        assert_eq!(get(&kv, "k"), None);
        assert_eq!(kv.time_to_live("k"), None);
        assert!(kv.is_empty());
        assert!(kv.keys().is_empty());
        assert_eq!(kv.stored_versions(), 1);
        kv.purge_expired();
        assert_eq!(kv.stored_versions(), 0);
    }

    #[test]
    fn other_locations_see_writes_after_the_lag_and_the_last_writer_wins() {
        let (clock, a) = lagging(5 * SECOND);
        let b = a.location();
        put(&a, "k", b"a1", 60 * SECOND);
        clock.advance(SECOND);
        put(&b, "k", b"b1", 60 * SECOND);
        // Each location sees its own write, not yet the other's.
        assert_eq!(get(&a, "k").as_deref(), Some(&b"a1"[..]));
        assert_eq!(get(&b, "k").as_deref(), Some(&b"b1"[..]));
        // a's write reaches b, but b's own write is newer.
        clock.advance(4 * SECOND);
        assert_eq!(get(&b, "k").as_deref(), Some(&b"b1"[..]));
        assert_eq!(get(&a, "k").as_deref(), Some(&b"a1"[..]));
        assert_eq!(a.stored_versions(), 2);
        // b's write reaches a: the newer write wins everywhere.
        clock.advance(SECOND);
        assert_eq!(get(&a, "k").as_deref(), Some(&b"b1"[..]));
        let c = a.location();
        assert_eq!(get(&c, "k").as_deref(), Some(&b"b1"[..]));
        // a1 can no longer be seen anywhere: the next write prunes it.
        put(&a, "other", b"x", 60 * SECOND);
        put(&a, "k", b"a2", 60 * SECOND);
        assert_eq!(a.stored_versions(), 3);
    }

    #[test]
    fn without_read_your_writes_the_writer_waits_for_the_lag_too() {
        let (clock, a) = lagging(5 * SECOND);
        let a = a.read_your_writes(false);
        put(&a, "k", b"v1", 60 * SECOND);
        assert_eq!(get(&a, "k"), None);
        clock.advance(5 * SECOND);
        put(&a, "k", b"v2", 60 * SECOND);
        // The writer sees its older write until the newer one has propagated.
        assert_eq!(get(&a, "k").as_deref(), Some(&b"v1"[..]));
        clock.advance(5 * SECOND);
        assert_eq!(get(&a, "k").as_deref(), Some(&b"v2"[..]));
    }

    #[test]
    fn an_expired_newest_write_hides_older_ones() {
        let (clock, a) = lagging(Duration::ZERO);
        put(&a, "k", b"long", 3_600 * SECOND);
        put(&a, "k", b"short", SECOND);
        clock.advance(SECOND);
        assert_eq!(get(&a, "k"), None);
        a.purge_expired();
        assert_eq!(a.stored_versions(), 0);
    }

    #[test]
    fn purging_keeps_what_a_location_can_still_see() {
        let (clock, a) = lagging(10 * SECOND);
        let b = a.location();
        put(&a, "k", b"old", 3_600 * SECOND);
        clock.advance(10 * SECOND);
        put(&a, "k", b"new", SECOND);
        clock.advance(SECOND);
        // The new write expired at a, but b still sees the old one until it arrives.
        a.purge_expired();
        assert_eq!(get(&a, "k"), None);
        assert_eq!(get(&b, "k").as_deref(), Some(&b"old"[..]));
        clock.advance(9 * SECOND);
        assert_eq!(get(&b, "k"), None);
        a.purge_expired();
        assert_eq!(a.stored_versions(), 0);
    }

    #[test]
    fn ttls_below_the_minimum_are_refused() {
        let kv = MemoryKeyValue::new().min_ttl(60 * SECOND);
        let refused = kv.write("k", Bytes::new(), 59 * SECOND);
        assert!(matches!(refused, Err(KvError::TtlTooShort { .. })));
        assert!(kv.is_empty());
        assert!(kv.write("k", Bytes::new(), 60 * SECOND).is_ok());
        assert_eq!(kv.keys(), ["k"]);
    }
}
