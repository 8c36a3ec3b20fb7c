//! The PostgreSQL store on the real server at `DATABASE_URL`: the shared conformance
//! suite on one migrated table that every run shares, and what is PostgreSQL's own:
//! constraint names, malformed rows, big and concurrent batches, byte-order listing
//! under a linguistic collation, and migrations run twice and from several processes
//! at once.
//!
//! Every test is `#[ignore = "needs DATABASE_URL"]`: run them with
//! `-- --include-ignored`. Then `DATABASE_URL` unset, or set but unreachable, fails them.
#![cfg(all(feature = "postgres", feature = "conformance"))]

mod support;

use portcullis_api_keys::id::KeyId;
use portcullis_api_keys::store::postgres::PostgresKeyStore;
use portcullis_api_keys::store::{KeyStore, StoreError, conformance};
use portcullis_api_keys::timestamp::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};
use support::{postgres_pool, record, tenant, unique_name};

/// A migrated store on `DATABASE_URL`'s database, shared with every other test and
/// run (the checks use tenants and keys of their own).
async fn shared_store() -> PostgresKeyStore {
    let store = PostgresKeyStore::new(postgres_pool().await);
    store.migrate().await.expect("migrate");
    store
}

/// A schema of its own on `DATABASE_URL`'s database, dropped on [`Schema::drop`]:
/// a database the store has never seen.
struct Schema {
    admin: PgPool,
    name: String,
    options: PgConnectOptions,
}

impl Schema {
    async fn new() -> Self {
        let admin = postgres_pool().await;
        let name = unique_name("portcullis_test");
        admin
            .execute(format!("CREATE SCHEMA {name}").as_str())
            .await
            .unwrap();
        let url = support::database_url();
        let options = url
            .parse::<PgConnectOptions>()
            .unwrap()
            .options([("search_path", name.as_str())]);
        Self {
            admin,
            name,
            options,
        }
    }

    /// A store with its own pool whose tables are in this schema, not migrated.
    async fn store(&self) -> PostgresKeyStore {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(self.options.clone())
            .await
            .unwrap();
        PostgresKeyStore::new(pool)
    }

