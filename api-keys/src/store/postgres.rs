//! The PostgreSQL store (feature `postgres`): keys in one table that every instance of
//! a service shares, over [`sqlx`].
//!
//! # Schema
//!
//! [`PostgresKeyStore::migrate`] creates one table, `portcullis_api_keys`, in the
//! first schema of the connection's `search_path` (the SQL ships in
//! `migrations/postgres/`, idempotent, to review or to copy into your own migrations):
//!
//! | column | type | holds |
//! |---|---|---|
//! | `id` | `TEXT COLLATE "C"`, primary key `portcullis_api_keys_pkey` | [`KeyId`] |
//! | `tenant` | `TEXT COLLATE "C"` | [`TenantId`] |
//! | `name` | `TEXT` | the name, maybe empty |
//! | `hash_algorithm` | `TEXT` | `sha256`, `hmac-sha256.<pepper version>` |
//! | `hash_digest` | `BYTEA` | the 32-byte digest |
//! | `masked` | `TEXT` | `sk_live_…a1b2` |
//! | `scopes` | `TEXT` | space separated, in byte order |
//! | `plan` | `TEXT NULL` | the plan's name |
//! | `metadata` | `JSONB` | a JSON object |
//! | `created_at`, `expires_at`, `revoked_at`, `last_used_at` | `BIGINT` (the last three `NULL`able) | microseconds since the Unix epoch |
//!
//! with a unique constraint `portcullis_api_keys_hash_key` on
//! `(hash_algorithm, hash_digest)` (the verification lookup) and an index on
//! `(tenant, created_at, id)` (listing). Ids order in byte order (`COLLATE "C"`)
//! whatever the database's locale. Insert failures map by constraint name: the
//! primary key to [`StoreError::DuplicateId`], the hash constraint to
//! [`StoreError::DuplicateHash`], anything else to [`StoreError::Backend`].
//!
//! Applied migrations are recorded in `portcullis_api_keys_migrations`, not sqlx's
//! `_sqlx_migrations`, so your own sqlx migrations on the same database are
//! unaffected.
//!
//! # Statements
//!
//! Every [`KeyStore`] call is one statement: lookups are one indexed `SELECT`;
//! `update` and `revoke` one `UPDATE … RETURNING`
//! (`revoked_at = LEAST(revoked_at, $2)`); `record_last_used` one
//! `UPDATE … FROM UNNEST($1::text[], $2::int8[])` over the whole batch, reduced first
//! to the latest time per id (`last_used_at = GREATEST(last_used_at, at)`), which
//! locks its rows in id order so that concurrent batches (from several instances)
//! never deadlock. A row that does not read back as a valid record is a
//! [`StoreError::Malformed`] naming the column.
//!
//! # Limits
//!
//! PostgreSQL text cannot hold a NUL character, nor `jsonb` the escape `\u0000`: a
//! record with one is refused with a [`StoreError::Backend`]. sqlx is built without
//! TLS here; to connect with `sslmode=require`, enable one of its TLS features in your
//! own `Cargo.toml` (`sqlx = { version = "0.8", features = ["tls-rustls"] }`), which
//! Cargo unifies with this crate's.
//!
//! # Example
//!
//! `no_run`: it needs a PostgreSQL server (the crate's `tests/` run the store against
//! one, and the conformance suite).
//!
//! ```no_run
//! use portcullis_api_keys::store::{KeyStore, postgres::PostgresKeyStore};
//! use portcullis_api_keys::id::TenantId;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), portcullis_api_keys::store::StoreError> {
//! let store = PostgresKeyStore::connect("postgres://app@db.internal/app").await?;
//! store.migrate().await?; // at start-up, or as a deploy step
//! let keys = store.list_by_tenant(&TenantId::new("acme")).await?;
//! # Ok(()) }
//! ```
//!
//! [`KeyId`]: crate::id::KeyId
//! [`TenantId`]: crate::id::TenantId

use sqlx::postgres::{PgArguments, PgPoolOptions};
use sqlx::query::QueryAs;
use sqlx::{Executor, PgPool, Postgres};

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
    sql: include_str!("../../migrations/postgres/0001_create_api_keys.sql"),
}];

/// Records an applied migration: version, description, checksum.
const RECORD_MIGRATION: &str = "INSERT INTO portcullis_api_keys_migrations \
    (version, description, checksum) VALUES ($1, $2, $3)";
