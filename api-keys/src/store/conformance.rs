//! The conformance suite every [`KeyStore`] must pass (feature `conformance`).
//!
//! It checks the semantics listed in the [store docs](super): exact round trips of
//! every field, unique ids and hashes, lookups of what is not there, per-tenant
//! ordered listing, updates, revocation and last-use times, and the same under
//! concurrent tasks.
//!
//! # Running it against a backend
//!
//! [`run`] takes an async factory and calls it once per check. Every check makes its
//! own random ids, hashes and tenants and looks only at those, so a factory may return
//! a fresh store each time (a new Redis key prefix, a new PostgreSQL schema) *or*
//! handles on one shared, already migrated database that holds other data, even the
//! leftovers of earlier runs: a SQL backend's test can connect once, migrate, and
//! return clones of its pool. Checks run one after another; some spawn Tokio tasks, so
//! run the suite in a multi-threaded runtime.
//!
//! ```
//! use portcullis_api_keys::store::{conformance, memory::MemoryKeyStore};
//!
//! # tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap().block_on(async {
//! // A fresh store per check.
//! conformance::run(async || MemoryKeyStore::new()).await;
//!
//! // One shared store for every check.
//! let shared = MemoryKeyStore::new();
//! conformance::run(async || shared.clone()).await;
//! # });
//! ```
//!
//! Each check is public too, to run or debug one alone.

use std::collections::HashMap;
use std::sync::Arc;

use rand::{Rng, RngCore};
use serde_json::json;

use super::{KeyStore, StoreError};
use crate::hash::{DIGEST_LEN, HashAlgorithm, KeyHash};
use crate::id::{KeyId, TenantId};
use crate::key::MaskedKey;
use crate::record::{KeyRecord, KeyUpdate, Metadata};
use crate::scopes::Scopes;
use crate::timestamp::Timestamp;

/// The time the suite's records are created around: 2023-11-14T22:13:20.123456Z, a
/// time with every microsecond digit set.
///
/// ```
/// use portcullis_api_keys::store::conformance::T0;
/// assert_eq!(T0.as_unix_micros() % 1_000_000, 123_456);
/// ```
pub const T0: Timestamp = Timestamp::from_unix_micros(1_700_000_000_123_456);

/// Tasks in the concurrent checks.
const TASKS: usize = 16;

/// Runs every check of the suite, each against a store from `make_store`. Panics,
/// naming the check, on the first difference.
pub async fn run<S: KeyStore>(mut make_store: impl AsyncFnMut() -> S) {
    every_field_round_trips(make_store().await).await;
    duplicates_are_rejected(make_store().await).await;
    unknown_keys_are_not_found(make_store().await).await;
    lists_are_per_tenant_and_ordered(make_store().await).await;
    updates_are_visible(make_store().await).await;
    revocation_keeps_the_earliest_time(make_store().await).await;
    last_use_only_moves_forward(make_store().await).await;
    concurrent_inserts_and_reads(make_store().await).await;
    concurrent_duplicates_admit_one(make_store().await).await;
    concurrent_revocations_keep_the_earliest_time(make_store().await).await;
    concurrent_last_uses_keep_the_latest(make_store().await).await;
}

/// Every field of a fully set record, a minimal record and one with extreme values
/// reads back exactly through `get`, `get_by_hash` and `list_by_tenant`.
pub async fn every_field_round_trips<S: KeyStore>(store: S) {
    let tenant = tenant();
    let full = full_record(&tenant);
    let minimal = record(&tenant, after(1));
    let mut extreme = record(&tenant, Timestamp::UNIX_EPOCH);
    extreme.name = "x".repeat(1_000);
    extreme.hash = hash(HashAlgorithm::HmacSha256 {
        pepper_version: u32::MAX,
    });
    // 9999-12-31T23:59:59.999999Z, the last instant SQL dates commonly hold.
    extreme.expires_at = Some(Timestamp::from_unix_micros(253_402_300_799_999_999));
    extreme.revoked_at = Some(Timestamp::from_unix_micros(1));
    extreme.last_used_at = Some(Timestamp::from_unix_micros(-1));
    extreme.masked = MaskedKey::new("imported key ✓");

    for (what, record) in [
        ("full", &full),
        ("minimal", &minimal),
        ("extreme", &extreme),
    ] {
        ok(store.insert(record).await, "round trip: insert");
        let by_id = ok(store.get(&record.id).await, "round trip: get");
        assert_eq!(
            by_id.as_ref(),
            Some(record),
            "round trip: get, {what} record"
        );
        let by_hash = ok(
            store.get_by_hash(&record.hash).await,
            "round trip: get_by_hash",
        );
        assert_eq!(
            by_hash.as_ref(),
            Some(record),
            "round trip: get_by_hash, {what} record"
        );
    }
    let listed = ok(store.list_by_tenant(&tenant).await, "round trip: list");
    assert_eq!(
        listed,
        [extreme, full, minimal],
        "round trip: list_by_tenant"
    );
}

