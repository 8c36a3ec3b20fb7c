//! The conformance suite every [`Store`] must pass (feature `conformance`).
//!
//! Same inputs, same decisions: the suite drives a store with fixed times (no clock is
//! read) and compares every answer with the pure model, [`Plan::check`] over states
//! kept in a local map. It covers exact algorithm boundaries, all-or-nothing
//! consumption across quotas, weighted costs, refunds, isolation of keys and plans, and
//! atomicity under concurrent checks on one key.
//!
//! Run it from a store's tests inside a multi-threaded Tokio runtime, giving it a way
//! to make a fresh, empty store (a Redis store would use a fresh key prefix):
//!
//! ```
//! use portcullis_rate_limit::store::{conformance, memory::MemoryStore};
//!
//! # tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap().block_on(async {
//! conformance::run(MemoryStore::new).await;
//! # });
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::clock::saturating_nanos;

use super::Store;
use crate::algorithm::{Algorithm, QuotaState};
use crate::key::Fingerprint;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::quota::Quota;

/// A time on a UTC day boundary (2023-11-15T00:00:00Z), so window edges are known.
///
/// ```
/// use portcullis_rate_limit::store::conformance::EPOCH;
/// assert_eq!(EPOCH.as_secs() % 86_400, 0);
/// ```
pub const EPOCH: Duration = Duration::from_secs(1_700_006_400);

const SECOND: Duration = Duration::from_secs(1);

/// Runs every check of the suite, each against a fresh store from `make_store`.
/// Panics, naming the check, on the first difference.
pub async fn run<S: Store>(make_store: impl Fn() -> S) {
    gcra_boundaries(make_store()).await;
    sliding_window_boundaries(make_store()).await;
    fixed_window_boundaries(make_store()).await;
    day_quota_untouched_when_minute_denies(make_store()).await;
    minute_quota_untouched_when_day_denies(make_store()).await;
    weighted_costs(make_store()).await;
    refunds(make_store()).await;
    keys_and_plans_are_isolated(make_store()).await;
    matches_the_model(make_store()).await;
    concurrent_checks_admit_exactly_the_limit(make_store()).await;
}

async fn check<S: Store>(
    store: &S,
    key: u64,
    plan: &Arc<Plan>,
    cost: u64,
    at: Duration,
) -> Outcome {
    store
        .check(Fingerprint::from_u64(key), plan, cost, saturating_nanos(at))
        .await
        .unwrap_or_else(|error| panic!("conformance: store failed: {error}"))
}

fn plan(quotas: impl IntoIterator<Item = Quota>) -> Arc<Plan> {
    Arc::new(Plan::new("conformance", quotas).expect("valid conformance plan"))
}

/// GCRA: the burst passes, the next request waits exactly one emission interval.
pub async fn gcra_boundaries<S: Store>(store: S) {
    let plan = plan([Quota::per_minute("minute", 5)]);
    for remaining in (0..5).rev() {
        let outcome = check(&store, 1, &plan, 1, EPOCH).await;
        assert!(outcome.allowed(), "gcra: burst request denied");
        assert_eq!(
            outcome.statuses()[0].remaining(),
            remaining,
            "gcra: remaining"
        );
    }
    let denied = check(&store, 1, &plan, 1, EPOCH).await;
    assert!(!denied.allowed(), "gcra: request past the burst allowed");
    assert_eq!(
        denied.statuses()[0].retry_after(),
        Some(12 * SECOND),
        "gcra: retry after"
    );
    let early = EPOCH + 12 * SECOND - Duration::from_nanos(1);
    assert!(
        !check(&store, 1, &plan, 1, early).await.allowed(),
        "gcra: 1 ns early allowed"
    );
    assert!(
        check(&store, 1, &plan, 1, EPOCH + 12 * SECOND)
            .await
            .allowed(),
        "gcra: on time denied"
    );
}