    async fn drop(self) {
        self.admin
            .execute(format!("DROP SCHEMA {} CASCADE", self.name).as_str())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn one_shared_table_conforms() {
    let store = shared_store().await;
    conformance::run(async || store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn each_unique_violation_maps_to_its_own_error() {
    let store = shared_store().await;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn a_unique_constraint_of_the_operators_own_is_neither_duplicate() {
    let schema = Schema::new().await;
    let store = schema.store().await;
    store.migrate().await.unwrap();
    store
        .pool()
        .execute("ALTER TABLE portcullis_api_keys ADD CONSTRAINT one_name_per_tenant UNIQUE (tenant, name)")
        .await
        .unwrap();
    let tenant = tenant();
    store.insert(&record(&tenant, 1)).await.unwrap();
    let error = store.insert(&record(&tenant, 2)).await.unwrap_err();
    let StoreError::Backend { source } = &error else {
        panic!("{error:?} is not a backend error");
    };
    assert!(
        source.to_string().contains("one_name_per_tenant"),
        "{source}"
    );
    schema.drop().await;
}

/// The plan of `query` with sequential scans and sorts priced out: a sort left in it
/// is one no index can spare.
async fn plan(store: &PostgresKeyStore, query: &str) -> String {
    let mut tx = store.pool().begin().await.unwrap();
    for setting in ["enable_seqscan", "enable_bitmapscan", "enable_sort"] {
        tx.execute(format!("SET LOCAL {setting} = off").as_str())
            .await
            .unwrap();
    }
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {query}"))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn lookups_are_served_by_their_indexes() {
    let store = shared_store().await;
    let by_hash = plan(
        &store,
        "SELECT * FROM portcullis_api_keys WHERE hash_algorithm = 'sha256' AND hash_digest = '\\x00'",
    )
    .await;
    assert!(
        by_hash.contains("Index Scan using portcullis_api_keys_hash_key"),
        "{by_hash}"
    );
    let by_id = plan(
        &store,
        "SELECT * FROM portcullis_api_keys WHERE id = 'key_x'",
    )
    .await;
    assert!(
        by_id.contains("Index Scan using portcullis_api_keys_pkey"),
        "{by_id}"
    );
    // The listing's order, ids in byte order, is the index's: no sort.
    let list = plan(
        &store,
        "SELECT * FROM portcullis_api_keys WHERE tenant = 't' ORDER BY created_at, id COLLATE \"C\"",
    )
    .await;
    assert!(
        list.contains("Index Scan using portcullis_api_keys_tenant_idx"),
        "{list}"
    );
    assert!(!list.contains("Sort"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn rows_that_are_not_valid_records_are_malformed_errors() {
    let store = shared_store().await;
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
            "SET hash_digest = substring(hash_digest from 1 for 31)",
            "a digest of 31 bytes",
        ),
        ("scopes", "SET scopes = 'read \"all\"'", "invalid scope"),
        ("metadata", "SET metadata = '[1, 2]'", "column `metadata`"),
        ("metadata", "SET metadata = '\"text\"'", "column `metadata`"),
    ];
    for (column, change, reason) in cases {
        let tenant = tenant();
        let stored = record(&tenant, 1);
        store.insert(&stored).await.unwrap();
        sqlx::query(&format!(
            "UPDATE portcullis_api_keys {change} WHERE id = $1"
        ))
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
        // The table is shared: leave no broken row behind.
        sqlx::query("DELETE FROM portcullis_api_keys WHERE tenant = $1")
            .bind(tenant.as_str())
            .execute(store.pool())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn what_postgres_cannot_hold_is_refused_not_mangled() {
    let store = shared_store().await;
    let tenant = tenant();
    let mut nul_in_name = record(&tenant, 1);
    nul_in_name.name = "a\0b".into();
    let mut nul_in_metadata = record(&tenant, 2);
    nul_in_metadata
        .metadata
        .insert("nul".into(), "a\u{0}b".into());
    for refused in [&nul_in_name, &nul_in_metadata] {
        let result = store.insert(refused).await;
        assert!(
            matches!(result, Err(StoreError::Backend { .. })),
            "{result:?}"
        );
        assert_eq!(store.get(&refused.id).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn a_batch_of_a_thousand_uses_is_applied_whole() {
    let store = shared_store().await;
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

/// Instances flushing overlapping batches of every size at once, as a fleet does: the
/// batches lock their rows in one order, so none deadlocks (PostgreSQL would abort
/// one with an error after `deadlock_timeout`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn overlapping_batches_of_any_size_never_deadlock() {
    let store = shared_store().await;
    let tenant = tenant();
    let records: Vec<_> = (0..300).map(|i| record(&tenant, i)).collect();
    for record in &records {
        store.insert(record).await.unwrap();
    }
    // 8 instances, 10 flushes each: from 2 ids to all 300, in id order for some
    // instances and the reverse for others.
    let batches: Vec<Vec<Vec<(KeyId, Timestamp)>>> = (0..8_usize)
        .map(|task| {
            (0..10_usize)
                .map(|round| {
                    let size = 2 + (task * 37 + round * 53) % 299;
                    let at = Timestamp::from_unix_micros((round * 10 + task) as i64);
                    let mut batch: Vec<_> = records[..size].iter().map(|r| (r.id, at)).collect();
                    if task % 2 == 1 {
                        batch.reverse();
                    }
                    batch
                })
                .collect()
        })
        .collect();
    let mut latest = std::collections::HashMap::new();
    for &(id, at) in batches.iter().flatten().flatten() {
        let entry = latest.entry(id).or_insert(at);
        *entry = (*entry).max(at);
    }
    let tasks: Vec<_> = batches
        .into_iter()
        .map(|flushes| {
            let store = store.clone();
            tokio::spawn(async move {
                for batch in flushes {
                    store.record_last_used(&batch).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no batch failed");
    }
    for record in store.list_by_tenant(&tenant).await.unwrap() {
        assert_eq!(record.last_used_at, latest.get(&record.id).copied());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn migrating_again_changes_nothing() {
    let schema = Schema::new().await;
    let store = schema.store().await;
    store.migrate().await.unwrap();
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
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(
        sqlx_table, None,
        "sqlx's own migrations table is left alone"
    );
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn instances_migrating_a_new_database_at_once_take_turns() {
    let schema = Schema::new().await;
    // Separate pools, as separate processes would have.
    let mut stores = Vec::new();
    for _ in 0..6 {
        stores.push(schema.store().await);
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
    conformance::every_field_round_trips(stores[0].clone()).await;
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn a_migration_changed_after_it_was_applied_is_refused() {
    let schema = Schema::new().await;
    let store = schema.store().await;
    store.migrate().await.unwrap();
    store
        .pool()
        .execute("UPDATE portcullis_api_keys_migrations SET checksum = '\\x00' WHERE version = 1")
        .await
        .unwrap();
    let error = store.migrate().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("migration 1 (create api keys) of the API key store differs"),
        "{error}"
    );
    schema.drop().await;
}

/// Ids list in byte order (`B` before `a`) even in a database whose default collation
/// sorts linguistically (`a` before `B`). The test database is created once, with
/// ICU's `en-US` collation, and kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn byte_order_holds_in_a_database_with_a_linguistic_collation() {
    let admin = postgres_pool().await;
    const DATABASE: &str = "portcullis_api_keys_test_icu";
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE)
            .fetch_one(&admin)
            .await
            .unwrap();
    if !exists {
        let created = admin
            .execute(
                format!(
                    "CREATE DATABASE {DATABASE} TEMPLATE template0 LOCALE_PROVIDER icu \
                     ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                )
                .as_str(),
            )
            .await;
        // Another process may have created it meanwhile.
        if let Err(error) = created {
            let code = error.as_database_error().and_then(|e| e.code());
            assert!(
                matches!(code.as_deref(), Some("42P04" | "23505")),
                "{error}"
            );
        }
    }
    let url = support::database_url();
    let options = url.parse::<PgConnectOptions>().unwrap().database(DATABASE);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    let linguistic: bool = sqlx::query_scalar("SELECT 'a' < 'B'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        linguistic,
        "the database's default collation is not linguistic"
    );
    let store = PostgresKeyStore::new(pool);
    store.migrate().await.unwrap();
    conformance::lists_are_per_tenant_and_ordered(store.clone()).await;
    store.pool().close().await;
}
