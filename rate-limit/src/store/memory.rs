//! The in-memory store: sharded, bounded, for one process.
//!
//! Keys are spread over shards, each a `Mutex<HashMap>` keyed by the 64-bit
//! fingerprint (already a good hash, so the map does not hash again). A check on a key
//! the store already holds locks one shard, updates its states in place and allocates
//! nothing.
//!
//! # Bounded memory
//!
//! The store holds at most [`max_keys`](MemoryStore::max_keys) keys. Each shard keeps
//! its keys in a queue; every insertion of a new key looks at a couple of the oldest
//! ones and drops those that are idle (their state has expired, so it equals a fresh
//! state and removing it changes no decision, and has stayed so for the
//! [`idle_timeout`](MemoryStore::idle_timeout), so returning clients keep their entry)
//! or rotates them to the back. When a shard is full, its oldest
//! key is dropped even if live: memory stays bounded under a flood of distinct
//! addresses, at the price of forgetting (so forgiving) the longest-untouched keys.
//! [`purge_expired`](MemoryStore::purge_expired) sweeps everything at once.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::memory::MemoryStore};
//!
//! let store = MemoryStore::new().max_keys(10_000);
//! let plan = Arc::new(Plan::free());
//! let now = 1_700_000_000_000_000_000; // ns since the Unix epoch
//! let outcome = store.check_now(Fingerprint::from_u64(1), &plan, 1, now);
//! assert!(outcome.allowed());
//! assert_eq!(store.len(), 1);
//! ```

use std::collections::{HashMap, VecDeque};
use std::future::{Ready, ready};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use portcullis_core::clock::saturating_nanos;

use super::{Store, StoreError, bounded};
use crate::algorithm::{Check, QuotaState};
use crate::key::Fingerprint;
use crate::outcome::{MAX_QUOTAS, Outcome, QuotaStatus};
use crate::plan::Plan;
use crate::quota::Quota;

const DEFAULT_MAX_KEYS: usize = 100_000;
const DEFAULT_SHARDS: usize = 64;
const DEFAULT_IDLE_NANOS: u64 = 60_000_000_000;

/// The in-memory store; clones share the same state. See the [module docs](self).
///
/// ```
/// use portcullis_rate_limit::store::memory::MemoryStore;
/// let store = MemoryStore::new().max_keys(1_000).shards(8);
/// assert_eq!(store.capacity(), 1_000);
/// assert!(store.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shards: Box<[Mutex<Shard>]>,
    shard_mask: usize,
    shard_capacity: usize,
    max_keys: usize,
    idle_nanos: u64,
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<u64, Entry, BuildHasherDefault<FingerprintHasher>>,
    order: VecDeque<u64>,
}

#[derive(Debug)]
struct Entry {
    states: States,
    expires_at: u64,
}

/// How many states an entry keeps inline (a minute + day plan); more go to the heap.
const INLINE: usize = 2;

/// An entry's states: inline for small plans, so neither a check nor an insertion
/// allocates, else boxed.
#[derive(Debug)]
enum States {
    Inline {
        len: usize,
        states: [QuotaState; INLINE],
    },
    Heap(Box<[QuotaState]>),
}

impl States {
    fn new(states: &[QuotaState]) -> Self {
        if states.len() <= INLINE {
            let mut inline = [QuotaState::default(); INLINE];
            inline[..states.len()].copy_from_slice(states);
            Self::Inline {
                len: states.len(),
                states: inline,
            }
        } else {
            Self::Heap(states.into())
        }
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [QuotaState] {
        match self {
            Self::Inline { len, states } => &mut states[..*len],
            Self::Heap(states) => states,
        }
    }
}

/// Fingerprints are uniformly distributed already: use their low bits as the hash.
#[derive(Default)]
struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store of at most 100,000 keys in 64 shards, dropping keys idle for a minute.
    ///
    /// ```
    /// let store = portcullis_rate_limit::store::memory::MemoryStore::new();
    /// assert_eq!(store.capacity(), 100_032);
    /// ```
    pub fn new() -> Self {
        Self::build(DEFAULT_MAX_KEYS, DEFAULT_SHARDS, DEFAULT_IDLE_NANOS)
    }