/// Sliding window: the previous window weighs in by its remaining overlap.
pub async fn sliding_window_boundaries<S: Store>(store: S) {
    let plan = plan([Quota::per_minute("minute", 10).with_algorithm(Algorithm::sliding_window())]);
    for _ in 0..10 {
        assert!(
            check(&store, 1, &plan, 1, EPOCH + 30 * SECOND)
                .await
                .allowed(),
            "sliding: fill"
        );
    }
    let full = check(&store, 1, &plan, 1, EPOCH + 59 * SECOND).await;
    assert!(!full.allowed(), "sliding: over the limit");
    assert_eq!(
        full.statuses()[0].retry_after(),
        Some(7 * SECOND),
        "sliding: retry after"
    );
    let next = EPOCH + 60 * SECOND;
    assert!(
        !check(&store, 1, &plan, 1, next).await.allowed(),
        "sliding: previous window ignored"
    );
    let edge = next + 6 * SECOND;
    assert!(
        !check(&store, 1, &plan, 1, edge - Duration::from_nanos(1))
            .await
            .allowed(),
        "sliding: 1 ns early allowed"
    );
    let allowed = check(&store, 1, &plan, 1, edge).await;
    assert!(allowed.allowed(), "sliding: on time denied");
    assert_eq!(allowed.statuses()[0].remaining(), 0, "sliding: remaining");
}

/// Fixed window aligned to UTC: resets exactly on the minute.
pub async fn fixed_window_boundaries<S: Store>(store: S) {
    let plan = plan([Quota::per_minute("minute", 3).with_algorithm(Algorithm::fixed_window())]);
    let late = EPOCH + 59 * SECOND;
    for _ in 0..3 {
        assert!(
            check(&store, 1, &plan, 1, late).await.allowed(),
            "fixed: fill"
        );
    }
    let denied = check(
        &store,
        1,
        &plan,
        1,
        EPOCH + 60 * SECOND - Duration::from_nanos(1),
    )
    .await;
    assert!(!denied.allowed(), "fixed: over the limit");
    assert_eq!(
        denied.statuses()[0].retry_after(),
        Some(Duration::from_nanos(1)),
        "fixed: retry"
    );
    let next = check(&store, 1, &plan, 1, EPOCH + 60 * SECOND).await;
    assert!(next.allowed(), "fixed: new window denied");
    assert_eq!(next.statuses()[0].remaining(), 2, "fixed: remaining");
    assert_eq!(next.statuses()[0].reset(), 60 * SECOND, "fixed: reset");
}

/// All-or-nothing: a denial by the minute quota consumes nothing of the day quota.
pub async fn day_quota_untouched_when_minute_denies<S: Store>(store: S) {
    let plan = Arc::new(Plan::free());
    for _ in 0..10 {
        assert!(
            check(&store, 1, &plan, 1, EPOCH).await.allowed(),
            "free: minute fill"
        );
    }
    for _ in 0..5 {
        assert!(
            !check(&store, 1, &plan, 1, EPOCH).await.allowed(),
            "free: minute over"
        );
    }
    let later = check(&store, 1, &plan, 1, EPOCH + 60 * SECOND).await;
    assert!(later.allowed(), "free: next minute denied");
    assert_eq!(
        later.statuses()[1].remaining(),
        89,
        "free: day consumed by denials"
    );
}

/// All-or-nothing: a denial by the day quota consumes nothing of the minute quota.
pub async fn minute_quota_untouched_when_day_denies<S: Store>(store: S) {
    let plan = plan([
        Quota::per_minute("minute", 10),
        Quota::per_day("day", 3).with_algorithm(Algorithm::fixed_window()),
    ]);
    for _ in 0..3 {
        assert!(
            check(&store, 1, &plan, 1, EPOCH).await.allowed(),
            "day: fill"
        );
    }
    for _ in 0..5 {
        let denied = check(&store, 1, &plan, 1, EPOCH).await;
        assert!(!denied.allowed(), "day: over");
        assert!(denied.statuses()[0].allowed(), "day: minute blamed");
        assert_eq!(
            denied.statuses()[0].remaining(),
            7,
            "day: minute consumed by denials"
        );
    }
}