/// A second record with the hash of a stored one is refused with `DuplicateHash`, one
/// with its id with `DuplicateId`, and neither changes anything; the same digest under
/// another algorithm is another hash.
pub async fn duplicates_are_rejected<S: KeyStore>(store: S) {
    let tenant = tenant();
    let original = full_record(&tenant);
    ok(store.insert(&original).await, "duplicates: insert");

    let mut same_hash = record(&tenant, T0);
    same_hash.hash = original.hash;
    same_hash.name = "impostor".into();
    match store.insert(&same_hash).await {
        Err(StoreError::DuplicateHash) => {}
        other => panic!("duplicates: same hash gave {other:?}, not DuplicateHash"),
    }

    let mut same_id = record(&tenant, T0);
    same_id.id = original.id;
    match store.insert(&same_id).await {
        Err(StoreError::DuplicateId { id }) if id == original.id => {}
        other => panic!("duplicates: same id gave {other:?}, not DuplicateId"),
    }
    let found = ok(
        store.get_by_hash(&same_id.hash).await,
        "duplicates: get_by_hash",
    );
    assert_eq!(found, None, "duplicates: a refused record was stored");
    let found = ok(store.get(&original.id).await, "duplicates: get");
    assert_eq!(
        found.as_ref(),
        Some(&original),
        "duplicates: original changed"
    );
    let listed = ok(store.list_by_tenant(&tenant).await, "duplicates: list");
    assert_eq!(
        listed,
        std::slice::from_ref(&original),
        "duplicates: list after refusals"
    );

    let mut other_algorithm = record(&tenant, T0);
    other_algorithm.hash = KeyHash::from_digest(
        HashAlgorithm::HmacSha256 { pepper_version: 1 },
        original.hash.digest(),
    )
    .expect("32 bytes");
    ok(
        store.insert(&other_algorithm).await,
        "duplicates: same digest under another algorithm refused",
    );
    let found = ok(
        store.get_by_hash(&other_algorithm.hash).await,
        "duplicates: get_by_hash",
    );
    assert_eq!(
        found,
        Some(other_algorithm),
        "duplicates: algorithms confused"
    );
    let found = ok(
        store.get_by_hash(&original.hash).await,
        "duplicates: get_by_hash",
    );
    assert_eq!(found, Some(original), "duplicates: algorithms confused");
}

/// Lookups of a hash, id or tenant that was never stored find nothing, and changes to
/// an unknown id change nothing.
pub async fn unknown_keys_are_not_found<S: KeyStore>(store: S) {
    let stored = record(&tenant(), T0);
    ok(store.insert(&stored).await, "unknown: insert");

    let unknown_hash = hash(HashAlgorithm::Sha256);
    let found = ok(
        store.get_by_hash(&unknown_hash).await,
        "unknown: get_by_hash",
    );
    assert_eq!(found, None, "unknown: get_by_hash found a record");
    let sibling = KeyHash::from_digest(
        HashAlgorithm::HmacSha256 { pepper_version: 0 },
        stored.hash.digest(),
    )
    .expect("32 bytes");
    let found = ok(store.get_by_hash(&sibling).await, "unknown: get_by_hash");
    assert_eq!(
        found, None,
        "unknown: digest matched under another algorithm"
    );

    let unknown_id = KeyId::generate();
    let found = ok(store.get(&unknown_id).await, "unknown: get");
    assert_eq!(found, None, "unknown: get found a record");
    let listed = ok(store.list_by_tenant(&tenant()).await, "unknown: list");
    assert_eq!(listed, [], "unknown: list of a new tenant");
    let update = KeyUpdate::new().name("ghost");
    let updated = ok(store.update(&unknown_id, &update).await, "unknown: update");
    assert_eq!(updated, None, "unknown: update found a record");
    let revoked = ok(store.revoke(&unknown_id, T0).await, "unknown: revoke");
    assert_eq!(revoked, None, "unknown: revoke found a record");
    ok(
        store.record_last_used(&[(unknown_id, T0)]).await,
        "unknown: record_last_used of an unknown id",
    );
    let found = ok(store.get(&unknown_id).await, "unknown: get");
    assert_eq!(found, None, "unknown: a change created a record");
    let found = ok(store.get(&stored.id).await, "unknown: get");
    assert_eq!(found, Some(stored), "unknown: another record changed");
}