    /// Holds at most `max_keys` keys (at least one per shard). Configure before use:
    /// the store is rebuilt empty.
    ///
    /// ```
    /// let store = portcullis_rate_limit::store::memory::MemoryStore::new().max_keys(6_400);
    /// assert_eq!(store.capacity(), 6_400);
    /// ```
    #[must_use]
    pub fn max_keys(self, max_keys: usize) -> Self {
        Self::build(max_keys, self.inner.shards.len(), self.inner.idle_nanos)
    }

    /// Spreads keys over `shards` locks (rounded up to a power of two). Configure
    /// before use: the store is rebuilt empty.
    ///
    /// ```
    /// let store = portcullis_rate_limit::store::memory::MemoryStore::new().max_keys(1_000).shards(3);
    /// assert_eq!(store.capacity(), 1_000); // 4 shards of 250
    /// ```
    #[must_use]
    pub fn shards(self, shards: usize) -> Self {
        Self::build(self.inner.max_keys, shards, self.inner.idle_nanos)
    }

    /// How long a key whose state has expired stays before the sweep may drop it (a
    /// minute by default): a client coming back within it reuses its entry instead of
    /// allocating a new one. Configure before use: the store is rebuilt empty.
    #[must_use]
    pub fn idle_timeout(self, idle: Duration) -> Self {
        Self::build(
            self.inner.max_keys,
            self.inner.shards.len(),
            saturating_nanos(idle),
        )
    }

    fn build(max_keys: usize, shards: usize, idle_nanos: u64) -> Self {
        let shards = shards.clamp(1, 1 << 16).next_power_of_two();
        let max_keys = max_keys.max(shards);
        Self {
            inner: Arc::new(Inner {
                shards: (0..shards).map(|_| Mutex::default()).collect(),
                shard_mask: shards - 1,
                shard_capacity: max_keys.div_ceil(shards),
                max_keys,
                idle_nanos,
            }),
        }
    }

    /// The most keys the store holds (rounded up to a multiple of the shard count).
    ///
    /// ```
    /// let store = portcullis_rate_limit::store::memory::MemoryStore::new().shards(4).max_keys(10);
    /// assert_eq!(store.capacity(), 12); // 4 shards of 3
    /// ```
    pub fn capacity(&self) -> usize {
        self.inner.shard_capacity * self.inner.shards.len()
    }

