//! The in-memory store (feature `memory`, default): idempotency claims and ordering
//! marks for one process, each with a TTL.
//!
//! Expired entries are dropped when next touched and swept every 1,024 writes, so the
//! maps hold at most the entries of the last TTL. Clones share the maps. For several
//! instances, use the Redis or SQL store: a memory store only deduplicates deliveries
//! that reach the same process.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use portcullis_stripe_webhook::store::{Claim, ClaimToken, IdempotencyStore, memory::MemoryStore};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let now = UNIX_EPOCH + Duration::from_secs(1_000);
//! let ttl = Duration::from_secs(60);
//! assert_eq!(store.claim("evt_1", &ClaimToken::new(), now, ttl).await.unwrap(), Claim::Claimed);
//! // A crashed holder's claim expires with its TTL.
//! let later = now + Duration::from_secs(61);
//! assert_eq!(store.claim("evt_1", &ClaimToken::new(), later, ttl).await.unwrap(), Claim::Claimed);
//! # });
//! ```

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use portcullis_core::clock::saturating_nanos;

use super::{Admission, Claim, ClaimToken, IdempotencyStore, OrderingStore, StoreError};

const SWEEP_EVERY: u64 = 1_024;

#[derive(Debug)]
enum State {
    InProgress(ClaimToken),
    Completed,
}

#[derive(Debug)]
struct Entry<T> {
    value: T,
    /// Unix nanoseconds.
    expires_at: u64,
}

#[derive(Debug, Default)]
struct Inner {
    claims: Mutex<HashMap<String, Entry<State>>>,
    marks: Mutex<HashMap<String, Entry<i64>>>,
    writes: AtomicU64,
}

/// The in-memory idempotency and ordering store. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

fn nanos(time: SystemTime) -> u64 {
    saturating_nanos(
        time.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the maps consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many idempotency entries (live or not yet swept) the store holds.
    pub fn len(&self) -> usize {
        lock(&self.inner.claims).len()
    }

    /// Whether the store holds no idempotency entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn wrote(&self, now: u64) {
        if self.inner.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            lock(&self.inner.claims).retain(|_, entry| entry.expires_at > now);
            lock(&self.inner.marks).retain(|_, entry| entry.expires_at > now);
        }
    }
}

impl IdempotencyStore for MemoryStore {
    type ClaimFuture = Ready<Result<Claim, StoreError>>;
    type CompleteFuture = Ready<Result<(), StoreError>>;
    type ReleaseFuture = Ready<Result<(), StoreError>>;

    fn claim(
        &self,
        key: &str,
        token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::ClaimFuture {
        let now = nanos(now);
        let claim = {
            let mut claims = lock(&self.inner.claims);
            match claims.get(key) {
                Some(entry) if entry.expires_at > now => match entry.value {
                    State::InProgress(_) => Claim::InProgress,
                    State::Completed => Claim::Completed,
                },
                _ => {
                    claims.insert(
                        key.to_owned(),
                        Entry {
                            value: State::InProgress(token.clone()),
                            expires_at: now.saturating_add(saturating_nanos(ttl)),
                        },
                    );
                    Claim::Claimed
                }
            }
        };
        if claim == Claim::Claimed {
            self.wrote(now);
        }
        ready(Ok(claim))
    }

    fn complete(
        &self,
        key: &str,
        _token: &ClaimToken,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::CompleteFuture {
        let now = nanos(now);
        lock(&self.inner.claims).insert(
            key.to_owned(),
            Entry {
                value: State::Completed,
                expires_at: now.saturating_add(saturating_nanos(ttl)),
            },
        );
        ready(Ok(()))
    }

    fn release(&self, key: &str, token: &ClaimToken) -> Self::ReleaseFuture {
        let mut claims = lock(&self.inner.claims);
        if matches!(claims.get(key), Some(Entry { value: State::InProgress(held), .. }) if held == token)
        {
            claims.remove(key);
        }
        ready(Ok(()))
    }
}

impl OrderingStore for MemoryStore {
    type AdmitFuture = Ready<Result<Admission, StoreError>>;

    fn admit(
        &self,
        object_id: &str,
        created: i64,
        now: SystemTime,
        ttl: Duration,
    ) -> Self::AdmitFuture {
        let now = nanos(now);
        let expires_at = now.saturating_add(saturating_nanos(ttl));
        let admission = {
            let mut marks = lock(&self.inner.marks);
            match marks.get_mut(object_id) {
                Some(entry) if entry.expires_at > now && entry.value > created => {
                    Admission::Stale {
                        last_applied: entry.value,
                    }
                }
                Some(entry) => {
                    entry.value = if entry.expires_at > now {
                        entry.value.max(created)
                    } else {
                        created
                    };
                    entry.expires_at = expires_at;
                    Admission::Fresh
                }
                None => {
                    marks.insert(
                        object_id.to_owned(),
                        Entry {
                            value: created,
                            expires_at,
                        },
                    );
                    Admission::Fresh
                }
            }
        };
        self.wrote(now);
        ready(Ok(admission))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn release_only_frees_its_own_claim_and_sweeps_expire() {
        let store = MemoryStore::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let ttl = Duration::from_secs(10);
        let (a, b) = (ClaimToken::new(), ClaimToken::new());
        assert_eq!(
            store.claim("k", &a, now, ttl).await.unwrap(),
            Claim::Claimed
        );
        store.release("k", &b).await.unwrap();
        assert_eq!(
            store.claim("k", &b, now, ttl).await.unwrap(),
            Claim::InProgress
        );
        store.release("k", &a).await.unwrap();
        assert_eq!(
            store.claim("k", &b, now, ttl).await.unwrap(),
            Claim::Claimed
        );

        let later = now + Duration::from_secs(11);
        for i in 0..SWEEP_EVERY {
            store.claim(&format!("x{i}"), &a, later, ttl).await.unwrap();
        }
        // The first claim expired and was swept.
        assert_eq!(store.len(), SWEEP_EVERY as usize);
    }
}
