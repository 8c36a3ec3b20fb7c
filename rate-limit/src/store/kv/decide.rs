//! The decision under the key's lock, once the stored value is read: merge it with
//! the cache, decide or refund, cache the result and start its write.

use std::sync::{Arc, MutexGuard};

use bytes::Bytes;

use super::cache::{CacheKey, Shard, Write};
use super::codec::{States, decode, encode};
use super::instance::Instance;
use super::key_value::KeyValue;
use super::merge::merge;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::store::StoreError;

/// What a check or refund needs once the stored value is read.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) plan: Arc<Plan>,
    pub(super) storage_key: String,
    pub(super) cache_key: CacheKey,
    pub(super) cost: u64,
    /// The check's time, or the refunded consumption's.
    pub(super) at: u64,
}

impl<T: KeyValue> Instance<T> {
    /// A check's decision, once the stored value has been read: merge, decide, cache
    /// and, when admitted, start the write (under the key's lock, so this instance's
    /// writes of a key reach the store in decision order).
    pub(super) fn decide_check(
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
    pub(super) fn decide_refund(
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
