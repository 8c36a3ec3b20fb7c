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

#[cfg(feature = "resilient")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resilient_store_conforms() {
    use portcullis_rate_limit::store::resilient::Resilient;
    conformance::run(|| Resilient::new(MemoryStore::new())).await;
}