const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS portcullis_api_keys_migrations (
    version     BIGINT      NOT NULL PRIMARY KEY,
    description TEXT        NOT NULL,
    checksum    BYTEA       NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// The advisory lock `migrate` holds for its transaction: "portkeys" in ASCII.
const MIGRATION_LOCK: i64 = 0x706f_7274_6b65_7973;

/// The constraints whose violations are duplicates.
const PRIMARY_KEY: &str = "portcullis_api_keys_pkey";
const HASH_KEY: &str = "portcullis_api_keys_hash_key";

/// The columns of a record, as [`StoredRow`] reads them.
macro_rules! columns {
    () => {
        "id, tenant, name, hash_algorithm, hash_digest, masked, scopes, plan, \
         metadata::text AS metadata, created_at, expires_at, revoked_at, last_used_at"
    };
}

const INSERT: &str = "INSERT INTO portcullis_api_keys (id, tenant, name, hash_algorithm, \
    hash_digest, masked, scopes, plan, metadata, created_at, expires_at, revoked_at, \
    last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13)";
const GET_BY_HASH: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM portcullis_api_keys WHERE hash_algorithm = $1 AND hash_digest = $2"
);
const GET: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM portcullis_api_keys WHERE id = $1"
);
const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM portcullis_api_keys WHERE tenant = $1 ORDER BY created_at, id COLLATE \"C\""
);
const UPDATE: &str = concat!(
    "UPDATE portcullis_api_keys SET
        name = COALESCE($2, name),
        scopes = COALESCE($3, scopes),
        metadata = COALESCE($4::jsonb, metadata),
        expires_at = CASE WHEN $5 THEN $6 ELSE expires_at END,
        plan = CASE WHEN $7 THEN $8 ELSE plan END
    WHERE id = $1 RETURNING ",
    columns!()
);
const REVOKE: &str = concat!(
    "UPDATE portcullis_api_keys SET revoked_at = LEAST(revoked_at, $2)
    WHERE id = $1 RETURNING ",
    columns!()
);
/// `$1` and `$2` are the batch's ids and times, one entry per id. The subquery locks
/// the rows in id order (its `FOR UPDATE` sits above its sort) before any is updated.
const RECORD_LAST_USED: &str = "UPDATE portcullis_api_keys AS k
    SET last_used_at = GREATEST(k.last_used_at, uses.at)
    FROM (
        SELECT locked.id, batch.at
        FROM portcullis_api_keys AS locked
        JOIN UNNEST($1::text[], $2::int8[]) AS batch(id, at) ON locked.id = batch.id
        ORDER BY locked.id COLLATE \"C\"
        FOR UPDATE OF locked
    ) AS uses
    WHERE k.id = uses.id";

/// The PostgreSQL store over a [`PgPool`]; clones share the pool. See the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct PostgresKeyStore {
    pool: PgPool,
}

impl PostgresKeyStore {
    /// A store on a pool you configured (size, timeouts, `search_path`). Run
    /// [`migrate`](Self::migrate) (or the shipped SQL) before using it.
    ///
    /// (`no_run`: it needs a PostgreSQL server.)
    ///
    /// ```no_run
    /// use portcullis_api_keys::store::postgres::PostgresKeyStore;
    /// use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // The table in a schema of its own.
    /// let options: PgConnectOptions = "postgres://app@db.internal/app".parse()?;
    /// let options = options.options([("search_path", "auth")]);
    /// let pool = PgPoolOptions::new().max_connections(20).connect_with(options).await?;
    /// let store = PostgresKeyStore::new(pool);
    /// # Ok(()) }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// A store on the database at `url` (`postgres://user:password@host/database`),
    /// with sqlx's default pool (up to 10 connections), connected now. Run
    /// [`migrate`](Self::migrate) before using it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .connect(url)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self::new(pool))
    }

    /// The pool, to run other queries or to close it.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates or upgrades the table: applies the shipped migrations this database
    /// lacks, in one transaction under an advisory lock, so instances that start at
    /// once take turns and each finds the work done. Running it again changes nothing.
    /// Fails if a migration applied earlier differs from the one shipped.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::backend)?;
        sql::apply_pending_migrations!(tx)
    }

    async fn fetch_one_record<'q>(
        &self,
        query: QueryAs<'q, Postgres, StoredRow, PgArguments>,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let row = query.fetch_optional(&self.pool).await.map_err(read_error)?;
        row.map(StoredRow::into_record).transpose()
    }
}

/// An insert's failure, by the name of the violated constraint.
fn insert_error(error: sqlx::Error, id: KeyId) -> StoreError {
    if let Some(database) = error.as_database_error()
        && database.is_unique_violation()
    {
        match database.constraint() {
            Some(PRIMARY_KEY) => return StoreError::DuplicateId { id },
            Some(HASH_KEY) => return StoreError::DuplicateHash,
            _ => {}
        }
    }
    StoreError::backend(error)
}

impl KeyStore for PostgresKeyStore {
    sql::shared_key_store_methods!();

    async fn record_last_used(&self, uses: &[(KeyId, Timestamp)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let latest = sql::latest_uses(uses);
        let ids: Vec<&str> = latest.iter().map(|(id, _)| id.as_str()).collect();
        let times: Vec<i64> = latest.iter().map(|(_, at)| at.as_unix_micros()).collect();
        sqlx::query(RECORD_LAST_USED)
            .bind(ids)
            .bind(times)
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
        sql::assert_ships_every_file("postgres", MIGRATIONS);
    }

    #[test]
    fn the_migration_names_the_constraints_errors_map_from() {
        let sql = MIGRATIONS[0].sql;
        assert!(sql.contains(&format!("CONSTRAINT {PRIMARY_KEY} PRIMARY KEY (id)")));
        assert!(sql.contains(&format!(
            "CONSTRAINT {HASH_KEY} UNIQUE (hash_algorithm, hash_digest)"
        )));
    }
}
