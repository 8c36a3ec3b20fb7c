//! The instance's cache: per (key, plan), the states it last wrote or merged, in
//! bounded shards that drop expired keys first.

use std::collections::{HashMap, VecDeque};

use super::codec::States;
use crate::store::bounded;

/// A cache key: (fingerprint, plan id).
pub(super) type CacheKey = (u64, u64);

/// One lock's share of the cache.
#[derive(Debug, Default)]
pub(super) struct Shard {
    pub(super) map: HashMap<CacheKey, Entry>,
    order: VecDeque<CacheKey>,
}

/// What this instance last wrote (or merged) for one (key, plan).
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) states: States,
    /// When the states stop mattering (ns since the epoch).
    pub(super) expires_at: u64,
    /// The latest check time seen, to time refunds' writes.
    pub(super) seen_at: u64,
    /// The check time of this instance's last write of the key.
    pub(super) written_at: u64,
    /// Whether the states hold consumption not written yet (writes held back by the
    /// write interval).
    pub(super) pending: bool,
}

/// Whether cached states are written now or held back by the write interval.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    Now,
    HeldBack,
}

impl Shard {
    /// Caches `states` for `key`, inserting it if new (which may drop old keys).
    pub(super) fn store(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::QuotaState;
    use crate::store::kv::fixtures::{MINUTE, NOW, S};

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
