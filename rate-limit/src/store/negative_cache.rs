//! Remembers denied keys until their reset (feature `negative-cache`).
//!
//! A client over its limit tends to keep trying, and each try costs a round trip to a
//! remote store only to hear "no" again. [`NegativeCache`] wraps any store: when the
//! store denies a (key, plan), the cache remembers the denial until the time the
//! request would fit again (the longest wait of the quotas that denied) together with
//! the cost that was denied. Until then, a check of that (key, plan) costing at least
//! as much is answered locally, from
//! [`check_immediately`](Store::check_immediately) (so the layer decides in `call`),
//! with **zero** calls to the store. A cheaper request still goes to the store, which
//! may admit it.
//!
//! The remembered answer is a denial for exactly as long as the store would deny:
//! waiting never shortens a wait, and nothing is consumed by a denial, so until the
//! reset the store could only say "no" too (unless units are given back: a
//! [`refund`](Store::refund) of the key through the cache clears its entry first). Its
//! waits count down from the store's answer (`Retry-After` stays right); the rest of
//! each quota's status is the store's last word (a quota's `remaining` is not
//! refreshed while it is cached).
//!
//! Only denials the store decided are remembered: failures pass through untouched,
//! and a layer's fail-open or fallback decisions never reach the store. Memory is
//! bounded ([`max_keys`](NegativeCache::max_keys)): entries leave when they expire, or
//! before when the cache is full, and a forgotten denial only costs a store call.
//!
//! Put it outside a [`Resilient`](super::resilient::Resilient) store, so blocked
//! clients cost nothing even while the store is slow:
//! `NegativeCache::new(Resilient::new(store))`.
//!
//! Several instances sharing a store each keep their own cache: a refund made by
//! another instance does not clear this one's entries, so there a denial may outlast
//! the refund, up to the reset.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use portcullis_rate_limit::{key::Fingerprint, plan::Plan, quota::Quota};
//! use portcullis_rate_limit::store::{Store, memory::MemoryStore, negative_cache::NegativeCache};
//!
//! const SECOND: u64 = 1_000_000_000;
//! let store = NegativeCache::new(MemoryStore::new());
//! let plan = Arc::new(Plan::new("api", [Quota::per_minute("minute", 1)]).unwrap());
//! let (key, now) = (Fingerprint::from_u64(7), 1_700_000_000 * SECOND);
//!
//! assert!(store.check_immediately(key, &plan, 1, now).unwrap().unwrap().allowed());
//! let denied = store.check_immediately(key, &plan, 1, now).unwrap().unwrap();
//! assert!(!denied.allowed());
//! // Ten seconds later the store is not asked: the denial is remembered for 60 s.
//! let cached = store.check_immediately(key, &plan, 1, now + 10 * SECOND).unwrap().unwrap();
//! assert_eq!(cached.statuses()[0].retry_after().unwrap().as_secs(), 50);
//! assert_eq!(store.hits(), 1);
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;
use pin_project_lite::pin_project;

use super::{Store, StoreError};
use crate::key::Fingerprint;
use crate::outcome::Outcome;
use crate::plan::Plan;

const DEFAULT_MAX_KEYS: u64 = 100_000;

/// A store that answers remembered denials itself; see the [module docs](self).
/// Clones share the cache.
#[derive(Clone)]
pub struct NegativeCache<S> {
    inner: S,
    cache: Arc<Denials>,
}

struct Denials {
    entries: Cache<(u64, u64), Arc<Denial>>,
    hits: AtomicU64,
}

/// A remembered denial of one (key, plan).
#[derive(Debug)]
struct Denial {
    /// The plan denied; a plan of the same id with other limits does not match.
    plan: Arc<Plan>,
    /// The cost denied: only requests costing at least as much are answered.
    cost: u64,
    /// When the store denied (ns since the epoch, the caller's clock).
    denied_at: u64,
    /// When the request would fit again.
    until: u64,
    outcome: Outcome,
}

/// Entries live, in the cache's own clock, as long as their denial.
struct UntilReset;

impl Expiry<(u64, u64), Arc<Denial>> for UntilReset {
    fn expire_after_create(
        &self,
        _: &(u64, u64),
        denial: &Arc<Denial>,
        _: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_nanos(denial.until - denial.denied_at))
    }

    fn expire_after_update(
        &self,
        _: &(u64, u64),
        denial: &Arc<Denial>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(Duration::from_nanos(denial.until - denial.denied_at))
    }
}

impl<S: fmt::Debug> fmt::Debug for NegativeCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NegativeCache")
            .field("inner", &self.inner)
            .field("max_keys", &self.cache.entries.policy().max_capacity())
            .field("hits", &self.hits())
            .finish()
    }
}

