//! The SQLite store on real database files: the shared conformance suite (one file for
//! every check, a fresh file per check, an in-memory database), and what is SQLite's
//! own: constraint violations, malformed rows, big batches, migrations.
#![cfg(all(feature = "sqlite", feature = "conformance"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis_api_keys::id::KeyId;
use portcullis_api_keys::store::sqlite::SqliteKeyStore;
use portcullis_api_keys::store::{KeyStore, StoreError, conformance};
use portcullis_api_keys::timestamp::Timestamp;
use support::{ScratchDir, record, tenant};

/// A migrated store on the file `name` in `dir`, created if missing.
async fn store_in(dir: &ScratchDir, name: &str) -> SqliteKeyStore {
    let path = dir.path().join(name);
    let store = SqliteKeyStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("open the database file");
    store.migrate().await.expect("migrate");
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sqlite_file_conforms() {
    let dir = ScratchDir::new();
    let store = store_in(&dir, "keys.db").await;
    conformance::run(async || store.clone()).await;
    // And again over what the first run left, through a second pool on the file.
    let reopened = store_in(&dir, "keys.db").await;
    conformance::run(async || reopened.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_sqlite_file_per_check_conforms() {
    let dir = ScratchDir::new();
    let next = AtomicUsize::new(0);
    conformance::run(async || {
        let n = next.fetch_add(1, Ordering::Relaxed);
        store_in(&dir, &format!("check-{n}.db")).await
    })
    .await;
    assert_eq!(next.load(Ordering::Relaxed), 11, "one file per check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_conforms() {
    let store = SqliteKeyStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    conformance::run(async || store.clone()).await;
}

#[tokio::test]
async fn connect_opens_the_file_in_wal_mode() {
    let dir = ScratchDir::new();
    let store = store_in(&dir, "keys.db").await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let url = format!("sqlite://{}", dir.path().join("missing.db").display());
    assert!(
        SqliteKeyStore::connect(&url).await.is_err(),
        "without mode=rwc a missing file is not created"
    );
}

#[tokio::test]
async fn each_unique_violation_maps_to_its_own_error() {
    let dir = ScratchDir::new();
    let store = store_in(&dir, "keys.db").await;
    let tenant = tenant();
    let stored = record(&tenant, 1);
    store.insert(&stored).await.unwrap();

    let mut same_hash = record(&tenant, 2);
    same_hash.hash = stored.hash;
    assert!(matches!(
        store.insert(&same_hash).await,
        Err(StoreError::DuplicateHash)
    ));
    let mut same_id = record(&tenant, 3);
    same_id.id = stored.id;
    assert!(matches!(
        store.insert(&same_id).await,
        Err(StoreError::DuplicateId { id }) if id == stored.id
    ));

    // A unique index of the operator's own is neither: it is reported as it is.
    sqlx::query("CREATE UNIQUE INDEX one_name_per_tenant ON portcullis_api_keys (tenant, name)")
        .execute(store.pool())
        .await
        .unwrap();
    let same_name = record(&tenant, 4);
    let error = store.insert(&same_name).await.unwrap_err();
    let StoreError::Backend { source } = &error else {
        panic!("{error:?} is not a backend error");
    };
    assert!(
        source
            .to_string()
            .contains("tenant, portcullis_api_keys.name")
    );
}

/// SQLite's plan of `query`, one line per step.
async fn plan(store: &SqliteKeyStore, query: &str) -> String {
    let steps: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(&format!("EXPLAIN QUERY PLAN {query}"))
            .fetch_all(store.pool())
            .await
            .unwrap();
    steps
        .into_iter()
        .map(|(_, _, _, step)| step)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn lookups_are_served_by_their_indexes() {
    let dir = ScratchDir::new();
    let store = store_in(&dir, "keys.db").await;
    let by_hash = plan(
        &store,
        "SELECT * FROM portcullis_api_keys WHERE hash_algorithm = 'sha256' AND hash_digest = x'00'",
    )
    .await;
    assert!(
        by_hash.contains("USING INDEX portcullis_api_keys_hash_key"),
        "{by_hash}"
    );
    let by_id = plan(
        &store,
        "SELECT * FROM portcullis_api_keys WHERE id = 'key_x'",
    )
    .await;
    assert!(
        by_id.contains("USING INDEX sqlite_autoindex_portcullis_api_keys_1"),
        "{by_id}"
    );
    // The listing's order is the index's: no temporary B-tree to sort.
    let list = plan(
        &store,
        "SELECT * FROM portcullis_api_keys WHERE tenant = 't' ORDER BY created_at, id",
    )
    .await;
    assert!(
        list.contains("USING INDEX portcullis_api_keys_tenant_idx"),
        "{list}"
    );
    assert!(!list.contains("TEMP B-TREE"), "{list}");
}

#[tokio::test]
async fn rows_that_are_not_valid_records_are_malformed_errors() {
    let dir = ScratchDir::new();
    let store = store_in(&dir, "keys.db").await;
    let cases = [
        (
            "id",
            "SET id = 'bad_' || id",
            "column `id`: invalid key id `bad_key_",
        ),
        (
            "hash_algorithm",
            "SET hash_algorithm = 'md5'",
            "unknown hash algorithm `md5`",
        ),
        (
            "hash_digest",
            "SET hash_digest = substr(hash_digest, 1, 31)",
            "a digest of 31 bytes",
        ),
        ("scopes", "SET scopes = 'read \"all\"'", "invalid scope"),
        ("metadata", "SET metadata = '[1, 2]'", "column `metadata`"),
        ("metadata", "SET metadata = 'not json'", "column `metadata`"),
    ];
    for (column, change, reason) in cases {
        let tenant = tenant();
        let stored = record(&tenant, 1);
        store.insert(&stored).await.unwrap();
        sqlx::query(&format!("UPDATE portcullis_api_keys {change} WHERE id = ?"))
            .bind(stored.id.as_str())
            .execute(store.pool())
            .await
            .unwrap();
        // Every lookup that still finds the row (a changed id or hash no longer does).
        let mut results = vec![store.list_by_tenant(&tenant).await.map(|mut all| all.pop())];
        if !column.starts_with("hash") {
            results.push(store.get_by_hash(&stored.hash).await);
        }
        if column != "id" {
            results.push(store.get(&stored.id).await);
            results.push(store.revoke(&stored.id, Timestamp::UNIX_EPOCH).await);
        }
        for result in results {
            match result {
                Err(StoreError::Malformed { source }) => {
                    let message = source.to_string();
                    assert!(message.contains(&format!("column `{column}`")), "{message}");
                    assert!(message.contains(reason), "{message}");
                }
                other => panic!("{column}: {other:?} is not Malformed"),
            }
        }
    }
}

#[tokio::test]
async fn a_batch_of_a_thousand_uses_is_applied_whole() {
    let dir = ScratchDir::new();
    let store = store_in(&dir, "keys.db").await;
    let tenant = tenant();
    let records: Vec<_> = (0..1_000).map(|i| record(&tenant, i)).collect();
    for record in &records {
        store.insert(record).await.unwrap();
    }
    let at = Timestamp::from_unix_micros;
    // Every id twice (the later time second for half of them, first for the others),
    // and ids that have no record.
    let mut uses: Vec<(KeyId, Timestamp)> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let (early, late) = (at(1_000 + i as i64), at(5_000 + i as i64));
        if i % 2 == 0 {
            uses.extend([(record.id, early), (record.id, late)]);
        } else {
            uses.extend([(record.id, late), (record.id, early)]);
        }
    }
    uses.extend((0..10).map(|_| (KeyId::generate(), at(9_999))));
    store.record_last_used(&uses).await.unwrap();
    let listed = store.list_by_tenant(&tenant).await.unwrap();
    assert_eq!(listed.len(), 1_000);
    for (i, record) in listed.iter().enumerate() {
        assert_eq!(record.last_used_at, Some(at(5_000 + i as i64)), "{i}");
    }

    // An older batch moves nothing back.
    let older: Vec<_> = records.iter().map(|record| (record.id, at(1))).collect();
    store.record_last_used(&older).await.unwrap();
    let listed = store.list_by_tenant(&tenant).await.unwrap();
    assert!(
        listed
            .iter()
            .enumerate()
            .all(|(i, record)| record.last_used_at == Some(at(5_000 + i as i64)))
    );
}

#[tokio::test]
async fn migrating_again_changes_nothing() {
    let dir = ScratchDir::new();
    let store = store_in(&dir, "keys.db").await;
    let stored = record(&tenant(), 1);
    store.insert(&stored).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.get(&stored.id).await.unwrap(), Some(stored));
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, description FROM portcullis_api_keys_migrations")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(applied, [(1, "create api keys".to_owned())]);
    let sqlx_table: Option<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name = '_sqlx_migrations'")
            .fetch_optional(store.pool())
            .await
            .unwrap();
    assert_eq!(
        sqlx_table, None,
        "sqlx's own migrations table is left alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_migrating_a_new_file_at_once_take_turns() {
    let dir = ScratchDir::new();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("keys.db").display());
    // Separate pools, as separate processes would have.
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(SqliteKeyStore::connect(&url).await.unwrap());
    }
    let tasks: Vec<_> = stores
        .iter()
        .cloned()
        .map(|store| tokio::spawn(async move { store.migrate().await }))
        .collect();
    for task in tasks {
        task.await
            .unwrap()
            .expect("every concurrent migration succeeds");
    }
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM portcullis_api_keys_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(applied, 1);
}

#[tokio::test]
async fn a_migration_changed_after_it_was_applied_is_refused() {
    let dir = ScratchDir::new();
    let store = store_in(&dir, "keys.db").await;
    sqlx::query("UPDATE portcullis_api_keys_migrations SET checksum = x'00' WHERE version = 1")
        .execute(store.pool())
        .await
        .unwrap();
    let error = store.migrate().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("migration 1 (create api keys) of the API key store differs"),
        "{error}"
    );
}
