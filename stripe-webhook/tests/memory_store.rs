//! The in-memory store: conformance, 64 concurrent deliveries, the ordering guard.
#![cfg(feature = "memory")]

mod support;

use std::time::{Duration, SystemTime};

use portcullis_stripe_webhook::ordering::{Admission, OrderingStore};
use portcullis_stripe_webhook::store::BoxStore;
use portcullis_stripe_webhook::store::memory::MemoryStore;

#[tokio::test]
async fn memory_store_conformance() {
    support::conformance(&MemoryStore::new(), "memory").await;
}

#[tokio::test]
async fn boxed_store_conformance() {
    support::conformance(&BoxStore::new(MemoryStore::new()), "boxed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_64_concurrent_deliveries_run_the_handler_once() {
    support::concurrent_deliveries(MemoryStore::new(), &support::unique("memory")).await;
}

#[tokio::test]
async fn memory_ordering_marks_expire() {
    let store = MemoryStore::new();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let ttl = Duration::from_secs(10);
    assert_eq!(
        store.admit("sub_1", 20, now, ttl).await.unwrap(),
        Admission::Fresh
    );
    assert_eq!(
        store.admit("sub_1", 10, now, ttl).await.unwrap(),
        Admission::Stale { last_applied: 20 }
    );
    assert_eq!(
        store.admit("sub_1", 20, now, ttl).await.unwrap(),
        Admission::Fresh
    );
    assert_eq!(
        store.admit("sub_2", 1, now, ttl).await.unwrap(),
        Admission::Fresh
    );
    // Forgotten after its TTL.
    let later = now + Duration::from_secs(11);
    assert_eq!(
        store.admit("sub_1", 10, later, ttl).await.unwrap(),
        Admission::Fresh
    );
    assert_eq!(
        store.admit("sub_1", 5, later, ttl).await.unwrap(),
        Admission::Stale { last_applied: 10 }
    );
}
