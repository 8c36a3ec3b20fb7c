//! The SQL idempotency store (features `sqlite`, `postgres`), on a `sqlx` pool.
//!
//! One table, default name `portcullis_webhook_events`:
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS portcullis_webhook_events (
//!     event_id   TEXT PRIMARY KEY,     -- unique: one row per event
//!     state      TEXT NOT NULL,        -- 'in_progress' or 'completed'
//!     token      TEXT NOT NULL,        -- the claim's token ('' once completed)
//!     expires_at BIGINT NOT NULL       -- Unix milliseconds
//! );
//! CREATE INDEX IF NOT EXISTS portcullis_webhook_events_expires_at
//!     ON portcullis_webhook_events (expires_at);
//! ```
//!
//! [`create_table`](SqlStore::create_table) creates it (or add it to your
//! migrations). A claim is one statement, atomic in both databases:
//!
//! ```sql
//! INSERT INTO t (event_id, state, token, expires_at) VALUES ($1, 'in_progress', $2, $3)
//! ON CONFLICT (event_id) DO UPDATE
//!     SET state = 'in_progress', token = excluded.token, expires_at = excluded.expires_at
//!     WHERE t.expires_at <= $4          -- only an expired row is taken over
//! RETURNING token
//! ```
//!
//! No row back means someone else holds the event; one more `SELECT` tells whether it
//! is in progress or completed. Expiries are compared with the service's clock, so the
//! instances' clocks should agree (NTP) to within a small fraction of the claim TTL.
//! Expired rows are harmless and are taken over in place; delete them now and then with
//! [`purge_expired`](SqlStore::purge_expired).
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use portcullis_stripe_webhook::store::{Claim, ClaimToken, IdempotencyStore, sql::SqlStore};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let pool = sqlx::sqlite::SqlitePoolOptions::new()
//!     .max_connections(1)
//!     .connect("sqlite::memory:")
//!     .await
//!     .unwrap();
//! let store = SqlStore::new(pool).table("webhook_events").unwrap();
//! store.create_table().await.unwrap();
//! let (now, ttl) = (SystemTime::now(), Duration::from_secs(60));
//! assert_eq!(store.claim("evt_1", &ClaimToken::new(), now, ttl).await.unwrap(), Claim::Claimed);
//! assert_eq!(store.claim("evt_1", &ClaimToken::new(), now, ttl).await.unwrap(), Claim::InProgress);
//! # });
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{BoxFuture, Claim, ClaimToken, IdempotencyStore, StoreError, unix_millis};
use crate::error::ConfigError;

/// The default table name.
pub const DEFAULT_TABLE: &str = "portcullis_webhook_events";

#[derive(Debug)]
struct Queries {
    table: String,
    create: [String; 2],
    claim: String,
    state: String,
    complete: String,
    release: String,
    purge: String,
}

impl Queries {
    fn new(table: &str, postgres: bool) -> Self {
        let p = |n: usize| {
            if postgres {
                format!("${n}")
            } else {
                format!("?{n}")
            }
        };
        Self {
            table: table.to_owned(),
            create: [
                format!(
                    "CREATE TABLE IF NOT EXISTS {table} (event_id TEXT PRIMARY KEY, \
                     state TEXT NOT NULL, token TEXT NOT NULL, expires_at BIGINT NOT NULL)"
                ),
                format!("CREATE INDEX IF NOT EXISTS {table}_expires_at ON {table} (expires_at)"),
            ],
            claim: format!(
                "INSERT INTO {table} (event_id, state, token, expires_at) \
                 VALUES ({}, 'in_progress', {}, {}) \
                 ON CONFLICT (event_id) DO UPDATE SET state = 'in_progress', \
                 token = excluded.token, expires_at = excluded.expires_at \
                 WHERE {table}.expires_at <= {} RETURNING token",
                p(1),
                p(2),
                p(3),
                p(4)
            ),
            state: format!(
                "SELECT state FROM {table} WHERE event_id = {} AND expires_at > {}",
                p(1),
                p(2)
            ),
            complete: format!(
                "INSERT INTO {table} (event_id, state, token, expires_at) \
                 VALUES ({}, 'completed', '', {}) \
                 ON CONFLICT (event_id) DO UPDATE SET state = 'completed', token = '', \
                 expires_at = excluded.expires_at",
                p(1),
                p(2)
            ),
            release: format!(
                "DELETE FROM {table} WHERE event_id = {} AND token = {} AND state = 'in_progress'",
                p(1),
                p(2)
            ),
            purge: format!("DELETE FROM {table} WHERE expires_at <= {}", p(1)),
        }
    }
}

fn valid_table(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 63
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The SQL idempotency store over a `sqlx` pool of SQLite (feature `sqlite`) or
/// PostgreSQL (feature `postgres`). Clones share the pool. See the
/// [module docs](self).
pub struct SqlStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    queries: Arc<Queries>,
}

impl<DB: sqlx::Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            queries: self.queries.clone(),
        }
    }
}

impl<DB: sqlx::Database> fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("database", &DB::NAME)
            .field("table", &self.queries.table)
            .finish_non_exhaustive()
    }
}

impl<DB: sqlx::Database> SqlStore<DB> {
    /// A store on `pool`, in the table [`DEFAULT_TABLE`].
    pub fn new(pool: sqlx::Pool<DB>) -> Self {
        Self {
            pool,
            queries: Arc::new(Queries::new(DEFAULT_TABLE, DB::NAME == "PostgreSQL")),
        }
    }

