//! The in-memory store, alone and boxed, passes the shared store conformance suite.
#![cfg(all(feature = "memory", feature = "conformance"))]

use portcullis_api_keys::store::{BoxKeyStore, conformance, memory::MemoryKeyStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    conformance::run(async || MemoryKeyStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shared_memory_store_conforms() {
    // Every check on the same store, as a SQL backend's test on one database does.
    let store = MemoryKeyStore::new();
    conformance::run(async || store.clone()).await;
    // And again over what the first run left.
    conformance::run(async || store.clone()).await;
    assert!(!store.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boxed_store_conforms() {
    conformance::run(async || BoxKeyStore::new(MemoryKeyStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factory_that_awaits_conforms() {
    // A factory that does async work (connect, migrate) before handing out a store.
    conformance::run(|| async {
        tokio::task::yield_now().await;
        MemoryKeyStore::new()
    })
    .await;
}
