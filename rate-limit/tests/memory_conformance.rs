//! The in-memory store passes the shared store conformance suite.
#![cfg(all(feature = "memory", feature = "conformance"))]

use portcullis_rate_limit::store::{BoxStore, conformance, memory::MemoryStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    conformance::run(MemoryStore::new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_sharded_memory_store_conforms() {
    conformance::run(|| MemoryStore::new().max_keys(16).shards(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boxed_store_conforms() {
    conformance::run(|| BoxStore::new(MemoryStore::new())).await;
}

/// Every check of the suite but `matches_the_model`, which compares every number of
/// every answer with the model's: a remembered denial is the same decision, with the
/// same waits, but the quotas' `remaining` it reports is the store's last word, and no
/// cache can refresh it without asking the store. `tests/resilience.rs` runs the
/// model's sequence through the cache instead: same decisions at every step, and the
/// exact answer at every step the store answered.
#[cfg(feature = "negative-cache")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_cache_conforms() {
    use portcullis_rate_limit::store::negative_cache::NegativeCache;
    let store = || NegativeCache::new(MemoryStore::new());
    // Clones share the cache: count what each check answered from it.
    let cache = store();
    conformance::gcra_boundaries(cache.clone()).await;
    assert_eq!(cache.hits(), 1, "gcra: the 1 ns early retry is remembered");
    let cache = store();
    conformance::sliding_window_boundaries(cache.clone()).await;
    assert_eq!(
        cache.hits(),
        2,
        "sliding: both early retries are remembered"
    );
    conformance::fixed_window_boundaries(store()).await;
    let cache = store();
    conformance::day_quota_untouched_when_minute_denies(cache.clone()).await;
    assert_eq!(cache.hits(), 4);
    let cache = store();
    conformance::minute_quota_untouched_when_day_denies(cache.clone()).await;
    assert_eq!(cache.hits(), 4);
    conformance::weighted_costs(store()).await;
    conformance::refunds(store()).await;
    conformance::keys_and_plans_are_isolated(store()).await;
    let cache = store();
    conformance::concurrent_checks_admit_exactly_the_limit(cache.clone()).await;
    assert!(cache.hits() > 0);
}

#[cfg(feature = "resilient")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilient_store_conforms() {
    use portcullis_rate_limit::store::resilient::Resilient;
    conformance::run(|| Resilient::new(MemoryStore::new())).await;
}
