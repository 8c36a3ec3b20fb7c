//! Shared by the tests that need the real Redis at `REDIS_URL`.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_rate_limit::algorithm::Algorithm;
use portcullis_rate_limit::key::Fingerprint;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::store::Store;
use redis::aio::ConnectionManager;

#[cfg(feature = "redis-cluster")]
pub(crate) mod cluster;

/// A connection to `REDIS_URL`. Unset, or set but unreachable, fails the test: its
/// tests are `#[ignore = "needs REDIS_URL"]` instead, so they never pass by skipping.
pub(crate) async fn redis_connection() -> ConnectionManager {
    let url = portcullis_test_support::redis_url();
    let client = redis::Client::open(url.as_str()).expect("REDIS_URL is a Redis URL");
    ConnectionManager::new(client)
        .await
        .unwrap_or_else(|error| panic!("REDIS_URL={url} unreachable: {error}"))
}

/// A key prefix no other test (or earlier run) uses.
pub(crate) fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "portcullis-test:{}:{nanos}:{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The plan two instances share in the exactness tests: an hour quota with room (5,000)
/// and a day quota of 700.
pub(crate) fn hour_and_day() -> Arc<Plan> {
    Arc::new(
        Plan::new(
            "shared",
            [
                Quota::per_hour("hour", 5_000).with_algorithm(Algorithm::sliding_window()),
                Quota::per_day("day", 700).with_algorithm(Algorithm::fixed_window()),
            ],
        )
        .unwrap(),
    )
}

/// The identity the exactness tests share.
pub(crate) const SHARED_IDENTITY: Fingerprint = Fingerprint::from_u64(7);

/// 64 tasks × 25 checks of [`SHARED_IDENTITY`] on `plan`, the tasks alternating between
/// the two instances: how many were admitted.
pub(crate) async fn admitted_by_two<S: Store>(instances: [Arc<S>; 2], plan: &Arc<Plan>) -> u64 {
    let admitted = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..64 {
        let store = instances[task % 2].clone();
        let (plan, admitted) = (plan.clone(), admitted.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let outcome = store.check(SHARED_IDENTITY, &plan, 1, 0).await.unwrap();
                if outcome.allowed() {
                    admitted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    admitted.load(Ordering::Relaxed)
}

/// The count in a window quota's stored value (`start:count:…`).
pub(crate) fn stored_count(value: &str) -> u64 {
    value.split(':').nth(1).unwrap().parse().unwrap()
}
