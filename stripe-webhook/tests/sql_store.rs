//! The SQL store on SQLite (a file in a temporary directory) and on the real
//! PostgreSQL at `DATABASE_URL` (`#[ignore = "needs DATABASE_URL"]`; run with
//! `-- --include-ignored`, they fail when it is unset or unreachable): conformance and
//! 64 concurrent deliveries of one event.
//! Every test uses its own table.
#![cfg(any(feature = "sqlite", feature = "postgres"))]

mod support;

use portcullis_stripe_webhook::store::sql::SqlStore;

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    /// A store on a fresh SQLite file; the directory is removed on drop.
    struct Scratch {
        dir: std::path::PathBuf,
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn store() -> (SqlStore<sqlx::Sqlite>, Scratch) {
        let dir = std::env::temp_dir().join(support::unique("portcullis_sqlite"));
        std::fs::create_dir_all(&dir).unwrap();
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("webhooks.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .unwrap();
        let store = SqlStore::new(pool)
            .table(&support::unique("events"))
            .unwrap();
        store.create_table().await.unwrap();
        (store, Scratch { dir })
    }

    #[tokio::test]
    async fn sqlite_store_conformance() {
        let (store, _scratch) = store().await;
        support::conformance(&store, "sqlite").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_store_64_concurrent_deliveries_run_the_handler_once() {
        let (store, _scratch) = store().await;
        support::concurrent_deliveries(store, "sqlite").await;
    }

    #[tokio::test]
    async fn sqlite_purge_deletes_expired_rows_only() {
        use portcullis_stripe_webhook::store::{ClaimToken, IdempotencyStore};
        use std::time::{Duration, SystemTime};
        let (store, _scratch) = store().await;
        let now = SystemTime::now();
        store
            .claim("short", &ClaimToken::new(), now, Duration::from_secs(1))
            .await
            .unwrap();
        store
            .claim("long", &ClaimToken::new(), now, Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(
            store
                .purge_expired(now + Duration::from_secs(5))
                .await
                .unwrap(),
            1
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    /// A store on a fresh table of `DATABASE_URL`, dropped afterwards.
    async fn store() -> SqlStore<sqlx::Postgres> {
        let url = support::database_url();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await
            .unwrap_or_else(|error| panic!("DATABASE_URL={url} unreachable: {error}"));
        let store = SqlStore::new(pool)
            .table(&support::unique("events"))
            .unwrap();
        store.create_table().await.unwrap();
        store
    }

    async fn drop_table(store: &SqlStore<sqlx::Postgres>) {
        let statement = format!("DROP TABLE IF EXISTS {}", store.table_name());
        sqlx::query(&statement).execute(store.pool()).await.unwrap();
    }

    #[tokio::test]
    #[ignore = "needs DATABASE_URL"]
    async fn postgres_store_conformance() {
        let store = store().await;
        support::conformance(&store, "postgres").await;
        drop_table(&store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs DATABASE_URL"]
    async fn postgres_store_64_concurrent_deliveries_run_the_handler_once() {
        let store = store().await;
        support::concurrent_deliveries(store.clone(), "postgres").await;
        drop_table(&store).await;
    }
}
