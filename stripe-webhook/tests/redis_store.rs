//! The Redis store against the real Redis at `REDIS_URL`: conformance, 64 concurrent
//! deliveries of one event, ordering marks. The tests on the server are
//! `#[ignore = "needs REDIS_URL"]`; run with `-- --include-ignored`, they fail when it
//! is unset or unreachable.
#![cfg(feature = "redis")]

mod support;

use std::time::{Duration, SystemTime};

use portcullis_stripe_webhook::ordering::{Admission, OrderingGuard, OrderingStore};
use portcullis_stripe_webhook::store::redis::RedisStore;

async fn store() -> RedisStore {
    let connection = support::redis_connection().await;
    RedisStore::with_connection(connection).prefix(support::unique("portcullis_test"))
}

#[tokio::test]
#[ignore = "needs REDIS_URL"]
async fn redis_store_conformance() {
    let store = store().await;
    support::conformance(&store, "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn redis_store_64_concurrent_deliveries_run_the_handler_once() {
    let store = store().await;
    support::concurrent_deliveries(store, "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn redis_ordering_guard_is_atomic_and_expires() {
    let store = store().await;
    let (now, ttl) = (SystemTime::now(), Duration::from_secs(60));
    assert_eq!(
        store.admit("sub_1", 1_700_000_300, now, ttl).await.unwrap(),
        Admission::Fresh
    );
    assert_eq!(
        store.admit("sub_1", 1_700_000_000, now, ttl).await.unwrap(),
        Admission::Stale {
            last_applied: 1_700_000_300
        }
    );
    assert_eq!(
        store.admit("sub_1", 1_700_000_300, now, ttl).await.unwrap(),
        Admission::Fresh
    );

    // 64 concurrent admissions of created = 0..64: the mark ends at the maximum, and
    // each admission saw a mark no newer than itself or was refused as stale.
    let guard = OrderingGuard::new(store.clone());
    let tasks: Vec<_> = (0..64)
        .map(|created| {
            let guard = guard.clone();
            tokio::spawn(async move { guard.admit("sub_2", created).await.unwrap() })
        })
        .collect();
    for task in tasks {
        let _ = task.await.unwrap();
    }
    assert_eq!(
        store.admit("sub_2", 62, now, ttl).await.unwrap(),
        Admission::Stale { last_applied: 63 }
    );

    // Marks expire.
    store
        .admit("sub_3", 10, now, Duration::from_millis(100))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        store.admit("sub_3", 1, now, ttl).await.unwrap(),
        Admission::Fresh
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_a_store_error_not_a_panic() {
    use portcullis_stripe_webhook::store::{ClaimToken, IdempotencyStore};
    let store = RedisStore::open("redis://127.0.0.1:1").unwrap();
    let result = store
        .claim(
            "evt_1",
            &ClaimToken::new(),
            SystemTime::now(),
            Duration::from_secs(1),
        )
        .await;
    assert!(result.is_err());
}