    /// How many (key, plan) states the store holds now.
    ///
    /// ```
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::memory::MemoryStore};
    /// let store = MemoryStore::new();
    /// store.check_now(Fingerprint::from_u64(1), &Plan::free(), 1, 0);
    /// assert_eq!(store.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        (0..self.inner.shards.len())
            .map(|index| self.shard(index).map.len())
            .sum()
    }

    /// Whether the store holds nothing.
    ///
    /// ```
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::memory::MemoryStore};
    /// let store = MemoryStore::new();
    /// store.check_now(Fingerprint::from_u64(1), &Plan::free(), 1, 0);
    /// assert!(!store.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every state that has expired at `now_ns` (ns since the Unix epoch).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, quota::Quota, store::memory::MemoryStore};
    ///
    /// const SECOND: u64 = 1_000_000_000;
    /// let store = MemoryStore::new();
    /// let plan = Arc::new(Plan::new("p", [Quota::per_second("s", 5)]).unwrap());
    /// store.check_now(Fingerprint::from_u64(1), &plan, 1, 100 * SECOND);
    /// store.purge_expired(101 * SECOND);
    /// assert!(store.is_empty());
    /// ```
    pub fn purge_expired(&self, now_ns: u64) {
        let now = now_ns;
        for index in 0..self.inner.shards.len() {
            let mut shard = self.shard(index);
            let Shard { map, order } = &mut *shard;
            map.retain(|_, entry| entry.expires_at > now);
            order.retain(|key| map.contains_key(key));
        }
    }

    /// [`Store::check`] without a future: the memory store never waits.
    ///
    /// ```
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::memory::MemoryStore};
    /// let store = MemoryStore::new();
    /// store.check_now(Fingerprint::from_u64(1), &Plan::free(), 1, 0);
    /// let outcome = store.check_now(Fingerprint::from_u64(1), &Plan::free(), 1, 0);
    /// assert_eq!(outcome.statuses()[0].remaining(), 8);
    /// ```
    #[inline]
    pub fn check_now(&self, key: Fingerprint, plan: &Plan, cost: u64, now_ns: u64) -> Outcome {
        let map_key = map_key(key, plan);
        let mut shard = self.shard(shard_index(map_key, self.inner.shard_mask));
        if let Some(entry) = shard.map.get_mut(&map_key) {
            // Plans of one or two quotas, the common case: hold the lock only to update
            // the states, and build the outcome after releasing it.
            match (plan.quotas(), entry.states.as_mut_slice()) {
                ([quota], [state]) => {
                    let check = quota.check(*state, now_ns, cost);
                    if check.allowed {
                        *state = check.state;
                        if check.expires_at > 0 {
                            entry.expires_at = check.expires_at;
                        }
                    }
                    drop(shard);
                    return Outcome::one(QuotaStatus::from(check));
                }
                ([first, second], [first_state, second_state]) => {
                    let (a, b) = check_pair(
                        [first, second],
                        [first_state, second_state],
                        &mut entry.expires_at,
                        cost,
                        now_ns,
                    );
                    drop(shard);
                    return Outcome::two(a, b, cost);
                }
                _ => {}
            }
            return Self::check_entry(entry, plan, cost, now_ns);
        }
        let mut states = [QuotaState::default(); MAX_QUOTAS];
        let states = &mut states[..plan.quotas().len().min(MAX_QUOTAS)];
        let (outcome, expires_at) = plan.check_all(states, now_ns, cost);
        if outcome.allowed() {
            let entry = Entry {
                states: States::new(states),
                expires_at,
            };
            let idle_before = now_ns.saturating_sub(self.inner.idle_nanos);
            shard.insert(map_key, entry, idle_before, self.inner.shard_capacity);
        }
        outcome
    }

    /// A check of a key the store holds, for plans of any size.
    fn check_entry(entry: &mut Entry, plan: &Plan, cost: u64, now_ns: u64) -> Outcome {
        if entry.states.as_mut_slice().len() != plan.quotas().len() {
            entry.states = States::new(&vec![QuotaState::default(); plan.quotas().len()]);
        }
        let states = entry.states.as_mut_slice();
        let (outcome, expires_at) = plan.check_all(states, now_ns, cost);
        if expires_at > 0 {
            entry.expires_at = expires_at;
        }
        outcome
    }

    /// [`Store::refund`] without a future.
    ///
    /// ```
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::memory::MemoryStore};
    /// let store = MemoryStore::new();
    /// store.check_now(Fingerprint::from_u64(1), &Plan::free(), 1, 0);
    /// store.refund_now(Fingerprint::from_u64(1), &Plan::free(), 1, 0);
    /// let outcome = store.check_now(Fingerprint::from_u64(1), &Plan::free(), 1, 0);
    /// assert_eq!(outcome.statuses()[0].remaining(), 9);
    /// ```
    pub fn refund_now(&self, key: Fingerprint, plan: &Plan, cost: u64, consumed_at_ns: u64) {
        let consumed_at = consumed_at_ns;
        let map_key = map_key(key, plan);
        let mut shard = self.shard(shard_index(map_key, self.inner.shard_mask));
        if let Some(entry) = shard.map.get_mut(&map_key) {
            plan.refund(entry.states.as_mut_slice(), consumed_at, cost);
        }
    }

    #[inline]
    fn shard(&self, index: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard cannot leave a state half-written (states are
        // plain integers written together), so a poisoned lock is still usable.
        self.inner.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Shard {
    /// Inserts a new key; drops keys whose state expired before `idle_before`.
    fn insert(&mut self, key: u64, entry: Entry, idle_before: u64, capacity: usize) {
        bounded::insert(
            &mut self.map,
            &mut self.order,
            key,
            entry,
            |entry| entry.expires_at > idle_before,
            capacity,
        );
    }
}

/// The checks of a two-quota plan, the states updated when both allow. Out of line:
/// inlined into `check_now`, it slowed the one-quota path by 3 to 5 ns.
#[inline(never)]
fn check_pair(
    [first, second]: [&Quota; 2],
    [first_state, second_state]: [&mut QuotaState; 2],
    expires: &mut u64,
    cost: u64,
    now_ns: u64,
) -> (Check, Check) {
    let a = first.check(*first_state, now_ns, cost);
    let b = second.check(*second_state, now_ns, cost);
    if a.allowed && b.allowed {
        *first_state = a.state;
        *second_state = b.state;
        let expires_at = a.expires_at.max(b.expires_at);
        if expires_at > 0 {
            *expires = expires_at;
        }
    }
    (a, b)
}

/// One map key per (key, plan): the plan's id folded into the fingerprint.
fn map_key(key: Fingerprint, plan: &Plan) -> u64 {
    key.as_u64() ^ plan.id().wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The shard of a map key: bits 32 to 47, apart from the bits the map itself uses
/// (the low bits pick a bucket, the top seven are its tag).
fn shard_index(map_key: u64, mask: usize) -> usize {
    (map_key >> 32) as usize & mask
}

impl Store for MemoryStore {
    type CheckFuture = Ready<Result<Outcome, StoreError>>;
    type RefundFuture = Ready<Result<(), StoreError>>;

    fn check(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Self::CheckFuture {
        ready(Ok(self.check_now(key, plan, cost, now_ns)))
    }

    fn check_immediately(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Option<Result<Outcome, StoreError>> {
        Some(Ok(self.check_now(key, plan, cost, now_ns)))
    }

    fn refund(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> Self::RefundFuture {
        self.refund_now(key, plan, cost, consumed_at_ns);
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Quota;

    const NOW: u64 = 1_700_000_000_000_000_000;
    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_flood_of_distinct_keys_stays_bounded() {
        let store = MemoryStore::new().max_keys(1_000).shards(4);
        let plan = Plan::new("p", [Quota::per_hour("hour", 10)]).unwrap();
        for key in 0..50_000u64 {
            let key = Fingerprint::from_u64(key.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            assert!(store.check_now(key, &plan, 1, NOW).allowed());
            assert!(store.len() <= store.capacity());
        }
        assert_eq!(store.len(), 1_000);
        for index in 0..store.inner.shards.len() {
            let shard = store.shard(index);
            assert_eq!(shard.map.len(), shard.order.len());
        }
    }

    #[test]
    fn expired_keys_are_swept_as_new_keys_arrive() {
        let store = MemoryStore::new()
            .max_keys(100_000)
            .shards(1)
            .idle_timeout(Duration::from_secs(10));
        let plan = Plan::new("p", [Quota::per_second("second", 10)]).unwrap();
        for key in 0..1_000u64 {
            store.check_now(Fingerprint::from_u64(key), &plan, 1, NOW);
        }
        assert_eq!(store.len(), 1_000);
        // A minute later, every old state has been idle for 10 s: new keys sweep them
        // out.
        let later = NOW + 60 * SECOND;
        for key in 1_000..1_600u64 {
            store.check_now(Fingerprint::from_u64(key), &plan, 1, later);
        }
        assert!(store.len() <= 600 + 1, "{}", store.len());
        store.purge_expired(later + 60 * SECOND);
        assert!(store.is_empty());
    }

    #[test]
    fn plans_keep_separate_counters_for_one_key() {
        let store = MemoryStore::new();
        let a = Plan::new("a", [Quota::per_minute("minute", 1)]).unwrap();
        let b = Plan::new("b", [Quota::per_minute("minute", 1)]).unwrap();
        let key = Fingerprint::from_u64(42);
        assert!(store.check_now(key, &a, 1, NOW).allowed());
        assert!(!store.check_now(key, &a, 1, NOW).allowed());
        assert!(store.check_now(key, &b, 1, NOW).allowed());
    }

    #[test]
    fn denied_first_requests_store_nothing() {
        let store = MemoryStore::new();
        let plan = Plan::new("p", [Quota::per_minute("minute", 2)]).unwrap();
        assert!(
            !store
                .check_now(Fingerprint::from_u64(1), &plan, 3, NOW)
                .allowed()
        );
        assert!(store.is_empty());
    }
}
