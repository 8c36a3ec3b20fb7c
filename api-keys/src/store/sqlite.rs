//! The SQLite store (feature `sqlite`): keys in a database file beside the service,
//! over [`sqlx`] with SQLite bundled.
//!
//! For one instance, or a few on one host: SQLite lets many connections read at once
//! but one write at a time, so concurrent writes wait for each other (up to sqlx's busy
//! timeout, 5 s). [`SqliteKeyStore::connect`] opens the file in WAL mode, where
//! readers never wait for the writer; the verification path only reads.
//!
//! # Schema
//!
//! [`SqliteKeyStore::migrate`] creates one `STRICT` table, `portcullis_api_keys`
//! (the SQL ships in `migrations/sqlite/`, idempotent, to review or to copy into your
//! own migrations):
//!
//! | column | type | holds |
//! |---|---|---|
//! | `id` | `TEXT PRIMARY KEY` | [`KeyId`] |
//! | `tenant` | `TEXT` | [`TenantId`] |
//! | `name` | `TEXT` | the name, maybe empty |
//! | `hash_algorithm` | `TEXT` | `sha256`, `hmac-sha256.<pepper version>` |
//! | `hash_digest` | `BLOB` | the 32-byte digest |
//! | `masked` | `TEXT` | `sk_live_…a1b2` |
//! | `scopes` | `TEXT` | space separated, in byte order |
//! | `plan` | `TEXT NULL` | the plan's name |
//! | `metadata` | `TEXT` | a JSON object |
//! | `created_at`, `expires_at`, `revoked_at`, `last_used_at` | `INTEGER` (the last three `NULL`able) | microseconds since the Unix epoch |
//!
//! with a unique index on `(hash_algorithm, hash_digest)` (the verification lookup)
//! and an index on `(tenant, created_at, id)` (listing, in that order: text compares
//! in byte order). Applied migrations are recorded in
//! `portcullis_api_keys_migrations`, not sqlx's `_sqlx_migrations`, so your own sqlx
//! migrations on the same file are unaffected.
//!
//! # Statements
//!
//! Every [`KeyStore`] call is one statement: lookups are one indexed `SELECT`;
//! `update` and `revoke` are one `UPDATE … RETURNING`
//! (`revoked_at = MIN(COALESCE(revoked_at, ?), ?)`); `record_last_used` is one
//! `UPDATE … FROM json_each(?)` over the whole batch, reduced first to the latest
//! time per id (`last_used_at = MAX(COALESCE(last_used_at, at), at)`). A row that does
//! not read back as a valid record is a [`StoreError::Malformed`] naming the column.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
//! use portcullis_api_keys::id::{KeyId, TenantId};
//! use portcullis_api_keys::key::MaskedKey;
//! use portcullis_api_keys::record::KeyRecord;
//! use portcullis_api_keys::store::{KeyStore, sqlite::SqliteKeyStore};
//! use portcullis_api_keys::timestamp::Timestamp;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A file would be `sqlite://keys.db?mode=rwc` (created if missing).
//! let store = SqliteKeyStore::connect("sqlite::memory:").await?;
//! store.migrate().await?;
//!
//! let hash = KeyHash::from_digest(HashAlgorithm::Sha256, &[1; 32])?;
//! let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"), hash,
//!     MaskedKey::new("sk_live_…0001"), Timestamp::from_unix_micros(1_700_000_000_000_000));
//! store.insert(&record).await?;
//!
//! assert_eq!(store.get_by_hash(&hash).await?, Some(record.clone()));
//! let revoked = store.revoke(&record.id, Timestamp::from_unix_micros(1_800_000_000_000_000)).await?;
//! assert!(revoked.unwrap().revoked_at.is_some());
//! # Ok(()) }
//! ```
//!
//! [`KeyId`]: crate::id::KeyId
//! [`TenantId`]: crate::id::TenantId

use std::str::FromStr;

use sqlx::query::QueryAs;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Executor, Sqlite, SqlitePool};

use super::sql::{self, Encoded, Migration, StoredRow, read_error};
use super::{KeyStore, StoreError};
use crate::hash::KeyHash;
use crate::id::{KeyId, TenantId};
use crate::record::{KeyRecord, KeyUpdate};
use crate::timestamp::Timestamp;

/// The shipped migrations, in order.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "create api keys",
    sql: include_str!("../../migrations/sqlite/0001_create_api_keys.sql"),
}];

/// Records an applied migration: version, description, checksum.
const RECORD_MIGRATION: &str = "INSERT INTO portcullis_api_keys_migrations \
    (version, description, checksum) VALUES (?, ?, ?)";
const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS portcullis_api_keys_migrations (
    version     INTEGER NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    checksum    BLOB    NOT NULL,
    applied_at  TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP
) STRICT";