/// A tenant's list holds its records and no other's, ordered by creation time then by
/// id in byte order (`B` before `a`), whatever the order of insertion.
pub async fn lists_are_per_tenant_and_ordered<S: KeyStore>(store: S) {
    let (a, b) = (tenant(), tenant());
    let mut tie_lower = record(&a, after(2));
    tie_lower.id = id_starting_with('a');
    let mut tie_upper = record(&a, after(2));
    tie_upper.id = id_starting_with('B');
    let mut tie_digit = record(&a, after(2));
    tie_digit.id = id_starting_with('0');
    let a_records = [
        record(&a, after(3)),
        tie_lower,
        record(&a, after(1)),
        tie_upper,
        full_record(&a),
        tie_digit,
        record(&a, after(-1)),
    ];
    let b_records = [record(&b, after(2)), record(&b, T0)];
    for record in a_records.iter().chain(&b_records) {
        ok(store.insert(record).await, "list: insert");
    }

    let mut expected = a_records.to_vec();
    expected.sort_by(|x, y| (x.created_at, x.id.as_str()).cmp(&(y.created_at, y.id.as_str())));
    let listed = ok(store.list_by_tenant(&a).await, "list: tenant a");
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        expected.iter().map(|r| r.id).collect::<Vec<_>>(),
        "list: order (created_at, then id in byte order)"
    );
    assert_eq!(listed, expected, "list: records");

    let listed = ok(store.list_by_tenant(&b).await, "list: tenant b");
    assert_eq!(
        listed,
        [b_records[1].clone(), b_records[0].clone()],
        "list: tenant b"
    );
}

/// An update changes exactly the fields it sets, returns the record as it now is, and
/// every lookup sees the change; other records do not change.
pub async fn updates_are_visible<S: KeyStore>(store: S) {
    let tenant = tenant();
    let mut model = full_record(&tenant);
    let bystander = full_record(&tenant);
    ok(store.insert(&model).await, "update: insert");
    ok(store.insert(&bystander).await, "update: insert");

    let mut metadata = Metadata::new();
    metadata.insert("replaced".into(), json!({ "all": [true, false] }));
    let updates = [
        ("nothing", KeyUpdate::new()),
        ("name", KeyUpdate::new().name("renamed ✓")),
        (
            "scopes",
            KeyUpdate::new().scopes(Scopes::new(["z:write", "a:read"]).expect("scopes")),
        ),
        ("metadata", KeyUpdate::new().metadata(metadata)),
        ("expiry", KeyUpdate::new().expires_at(Some(after(7)))),
        ("no expiry", KeyUpdate::new().expires_at(None)),
        ("plan", KeyUpdate::new().plan(Some("enterprise ✓"))),
        ("no plan", KeyUpdate::new().plan(None::<String>)),
        (
            "everything",
            KeyUpdate::new()
                .name("")
                .scopes(Scopes::default())
                .metadata(Metadata::new())
                .expires_at(Some(after(8)))
                .plan(Some("pro")),
        ),
    ];
    for (what, update) in updates {
        update.apply_to(&mut model);
        let updated = ok(store.update(&model.id, &update).await, "update: update");
        assert_eq!(
            updated.as_ref(),
            Some(&model),
            "update: returned record, {what}"
        );
        let found = ok(store.get(&model.id).await, "update: get");
        assert_eq!(found.as_ref(), Some(&model), "update: get after {what}");
        let found = ok(store.get_by_hash(&model.hash).await, "update: get_by_hash");
        assert_eq!(
            found.as_ref(),
            Some(&model),
            "update: get_by_hash after {what}"
        );
    }

    // A revoked key can still be renamed; the revocation stays.
    model.revoked_at = Some(T0);
    let revoked = ok(store.revoke(&model.id, T0).await, "update: revoke");
    assert_eq!(revoked.as_ref(), Some(&model), "update: revoke");
    let update = KeyUpdate::new().name("revoked");
    update.apply_to(&mut model);
    let updated = ok(store.update(&model.id, &update).await, "update: update");
    assert_eq!(updated, Some(model.clone()), "update: revoked record");

    let listed = ok(store.list_by_tenant(&tenant).await, "update: list");
    let mut expected = vec![model, bystander];
    expected.sort_by(|x, y| (x.created_at, x.id.as_str()).cmp(&(y.created_at, y.id.as_str())));
    assert_eq!(listed, expected, "update: list after updates");
}

