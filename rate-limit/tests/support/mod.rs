//! Shared by the tests that need the real Redis at `REDIS_URL`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use redis::aio::ConnectionManager;

#[cfg(feature = "redis-cluster")]
pub(crate) mod cluster;

/// A connection to `REDIS_URL`, or `None` (after saying so) when it is unset. A set
/// but unreachable `REDIS_URL` fails the test: CI must not pass by skipping.
pub(crate) async fn redis_connection() -> Option<ConnectionManager> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        eprintln!("skipped: set REDIS_URL");
        return None;
    };
    let client = redis::Client::open(url.as_str()).expect("REDIS_URL is a Redis URL");
    let connection = ConnectionManager::new(client)
        .await
        .unwrap_or_else(|error| panic!("REDIS_URL={url} unreachable: {error}"));
    Some(connection)
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