/// The columns of a record, as [`StoredRow`] reads them.
macro_rules! columns {
    () => {
        "id, tenant, name, hash_algorithm, hash_digest, masked, scopes, plan, metadata, \
         created_at, expires_at, revoked_at, last_used_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO portcullis_api_keys (",
    columns!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
);
const GET_BY_HASH: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM portcullis_api_keys WHERE hash_algorithm = ? AND hash_digest = ?"
);
const GET: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM portcullis_api_keys WHERE id = ?"
);
const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM portcullis_api_keys WHERE tenant = ? ORDER BY created_at, id"
);
const UPDATE: &str = concat!(
    "UPDATE portcullis_api_keys SET
        name = COALESCE(?2, name),
        scopes = COALESCE(?3, scopes),
        metadata = COALESCE(?4, metadata),
        expires_at = CASE WHEN ?5 THEN ?6 ELSE expires_at END,
        plan = CASE WHEN ?7 THEN ?8 ELSE plan END
    WHERE id = ?1 RETURNING ",
    columns!()
);
const REVOKE: &str = concat!(
    "UPDATE portcullis_api_keys SET revoked_at = MIN(COALESCE(revoked_at, ?2), ?2)
    WHERE id = ?1 RETURNING ",
    columns!()
);
/// `?1` is the batch as a JSON array of `[id, at]` pairs, one per id.
const RECORD_LAST_USED: &str = "UPDATE portcullis_api_keys
    SET last_used_at = MAX(COALESCE(last_used_at, uses.at), uses.at)
    FROM (SELECT value ->> 0 AS id, value ->> 1 AS at FROM json_each(?1)) AS uses
    WHERE portcullis_api_keys.id = uses.id";

/// SQLite's extended result codes for a violated primary key and unique index.
const PRIMARY_KEY_VIOLATION: &str = "1555";
const UNIQUE_VIOLATION: &str = "2067";
/// What SQLite says when the hash index is violated (it names columns, not indexes).
const HASH_VIOLATION: &str = "UNIQUE constraint failed: portcullis_api_keys.hash_algorithm, \
                              portcullis_api_keys.hash_digest";

/// The SQLite store over a [`SqlitePool`]; clones share the pool. See the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct SqliteKeyStore {
    pool: SqlitePool,
}

impl SqliteKeyStore {
    /// A store on a pool you configured. Run [`migrate`](Self::migrate) (or the
    /// shipped SQL) before using it.
    ///
    /// ```
    /// use portcullis_api_keys::{id::TenantId, store::{KeyStore, sqlite::SqliteKeyStore}};
    /// use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("portcullis-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let path = dir.join("keys.db");
    /// let options = SqliteConnectOptions::new()
    ///     .filename(&path)
    ///     .create_if_missing(true)
    ///     .journal_mode(SqliteJournalMode::Wal);
    /// let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
    /// let store = SqliteKeyStore::new(pool);
    /// store.migrate().await?;
    /// assert!(store.list_by_tenant(&TenantId::new("acme")).await?.is_empty());
    /// # store.pool().close().await;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// ```
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// A store on the database at `url`, connected now and in WAL mode:
    /// `sqlite://path/to/keys.db?mode=rwc` for a file created if missing,
    /// `sqlite::memory:` for a database that lives as long as the store (for tests).
    /// Connections are kept open rather than recycled, so an in-memory database lasts.
    /// Run [`migrate`](Self::migrate) before using it.
    ///
    /// ```
    /// use portcullis_api_keys::store::sqlite::SqliteKeyStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = SqliteKeyStore::connect("sqlite::memory:").await.unwrap();
    /// assert!(SqliteKeyStore::connect("sqlite:///nonexistent/dir/keys.db").await.is_err());
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::backend)?
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self::new(pool))
    }

    /// The pool, to run other queries or to close it.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates or upgrades the table: applies the shipped migrations this database
    /// lacks, in one `BEGIN IMMEDIATE` transaction, so processes that migrate the same
    /// file at once take turns and each finds the work done. Running it again changes
    /// nothing. Fails if a migration applied earlier differs from the one shipped.
    ///
    /// ```
    /// # use portcullis_api_keys::store::sqlite::SqliteKeyStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), portcullis_api_keys::store::StoreError> {
    /// let store = SqliteKeyStore::connect("sqlite::memory:").await?;
    /// store.migrate().await?;
    /// assert!(store.migrate().await.is_ok()); // nothing left to do
    /// # Ok(()) }
    /// ```
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::backend)?;
        sql::apply_pending_migrations!(tx)
    }

    async fn fetch_one_record<'q>(
        &self,
        query: QueryAs<'q, Sqlite, StoredRow, SqliteArguments<'q>>,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let row = query.fetch_optional(&self.pool).await.map_err(read_error)?;
        row.map(StoredRow::into_record).transpose()
    }
}

/// An insert's failure: a violated primary key is a duplicate id, a violated hash
/// index a duplicate hash.
fn insert_error(error: sqlx::Error, id: KeyId) -> StoreError {
    if let Some(database) = error.as_database_error() {
        match database.code().as_deref() {
            Some(PRIMARY_KEY_VIOLATION) => return StoreError::DuplicateId { id },
            Some(UNIQUE_VIOLATION) if database.message() == HASH_VIOLATION => {
                return StoreError::DuplicateHash;
            }
            _ => {}
        }
    }
    StoreError::backend(error)
}

impl KeyStore for SqliteKeyStore {
    sql::shared_key_store_methods!();

    async fn record_last_used(&self, uses: &[(KeyId, Timestamp)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let latest = sql::latest_uses(uses);
        let batch: Vec<(&str, i64)> = latest
            .iter()
            .map(|(id, at)| (id.as_str(), at.as_unix_micros()))
            .collect();
        let batch = serde_json::to_string(&batch).map_err(StoreError::backend)?;
        sqlx::query(RECORD_LAST_USED)
            .bind(batch)
            .execute(&self.pool)
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_shipped() {
        sql::assert_ships_every_file("sqlite", MIGRATIONS);
    }
}