/// Revocation sets `revoked_at`, keeps the earliest time it is given (a later call
/// never postpones it, an earlier one brings it forward), and every lookup sees it;
/// other records do not change.
pub async fn revocation_keeps_the_earliest_time<S: KeyStore>(store: S) {
    let tenant = tenant();
    let mut model = record(&tenant, T0);
    let bystander = record(&tenant, after(1));
    ok(store.insert(&model).await, "revoke: insert");
    ok(store.insert(&bystander).await, "revoke: insert");

    for (at, kept) in [
        (after(20), after(20)),
        (after(30), after(20)),
        (after(10), after(10)),
        (after(10), after(10)),
    ] {
        model.revoked_at = Some(kept);
        let revoked = ok(store.revoke(&model.id, at).await, "revoke: revoke");
        assert_eq!(
            revoked.as_ref(),
            Some(&model),
            "revoke: returned record, at {at:?}"
        );
        let found = ok(store.get_by_hash(&model.hash).await, "revoke: get_by_hash");
        assert_eq!(
            found.as_ref(),
            Some(&model),
            "revoke: get_by_hash, at {at:?}"
        );
    }
    let listed = ok(store.list_by_tenant(&tenant).await, "revoke: list");
    assert_eq!(listed, [model, bystander], "revoke: list");
}

/// A batch of uses moves each `last_used_at` to the latest of its current value and
/// the batch's times for it; an earlier time never overwrites a later one, unknown ids
/// are skipped, an empty batch is fine, and no other field changes.
pub async fn last_use_only_moves_forward<S: KeyStore>(store: S) {
    let tenant = tenant();
    let mut a = full_record(&tenant);
    a.last_used_at = None;
    let mut b = record(&tenant, T0);
    let mut c = record(&tenant, T0);
    c.last_used_at = Some(after(100));
    let untouched = record(&tenant, T0);
    for record in [&a, &b, &c, &untouched] {
        ok(store.insert(record).await, "last use: insert");
    }

    // Each batch, and the last use of a, b and c after it.
    type Step<'a> = (&'a [(KeyId, Timestamp)], [Option<Timestamp>; 3]);
    let batches: [Step<'_>; 5] = [
        (&[], [None, None, Some(after(100))]),
        (
            &[
                (a.id, after(5)),
                (b.id, after(7)),
                (a.id, after(3)),
                (KeyId::generate(), after(9)),
                (c.id, after(50)),
                (a.id, after(4)),
            ],
            [Some(after(5)), Some(after(7)), Some(after(100))],
        ),
        (
            &[(a.id, after(4)), (b.id, after(7))],
            [Some(after(5)), Some(after(7)), Some(after(100))],
        ),
        (
            &[(a.id, after(6))],
            [Some(after(6)), Some(after(7)), Some(after(100))],
        ),
        (
            &[(c.id, after(101)), (c.id, after(99))],
            [Some(after(6)), Some(after(7)), Some(after(101))],
        ),
    ];
    for (step, (uses, expected)) in batches.into_iter().enumerate() {
        ok(
            store.record_last_used(uses).await,
            "last use: record_last_used",
        );
        for (record, expected) in [&mut a, &mut b, &mut c].into_iter().zip(expected) {
            record.last_used_at = expected;
            let found = ok(store.get(&record.id).await, "last use: get");
            assert_eq!(found.as_ref(), Some(&*record), "last use: batch {step}");
        }
    }
    let found = ok(store.get(&untouched.id).await, "last use: get");
    assert_eq!(
        found,
        Some(untouched),
        "last use: a record not in any batch changed"
    );
}