impl<S> NegativeCache<S> {
    /// Remembers the denials of `store`, for at most 100,000 (key, plan) pairs.
    pub fn new(store: S) -> Self {
        Self {
            inner: store,
            cache: Arc::new(Denials::new(DEFAULT_MAX_KEYS)),
        }
    }

    /// Remembers at most `max_keys` denials. Configure before use: the cache is
    /// rebuilt empty.
    #[must_use]
    pub fn max_keys(self, max_keys: u64) -> Self {
        Self {
            inner: self.inner,
            cache: Arc::new(Denials::new(max_keys)),
        }
    }

    /// Checks answered from the cache, without calling the store.
    ///
    /// ```
    /// use portcullis_rate_limit::store::{memory::MemoryStore, negative_cache::NegativeCache};
    /// assert_eq!(NegativeCache::new(MemoryStore::new()).hits(), 0);
    /// ```
    pub fn hits(&self) -> u64 {
        self.cache.hits.load(Ordering::Relaxed)
    }

    /// About how many denials are remembered (expired ones may still count until the
    /// cache's next maintenance).
    ///
    /// ```
    /// use portcullis_rate_limit::store::{memory::MemoryStore, negative_cache::NegativeCache};
    /// assert_eq!(NegativeCache::new(MemoryStore::new()).entry_count(), 0);
    /// ```
    pub fn entry_count(&self) -> u64 {
        self.cache.entries.entry_count()
    }

    /// The wrapped store.
    ///
    /// ```
    /// use portcullis_rate_limit::store::{memory::MemoryStore, negative_cache::NegativeCache};
    /// assert!(NegativeCache::new(MemoryStore::new()).get_ref().is_empty());
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the wrapped store.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl Denials {
    fn new(max_keys: u64) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(max_keys)
                .expire_after(UntilReset)
                .build(),
            hits: AtomicU64::new(0),
        }
    }

    /// The remembered answer for a check of `cost` at `now`, if there is one.
    fn answer(&self, key: Fingerprint, plan: &Arc<Plan>, cost: u64, now: u64) -> Option<Outcome> {
        let map_key = (key.as_u64(), plan.id());
        let denial = self.entries.get(&map_key)?;
        if now >= denial.until {
            self.entries.invalidate(&map_key);
            return None;
        }
        if cost < denial.cost || !(Arc::ptr_eq(&denial.plan, plan) || denial.plan == *plan) {
            return None;
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        let elapsed = now.saturating_sub(denial.denied_at);
        Some(
            Outcome::from_statuses(
                denial
                    .outcome
                    .statuses()
                    .iter()
                    .map(|status| status.later(elapsed, denial.cost)),
            )
            .answered_locally(),
        )
    }

    /// Remembers `outcome` if the store denied.
    fn record(&self, key: Fingerprint, plan: &Arc<Plan>, cost: u64, now: u64, outcome: &Outcome) {
        if outcome.allowed() {
            return;
        }
        let wait = outcome
            .statuses()
            .iter()
            .filter_map(|status| status.retry_after())
            .max()
            .unwrap_or_default();
        let wait = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.entries.insert(
            (key.as_u64(), plan.id()),
            Arc::new(Denial {
                plan: plan.clone(),
                cost,
                denied_at: now,
                until: now.saturating_add(wait),
                outcome: outcome.clone(),
            }),
        );
    }

    fn forget(&self, key: Fingerprint, plan: &Plan) {
        self.entries.invalidate(&(key.as_u64(), plan.id()));
    }
}

impl<S: Store> Store for NegativeCache<S> {
    type CheckFuture = CheckFuture<S::CheckFuture>;
    type RefundFuture = RefundFuture<S::RefundFuture>;