    /// Uses the table `name` (letters, digits and `_`; at most 63 bytes).
    ///
    /// ```
    /// use portcullis_stripe_webhook::store::sql::SqlStore;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    /// assert!(SqlStore::new(pool.clone()).table("billing_webhooks").is_ok());
    /// assert!(SqlStore::new(pool).table("x; DROP TABLE users").is_err());
    /// # });
    /// ```
    pub fn table(mut self, name: &str) -> Result<Self, ConfigError> {
        if !valid_table(name) {
            return Err(ConfigError::InvalidTableName {
                name: name.to_owned(),
            });
        }
        self.queries = Arc::new(Queries::new(name, DB::NAME == "PostgreSQL"));
        Ok(self)
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.queries.table
    }

    /// The pool.
    pub fn pool(&self) -> &sqlx::Pool<DB> {
        &self.pool
    }
}

macro_rules! sql_store {
    ($feature:literal, $db:ty) => {
        #[cfg(feature = $feature)]
        impl SqlStore<$db> {
            /// Creates the table and its index if they do not exist.
            pub async fn create_table(&self) -> Result<(), StoreError> {
                for statement in &self.queries.create {
                    sqlx::query(statement)
                        .execute(&self.pool)
                        .await
                        .map_err(StoreError::backend)?;
                }
                Ok(())
            }

            /// Deletes the rows expired at `now`; returns how many.
            ///
            /// ```
            /// use std::time::{Duration, SystemTime};
            /// use portcullis_stripe_webhook::store::{ClaimToken, IdempotencyStore, sql::SqlStore};
            /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
            /// let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1)
            ///     .connect("sqlite::memory:").await.unwrap();
            /// let store = SqlStore::new(pool);
            /// store.create_table().await.unwrap();
            /// let now = SystemTime::now();
            /// store.claim("evt_1", &ClaimToken::new(), now, Duration::from_secs(1)).await.unwrap();
            /// assert_eq!(store.purge_expired(now + Duration::from_secs(2)).await.unwrap(), 1);
            /// # });
            /// ```
            pub async fn purge_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
                sqlx::query(&self.queries.purge)
                    .bind(unix_millis(now))
                    .execute(&self.pool)
                    .await
                    .map(|done| done.rows_affected())
                    .map_err(StoreError::backend)
            }
        }

        #[cfg(feature = $feature)]
        impl IdempotencyStore for SqlStore<$db> {
            type ClaimFuture = BoxFuture<'static, Result<Claim, StoreError>>;
            type CompleteFuture = BoxFuture<'static, Result<(), StoreError>>;
            type ReleaseFuture = BoxFuture<'static, Result<(), StoreError>>;

            fn claim(
                &self,
                key: &str,
                token: &ClaimToken,
                now: SystemTime,
                ttl: Duration,
            ) -> Self::ClaimFuture {
                let store = self.clone();
                let key = key.to_owned();
                let token = token.as_str().to_owned();
                let now = unix_millis(now);
                let expires_at =
                    now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1));
                Box::pin(async move {
                    // A row deleted between the two statements is claimed again.
                    for _ in 0..3 {
                        let claimed: Option<String> = sqlx::query_scalar(&store.queries.claim)
                            .bind(&key)
                            .bind(&token)
                            .bind(expires_at)
                            .bind(now)
                            .fetch_optional(&store.pool)
                            .await
                            .map_err(StoreError::backend)?;
                        if claimed.is_some() {
                            return Ok(Claim::Claimed);
                        }
                        let state: Option<String> = sqlx::query_scalar(&store.queries.state)
                            .bind(&key)
                            .bind(now)
                            .fetch_optional(&store.pool)
                            .await
                            .map_err(StoreError::backend)?;
                        match state.as_deref() {
                            Some("completed") => return Ok(Claim::Completed),
                            Some(_) => return Ok(Claim::InProgress),
                            None => {}
                        }
                    }
                    Ok(Claim::InProgress)
                })
            }

            fn complete(
                &self,
                key: &str,
                _token: &ClaimToken,
                now: SystemTime,
                ttl: Duration,
            ) -> Self::CompleteFuture {
                let store = self.clone();
                let key = key.to_owned();
                let expires_at = unix_millis(now)
                    .saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1));
                Box::pin(async move {
                    sqlx::query(&store.queries.complete)
                        .bind(&key)
                        .bind(expires_at)
                        .execute(&store.pool)
                        .await
                        .map(drop)
                        .map_err(StoreError::backend)
                })
            }

            fn release(&self, key: &str, token: &ClaimToken) -> Self::ReleaseFuture {
                let store = self.clone();
                let key = key.to_owned();
                let token = token.as_str().to_owned();
                Box::pin(async move {
                    sqlx::query(&store.queries.release)
                        .bind(&key)
                        .bind(&token)
                        .execute(&store.pool)
                        .await
                        .map(drop)
                        .map_err(StoreError::backend)
                })
            }
        }
    };
}

sql_store!("sqlite", sqlx::Sqlite);
sql_store!("postgres", sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_plain_identifiers() {
        for (name, ok) in [
            ("portcullis_webhook_events", true),
            ("_t1", true),
            ("1t", false),
            ("", false),
            ("a-b", false),
            ("a b", false),
            ("t\"", false),
        ] {
            assert_eq!(valid_table(name), ok, "{name}");
        }
        assert!(!valid_table(&"a".repeat(64)));
    }

    #[test]
    fn placeholders_follow_the_database() {
        let postgres = Queries::new("t", true);
        assert!(postgres.claim.contains("$4"));
        let sqlite = Queries::new("t", false);
        assert!(sqlite.claim.contains("?4") && !sqlite.claim.contains('$'));
    }
}