/// 16 tasks insert 16 records each for one tenant and read each back by hash and id
/// while the others write; the tenant's list then holds all 256, in order.
pub async fn concurrent_inserts_and_reads<S: KeyStore>(store: S) {
    let store = Arc::new(store);
    let tenant = tenant();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, tenant) = (store.clone(), tenant.clone());
            tokio::spawn(async move {
                let mut inserted = Vec::new();
                for i in 0..16 {
                    let mut record = record(&tenant, after(((i * TASKS + task) % 37) as i64));
                    record.name = format!("task {task} key {i}");
                    ok(store.insert(&record).await, "concurrent: insert");
                    let found = ok(
                        store.get_by_hash(&record.hash).await,
                        "concurrent: get_by_hash",
                    );
                    assert_eq!(found.as_ref(), Some(&record), "concurrent: get_by_hash");
                    let found = ok(store.get(&record.id).await, "concurrent: get");
                    assert_eq!(found.as_ref(), Some(&record), "concurrent: get");
                    inserted.push(record);
                }
                inserted
            })
        })
        .collect();
    let mut expected = Vec::new();
    for task in tasks {
        expected.extend(task.await.expect("conformance task panicked"));
    }
    expected.sort_by(|x, y| (x.created_at, x.id.as_str()).cmp(&(y.created_at, y.id.as_str())));
    let listed = ok(store.list_by_tenant(&tenant).await, "concurrent: list");
    assert_eq!(listed.len(), TASKS * 16, "concurrent: listed count");
    assert_eq!(listed, expected, "concurrent: list");
}

/// 16 tasks insert different records with one hash at once: exactly one succeeds, the
/// others get `DuplicateHash`, and the hash finds the winner.
pub async fn concurrent_duplicates_admit_one<S: KeyStore>(store: S) {
    let store = Arc::new(store);
    let tenant = tenant();
    let shared_hash = hash(HashAlgorithm::Sha256);
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, tenant) = (store.clone(), tenant.clone());
            tokio::spawn(async move {
                let mut record = record(&tenant, T0);
                record.hash = shared_hash;
                match store.insert(&record).await {
                    Ok(()) => Some(record),
                    Err(StoreError::DuplicateHash) => None,
                    Err(error) => {
                        panic!("conformance: concurrent duplicate insert failed: {error}")
                    }
                }
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.expect("conformance task panicked"));
    }
    assert_eq!(winners.len(), 1, "concurrent duplicates: inserts admitted");
    let found = ok(
        store.get_by_hash(&shared_hash).await,
        "concurrent duplicates: get_by_hash",
    );
    assert_eq!(
        found.as_ref(),
        winners.first(),
        "concurrent duplicates: winner"
    );
    let listed = ok(
        store.list_by_tenant(&tenant).await,
        "concurrent duplicates: list",
    );
    assert_eq!(listed, winners, "concurrent duplicates: list");
}

