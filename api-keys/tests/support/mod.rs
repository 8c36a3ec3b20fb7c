//! Shared by the tests of the SQLite, PostgreSQL and Redis stores: scratch
//! directories, names no other run uses, and the servers named by `DATABASE_URL` and
//! `REDIS_URL`.
//!
//! The tests that need a server are `#[ignore = "needs …"]`; run with
//! `-- --include-ignored`, a server's variable unset, or set but unreachable, fails
//! them: CI must not pass by skipping.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
use portcullis_api_keys::id::{KeyId, TenantId};
use portcullis_api_keys::key::MaskedKey;
use portcullis_api_keys::record::KeyRecord;
use portcullis_api_keys::timestamp::Timestamp;

/// A name no other test, test process or earlier run uses: `{kind}_{pid}_{nanos}_{n}`,
/// lower case and digits, so it can name a file, a schema or a key prefix.
pub(crate) fn unique_name(kind: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "{kind}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A directory of its own under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(crate) fn new() -> Self {
        let path = std::env::temp_dir().join(unique_name("portcullis_api_keys"));
        std::fs::create_dir_all(&path).expect("create a scratch directory");
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A minimal record of `tenant` with a random id and hash.
pub(crate) fn record(tenant: &TenantId, created_at: i64) -> KeyRecord {
    let digest: [u8; 32] = rand::random();
    KeyRecord::new(
        KeyId::generate(),
        tenant.clone(),
        KeyHash::from_digest(HashAlgorithm::Sha256, &digest).expect("32 bytes"),
        MaskedKey::new("sk_test_…0000"),
        Timestamp::from_unix_micros(created_at),
    )
}

/// A tenant no other test or run uses.
pub(crate) fn tenant() -> TenantId {
    TenantId::new(unique_name("tenant"))
}

/// `DATABASE_URL`. Unset fails the test: its tests are `#[ignore = "needs
/// DATABASE_URL"]` instead, so they never pass by skipping.
pub(crate) fn database_url() -> String {
    portcullis_test_support::database_url()
}

/// A pool on `DATABASE_URL`. Unset, or set but unreachable, fails the test.
#[cfg(feature = "postgres")]
pub(crate) async fn postgres_pool() -> sqlx::PgPool {
    let url = database_url();
    sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&url)
        .await
        .unwrap_or_else(|error| panic!("DATABASE_URL={url} unreachable: {error}"))
}

/// A connection to `REDIS_URL`. Unset, or set but unreachable, fails the test: its
/// tests are `#[ignore = "needs REDIS_URL"]` instead, so they never pass by skipping.
#[cfg(feature = "redis")]
pub(crate) async fn redis_connection() -> redis::aio::ConnectionManager {
    let url = portcullis_test_support::redis_url();
    let client = redis::Client::open(url.as_str()).expect("REDIS_URL is a Redis URL");
    redis::aio::ConnectionManager::new(client)
        .await
        .unwrap_or_else(|error| panic!("REDIS_URL={url} unreachable: {error}"))
}
