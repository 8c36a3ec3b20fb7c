//! One [`KvStore`](super::KvStore) instance: its id, its settings, and its cache in
//! shards, each behind the lock a key's checks are decided under.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portcullis_core::clock::saturating_nanos;

use super::cache::{CacheKey, Shard};
use super::codec::encode;
use super::key_value::KeyValue;

/// The cache's shards.
pub(super) const SHARDS: usize = 16;
const SECOND_NS: u64 = 1_000_000_000;

/// A [`KvStore`](super::KvStore)'s settings, which its builder methods rebuild it with.
pub(super) struct Settings<T> {
    pub(super) kv: Arc<T>,
    pub(super) prefix: Box<str>,
    pub(super) min_ttl: Duration,
    pub(super) capacity: usize,
    /// At most one write per key per this many nanoseconds (0: every admission).
    pub(super) write_interval: u64,
}

/// One instance of a fleet: what its clones share.
pub(super) struct Instance<T> {
    pub(super) kv: Arc<T>,
    pub(super) writer: u64,
    pub(super) prefix: Box<str>,
    pub(super) min_ttl: Duration,
    pub(super) capacity: usize,
    /// At most one write per key per this many nanoseconds (0: every admission).
    pub(super) write_interval: u64,
    shards: Box<[Mutex<Shard>]>,
    pub(super) shard_capacity: usize,
}

impl<T> Instance<T> {
    /// A new instance (a fresh id, an empty cache) with these settings.
    pub(super) fn new(settings: Settings<T>) -> Self {
        let capacity = settings.capacity.max(SHARDS);
        Self {
            kv: settings.kv,
            writer: fresh_writer_id(),
            prefix: settings.prefix,
            min_ttl: settings.min_ttl,
            capacity,
            write_interval: settings.write_interval,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_capacity: capacity.div_ceil(SHARDS),
        }
    }

    /// The settings this instance was built with.
    pub(super) fn settings(&self) -> Settings<T> {
        Settings {
            kv: self.kv.clone(),
            prefix: self.prefix.clone(),
            min_ttl: self.min_ttl,
            capacity: self.capacity,
            write_interval: self.write_interval,
        }
    }

    /// `{prefix}{fingerprint:016x}{plan id:016x}`.
    pub(super) fn storage_key_of(&self, (fingerprint, plan): CacheKey) -> String {
        use std::fmt::Write as _;
        let mut storage_key = String::with_capacity(self.prefix.len() + 32);
        storage_key.push_str(&self.prefix);
        let _ = write!(storage_key, "{fingerprint:016x}{plan:016x}");
        storage_key
    }

    pub(super) fn shard(&self, index: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard cannot leave an entry half-written (entries are
        // replaced whole), so a poisoned lock is still usable.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn shard_of(&self, cache_key: CacheKey) -> MutexGuard<'_, Shard> {
        let mixed = (cache_key.0 ^ cache_key.1.rotate_left(32)) >> 40;
        self.shard(mixed as usize % SHARDS)
    }

    /// The time-to-live of states expiring at `expires_at`, written at `now`: rounded
    /// up to a whole second, at least the minimum.
    pub(super) fn ttl(&self, expires_at: u64, now: u64) -> Duration {
        let seconds = expires_at.saturating_sub(now).div_ceil(SECOND_NS);
        Duration::from_secs(seconds).max(self.min_ttl)
    }
}

impl<T: KeyValue> Instance<T> {
    /// Starts the write of every key whose writes the write interval held back, and
    /// marks them written.
    pub(super) fn write_held_back(&self) -> Vec<(CacheKey, T::PutFuture)> {
        let mut writes = Vec::new();
        for index in 0..SHARDS {
            let mut shard = self.shard(index);
            for (cache_key, entry) in &mut shard.map {
                if !entry.pending {
                    continue;
                }
                entry.pending = false;
                entry.written_at = entry.seen_at;
                let storage_key = self.storage_key_of(*cache_key);
                let value = encode(self.writer, &entry.states);
                let ttl = self.ttl(entry.expires_at, entry.seen_at);
                writes.push((*cache_key, self.kv.put(&storage_key, value, ttl)));
            }
        }
        writes
    }

    /// Holds the key's write back again, after it failed.
    pub(super) fn hold_back(&self, cache_key: CacheKey) {
        if let Some(entry) = self.shard_of(cache_key).map.get_mut(&cache_key) {
            entry.pending = true;
        }
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