/// 16 tasks revoke one key at different times at once: the earliest time stays.
pub async fn concurrent_revocations_keep_the_earliest_time<S: KeyStore>(store: S) {
    let store = Arc::new(store);
    let record = record(&tenant(), T0);
    ok(store.insert(&record).await, "concurrent revoke: insert");
    let times: Vec<Timestamp> = (0..TASKS)
        .map(|_| after(rand::rng().random_range(1..1_000_000)))
        .collect();
    let tasks: Vec<_> = times
        .iter()
        .map(|&at| {
            let (store, id) = (store.clone(), record.id);
            tokio::spawn(async move {
                let revoked = ok(store.revoke(&id, at).await, "concurrent revoke: revoke");
                let revoked_at = revoked.and_then(|record| record.revoked_at);
                assert!(
                    revoked_at.is_some_and(|kept| kept <= at),
                    "concurrent revoke: {revoked_at:?} is later than {at:?}"
                );
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("conformance task panicked");
    }
    let found = ok(store.get(&record.id).await, "concurrent revoke: get");
    assert_eq!(
        found.and_then(|record| record.revoked_at),
        times.iter().min().copied(),
        "concurrent revoke: revoked_at"
    );
}

/// 16 tasks record batches of uses of the same three keys at once, in random order:
/// each key ends with the latest time any batch gave it.
pub async fn concurrent_last_uses_keep_the_latest<S: KeyStore>(store: S) {
    let store = Arc::new(store);
    let tenant = tenant();
    let records: Vec<KeyRecord> = (0..3).map(|_| record(&tenant, T0)).collect();
    for record in &records {
        ok(store.insert(record).await, "concurrent last use: insert");
    }
    let ids: Vec<KeyId> = records.iter().map(|record| record.id).collect();
    let batches: Vec<Vec<(KeyId, Timestamp)>> = (0..TASKS * 8)
        .map(|_| {
            let mut rng = rand::rng();
            (0..rng.random_range(1..6))
                .map(|_| {
                    (
                        ids[rng.random_range(0..ids.len())],
                        after(rng.random_range(0..1_000_000)),
                    )
                })
                .collect()
        })
        .collect();
    let mut latest: HashMap<KeyId, Timestamp> = HashMap::new();
    for &(id, at) in batches.iter().flatten() {
        let entry = latest.entry(id).or_insert(at);
        *entry = (*entry).max(at);
    }
    let batches = Arc::new(batches);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, batches) = (store.clone(), batches.clone());
            tokio::spawn(async move {
                for batch in batches.iter().skip(task).step_by(TASKS) {
                    ok(
                        store.record_last_used(batch).await,
                        "concurrent last use: record",
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("conformance task panicked");
    }
    for mut record in records {
        record.last_used_at = latest.get(&record.id).copied();
        let found = ok(store.get(&record.id).await, "concurrent last use: get");
        assert_eq!(found, Some(record), "concurrent last use: last_used_at");
    }
}

/// Microseconds in a day.
const DAY: i64 = 86_400_000_000;

/// `micros` microseconds after [`T0`].
fn after(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(T0.as_unix_micros() + micros)
}

/// The value of a store call, or a panic naming the check.
fn ok<T>(result: Result<T, StoreError>, what: &str) -> T {
    result.unwrap_or_else(|error| panic!("conformance: {what} failed: {error}"))
}

/// A tenant no other check or run uses.
fn tenant() -> TenantId {
    TenantId::new(format!("conformance-{}", KeyId::generate()))
}

/// A hash no other record has.
fn hash(algorithm: HashAlgorithm) -> KeyHash {
    let mut digest = [0u8; DIGEST_LEN];
    rand::rng().fill_bytes(&mut digest);
    KeyHash::from_digest(algorithm, &digest).expect("32 bytes")
}

/// A random id whose first character after `key_` is `first`.
fn id_starting_with(first: char) -> KeyId {
    let mut text = KeyId::generate().to_string();
    text.replace_range(4..5, first.encode_utf8(&mut [0; 4]));
    text.parse().expect("a base62 character")
}

/// A minimal record: every optional field empty.
fn record(tenant: &TenantId, created_at: Timestamp) -> KeyRecord {
    KeyRecord::new(
        KeyId::generate(),
        tenant.clone(),
        hash(HashAlgorithm::Sha256),
        MaskedKey::new("sk_test_…Zz09"),
        created_at,
    )
}

/// A record with every field set, to values that trip lossy encodings: non-ASCII and
/// quotes in text, integers above 2^53, nested JSON, microseconds.
fn full_record(tenant: &TenantId) -> KeyRecord {
    let mut record = KeyRecord::new(
        KeyId::generate(),
        tenant.clone(),
        hash(HashAlgorithm::HmacSha256 { pepper_version: 7 }),
        MaskedKey::new("sk_live_…a1B2"),
        T0,
    );
    record.name = "Déploiements « CI » 🚀 'quoted' \"double\" \\ back".into();
    record.scopes = Scopes::new([
        "invoices:write",
        "invoices:read",
        "https://api.example.com/admin",
        "invoices:read",
        "A!#[]~",
    ])
    .expect("valid scopes");
    record.plan = Some("enterprise-2024".into());
    record.metadata = match json!({
        "team": "billing",
        "nested": { "list": [1, -2, 3.5, "four", null, true, { "deep": [] }], "empty": {} },
        "big": 9_007_199_254_740_993_u64,
        "negative": -9_007_199_254_740_993_i64,
        "ratio": 0.25,
        "unicode": "ключ ✓ 🚀",
        "escapes": "line\nbreak \"quoted\" \\ tab\t",
        "flag": false,
        "nothing": null,
    }) {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    };
    record.expires_at = Some(after(90 * DAY + 1));
    record.revoked_at = Some(after(3_650 * DAY));
    record.last_used_at = Some(after(999_999));
    record
}