    fn check(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Self::CheckFuture {
        let state = match self.cache.answer(key, plan, cost, now_ns) {
            Some(outcome) => CheckState::Remembered {
                outcome: Some(outcome),
            },
            None => CheckState::Checking {
                future: self.inner.check(key, plan, cost, now_ns),
                check: Some(PendingCheck {
                    cache: self.cache.clone(),
                    key,
                    plan: plan.clone(),
                    cost,
                    now_ns,
                }),
            },
        };
        CheckFuture { state }
    }

    fn check_immediately(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Option<Result<Outcome, StoreError>> {
        if let Some(outcome) = self.cache.answer(key, plan, cost, now_ns) {
            return Some(Ok(outcome));
        }
        let checked = self.inner.check_immediately(key, plan, cost, now_ns)?;
        if let Ok(outcome) = &checked {
            self.cache.record(key, plan, cost, now_ns, outcome);
        }
        Some(checked)
    }

    fn refund(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> Self::RefundFuture {
        self.cache.forget(key, plan);
        RefundFuture {
            future: self.inner.refund(key, plan, cost, consumed_at_ns),
            forget: Some((self.cache.clone(), key, plan.clone())),
        }
    }
}

/// What a check needs to remember its answer.
struct PendingCheck {
    cache: Arc<Denials>,
    key: Fingerprint,
    plan: Arc<Plan>,
    cost: u64,
    now_ns: u64,
}

pin_project! {
    /// The future of a [`NegativeCache`]'s checks: a remembered denial, or the wrapped
    /// store's check, whose denial is then remembered.
    pub struct CheckFuture<F> {
        #[pin]
        state: CheckState<F>,
    }
}

pin_project! {
    #[project = CheckStateProj]
    enum CheckState<F> {
        Remembered {
            outcome: Option<Outcome>,
        },
        Checking {
            #[pin]
            future: F,
            check: Option<PendingCheck>,
        },
    }
}

impl<F> fmt::Debug for CheckFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckFuture").finish_non_exhaustive()
    }
}

impl<F> Future for CheckFuture<F>
where
    F: Future<Output = Result<Outcome, StoreError>>,
{
    type Output = Result<Outcome, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            CheckStateProj::Remembered { outcome } => match outcome.take() {
                Some(outcome) => Poll::Ready(Ok(outcome)),
                None => unreachable!("polled after completion"),
            },
            CheckStateProj::Checking { future, check } => {
                let checked = ready!(future.poll(cx));
                if let (Ok(outcome), Some(check)) = (&checked, check.take()) {
                    check
                        .cache
                        .record(check.key, &check.plan, check.cost, check.now_ns, outcome);
                }
                Poll::Ready(checked)
            }
        }
    }
}

pin_project! {
    /// The future of a [`NegativeCache`]'s refunds: the wrapped store's refund, after
    /// which the key's remembered denial is forgotten again (a check that raced with
    /// the refund may have remembered one).
    pub struct RefundFuture<F> {
        #[pin]
        future: F,
        forget: Option<(Arc<Denials>, Fingerprint, Arc<Plan>)>,
    }
}

impl<F> fmt::Debug for RefundFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefundFuture").finish_non_exhaustive()
    }
}

impl<F> Future for RefundFuture<F>
where
    F: Future<Output = Result<(), StoreError>>,
{
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let refunded = ready!(this.future.poll(cx));
        if let Some((cache, key, plan)) = this.forget.take() {
            cache.forget(key, &plan);
        }
        Poll::Ready(refunded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Algorithm;
    use crate::quota::Quota;
    use crate::store::memory::MemoryStore;

    const SECOND: u64 = 1_000_000_000;
    const NOW: u64 = 1_700_006_400 * SECOND;

    #[test]
    fn a_denial_by_two_quotas_lasts_until_the_longest_wait() {
        let store = NegativeCache::new(MemoryStore::new());
        // One a second and two a minute: the third request waits 59 s for the minute.
        let plan = Arc::new(
            Plan::new(
                "p",
                [
                    Quota::per_second("second", 1).with_algorithm(Algorithm::fixed_window()),
                    Quota::per_minute("minute", 2).with_algorithm(Algorithm::fixed_window()),
                ],
            )
            .unwrap(),
        );
        let key = Fingerprint::from_u64(3);
        let check = |at: u64| store.check_immediately(key, &plan, 1, at).unwrap().unwrap();
        assert!(check(NOW).allowed());
        assert!(check(NOW + SECOND).allowed());
        let denied = check(NOW + SECOND);
        assert_eq!(
            denied.statuses()[0].retry_after(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            denied.statuses()[1].retry_after(),
            Some(Duration::from_secs(59))
        );
        // 30 s later, from the cache: the second quota has room again, the minute not.
        let later = check(NOW + 31 * SECOND);
        assert_eq!(store.hits(), 1);
        assert!(!later.allowed());
        assert!(later.statuses()[0].allowed());
        assert_eq!(later.statuses()[0].remaining(), 1);
        assert_eq!(
            later.statuses()[1].retry_after(),
            Some(Duration::from_secs(29))
        );
        // At the minute the store admits.
        assert!(check(NOW + 60 * SECOND).allowed());
        assert_eq!(store.hits(), 1);
    }

    #[test]
    fn memory_stays_bounded() {
        let store = NegativeCache::new(MemoryStore::new()).max_keys(100);
        let plan = Arc::new(Plan::new("p", [Quota::per_hour("hour", 1)]).unwrap());
        for key in 0..2_000 {
            let key = Fingerprint::from_u64(key);
            store.check_immediately(key, &plan, 1, NOW);
            store.check_immediately(key, &plan, 1, NOW);
        }
        store.cache.entries.run_pending_tasks();
        assert!(store.entry_count() <= 100, "{}", store.entry_count());
    }
}