/// Weighted requests consume their cost; one that does not fit consumes nothing.
pub async fn weighted_costs<S: Store>(store: S) {
    let plan = plan([Quota::per_minute("minute", 10).with_algorithm(Algorithm::fixed_window())]);
    let a = check(&store, 1, &plan, 7, EPOCH).await;
    assert!(a.allowed(), "cost: 7 of 10 denied");
    assert_eq!(a.statuses()[0].remaining(), 3, "cost: remaining after 7");
    assert!(
        !check(&store, 1, &plan, 4, EPOCH).await.allowed(),
        "cost: 4 of 3 allowed"
    );
    assert!(
        check(&store, 1, &plan, 3, EPOCH).await.allowed(),
        "cost: 3 of 3 denied"
    );
    assert!(
        !check(&store, 2, &plan, 11, EPOCH).await.allowed(),
        "cost: 11 of 10 allowed"
    );
}

/// A refund gives the consumed units back to every quota.
pub async fn refunds<S: Store>(store: S) {
    let plan = Arc::new(Plan::free());
    for _ in 0..10 {
        assert!(
            check(&store, 1, &plan, 1, EPOCH).await.allowed(),
            "refund: fill"
        );
    }
    store
        .refund(Fingerprint::from_u64(1), &plan, 2, saturating_nanos(EPOCH))
        .await
        .unwrap_or_else(|error| panic!("conformance: refund failed: {error}"));
    let after = check(&store, 1, &plan, 1, EPOCH).await;
    assert!(after.allowed(), "refund: capacity not restored");
    assert_eq!(
        after.statuses()[0].remaining(),
        1,
        "refund: minute remaining"
    );
    assert_eq!(after.statuses()[1].remaining(), 91, "refund: day remaining");
}

/// Keys and plans never share counters.
pub async fn keys_and_plans_are_isolated<S: Store>(store: S) {
    let one = plan([Quota::per_minute("minute", 1)]);
    let other = Arc::new(Plan::new("other", [Quota::per_minute("minute", 1)]).expect("valid"));
    assert!(
        check(&store, 1, &one, 1, EPOCH).await.allowed(),
        "isolation: first"
    );
    assert!(
        !check(&store, 1, &one, 1, EPOCH).await.allowed(),
        "isolation: second"
    );
    assert!(
        check(&store, 2, &one, 1, EPOCH).await.allowed(),
        "isolation: other key"
    );
    assert!(
        check(&store, 1, &other, 1, EPOCH).await.allowed(),
        "isolation: other plan"
    );
}

/// A long pseudo-random sequence over three keys and a plan of every algorithm: each
/// answer equals the pure model's.
pub async fn matches_the_model<S: Store>(store: S) {
    let plan = plan([
        Quota::per_second("second", 4).with_burst(6),
        Quota::per_minute("minute", 40).with_algorithm(Algorithm::sliding_window()),
        Quota::per_hour("hour", 300).with_algorithm(Algorithm::fixed_window()),
        Quota::per_minute("calendar", 60)
            .with_algorithm(Algorithm::fixed_window_from_first_request()),
    ]);
    let mut model: HashMap<u64, Vec<QuotaState>> = HashMap::new();
    let mut now = EPOCH;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for step in 0..3_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        now += Duration::from_millis(seed % 700);
        let key = (seed >> 32) % 3;
        let cost = 1 + (seed >> 20) % 3;
        let states = model
            .entry(key)
            .or_insert_with(|| vec![QuotaState::default(); plan.quotas().len()]);
        let expected = plan.check(states, saturating_nanos(now), cost);
        let actual = check(&store, key, &plan, cost, now).await;
        assert_eq!(actual, expected, "model: step {step} differs");
    }
}

/// 32 tasks × 200 checks on one key: exactly the limit is admitted.
pub async fn concurrent_checks_admit_exactly_the_limit<S: Store>(store: S) {
    let store = Arc::new(store);
    let plan = plan([Quota::per_hour("hour", 1_000), Quota::per_day("day", 5_000)]);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (store, plan) = (store.clone(), plan.clone());
            tokio::spawn(async move {
                let mut admitted = 0u64;
                for _ in 0..200 {
                    if check(&*store, 9, &plan, 1, EPOCH).await.allowed() {
                        admitted += 1;
                    }
                }
                admitted
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        admitted += task.await.expect("conformance task panicked");
    }
    assert_eq!(admitted, 1_000, "concurrency: admitted count");
}
