//! The Redis store on the real server at `REDIS_URL`: the shared conformance suite
//! (one prefix for every check, a fresh prefix per check), and what is Redis's own:
//! the documented key layout, one round trip per call, scripts reloaded after a
//! flush, malformed records, times beyond 2^53, big batches.
//!
//! Every test is `#[ignore = "needs REDIS_URL"]`: run them with `-- --include-ignored`.
//! Then `REDIS_URL` unset, or set but unreachable, fails them.
#![cfg(all(feature = "redis", feature = "conformance"))]

mod support;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis_api_keys::id::KeyId;
use portcullis_api_keys::record::KeyUpdate;
use portcullis_api_keys::store::redis::RedisKeyStore;
use portcullis_api_keys::store::{KeyStore, StoreError, conformance};
use portcullis_api_keys::timestamp::Timestamp;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{AsyncCommands, Cmd, Pipeline, RedisFuture, Value};
use support::{record, redis_connection, tenant, unique_name};

/// Tests that count round trips or flush the script cache run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A store on `REDIS_URL` under a prefix no other test or run uses.
async fn fresh_store() -> (RedisKeyStore, ConnectionManager) {
    let connection = redis_connection().await;
    let store = RedisKeyStore::with_connection(connection.clone())
        .prefix(format!("portcullis-test:{}", unique_name("ak")));
    (store, connection)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn one_prefix_for_every_check_conforms() {
    let (store, _) = fresh_store().await;
    conformance::run(async || store.clone()).await;
    // And again over what the first run left.
    conformance::run(async || store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn a_fresh_prefix_per_check_conforms() {
    let (store, _) = fresh_store().await;
    conformance::run(async || {
        store
            .clone()
            .prefix(format!("portcullis-test:{}", unique_name("ak")))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn keys_follow_the_documented_layout() {
    let (store, mut redis) = fresh_store().await;
    let tenant = tenant();
    let mut stored = record(&tenant, -7);
    stored.plan = Some("pro".into());
    stored.last_used_at = Some(Timestamp::from_unix_micros(3));
    store.insert(&stored).await.unwrap();

    let prefix = store.key_prefix();
    let record_key = format!("{prefix}:key:{}", stored.id);
    let hash_key = format!("{prefix}:hash:{}", stored.hash);
    let tenant_key = format!("{prefix}:tenant:{tenant}");
    assert_eq!(store.record_key(&stored.id), record_key);
    assert_eq!(store.hash_key(&stored.hash), hash_key);
    assert_eq!(store.tenant_key(&tenant), tenant_key);

    let fields: std::collections::BTreeMap<String, String> =
        redis.hgetall(&record_key).await.unwrap();
    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "created_at",
            "hash",
            "id",
            "last_used_at",
            "masked",
            "metadata",
            "name",
            "plan",
            "scopes",
            "tenant"
        ],
        "absent options are absent fields"
    );
    assert_eq!(fields["created_at"], "-7");
    assert_eq!(fields["hash"], stored.hash.to_string());
    assert_eq!(fields["metadata"], "{}");
    let id: String = redis.get(&hash_key).await.unwrap();
    assert_eq!(id, stored.id.as_str());
    let members: Vec<(String, f64)> = redis.zrange_withscores(&tenant_key, 0, -1).await.unwrap();
    assert_eq!(
        members,
        [(format!("7ffffffffffffff9:{}", stored.id), -7.0)],
        "created_at as score, and in the member in order-preserving hex"
    );
    let all: Vec<String> = redis.keys(format!("{prefix}:*")).await.unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
}

/// Counts the round trips a store makes over the connection it wraps.
#[derive(Clone)]
struct Counting {
    inner: ConnectionManager,
    trips: Arc<AtomicUsize>,
}

impl ConnectionLike for Counting {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.trips.fetch_add(1, Ordering::SeqCst);
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.trips.fetch_add(1, Ordering::SeqCst);
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// The value of `call` and the round trips it took.
async fn counted<T>(trips: &AtomicUsize, call: impl Future<Output = T>) -> (T, usize) {
    let before = trips.load(Ordering::SeqCst);
    let value = call.await;
    (value, trips.load(Ordering::SeqCst) - before)
}

/// Every call, whatever its size, is one round trip once its script is loaded; after
/// a `SCRIPT FLUSH` the next call costs three (`EVALSHA`, `SCRIPT LOAD`, `EVALSHA`)
/// and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn every_call_is_one_round_trip() {
    let (plain, mut redis) = fresh_store().await;
    let _turn = ONE_AT_A_TIME.lock().await;
    let trips = Arc::new(AtomicUsize::new(0));
    let store = RedisKeyStore::with_connection(Counting {
        inner: redis.clone(),
        trips: trips.clone(),
    })
    .prefix(plain.key_prefix());
    let tenant = tenant();
    let records: Vec<_> = (0..50).map(|i| record(&tenant, i)).collect();
    let uses: Vec<_> = records
        .iter()
        .map(|r| (r.id, Timestamp::from_unix_micros(9)))
        .collect();
    let update = KeyUpdate::new().name("renamed").expires_at(None);
    let mut duplicate = record(&tenant, 0);
    duplicate.hash = records[0].hash;

    // Every call twice: the first may load its script.
    for round in 0..2 {
        let one = |what: &str, trips: usize| {
            if round == 1 {
                assert_eq!(trips, 1, "{what}");
            }
        };
        let (inserted, n) = counted(&trips, store.insert(&records[round])).await;
        inserted.unwrap();
        one("insert", n);
        let (refused, n) = counted(&trips, store.insert(&duplicate)).await;
        assert!(matches!(refused, Err(StoreError::DuplicateHash)));
        one("a refused insert", n);
        let (found, n) = counted(&trips, store.get_by_hash(&records[0].hash)).await;
        assert!(found.unwrap().is_some());
        one("get_by_hash", n);
        let (found, n) = counted(&trips, store.get(&records[0].id)).await;
        assert!(found.unwrap().is_some());
        one("get", n);
        let (listed, n) = counted(&trips, store.list_by_tenant(&tenant)).await;
        assert_eq!(listed.unwrap().len(), round + 1);
        one("list_by_tenant", n);
        let (updated, n) = counted(&trips, store.update(&records[0].id, &update)).await;
        assert!(updated.unwrap().is_some());
        one("update", n);
        let at = Timestamp::from_unix_micros(5);
        let (revoked, n) = counted(&trips, store.revoke(&records[0].id, at)).await;
        assert!(revoked.unwrap().is_some());
        one("revoke", n);
        let (recorded, n) = counted(&trips, store.record_last_used(&uses)).await;
        recorded.unwrap();
        one("record_last_used of 50 uses", n);
        let (recorded, n) = counted(&trips, store.record_last_used(&[])).await;
        recorded.unwrap();
        assert_eq!(n, 0, "an empty batch asks nothing");
    }

    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await
        .unwrap();
    let at = Timestamp::from_unix_micros(4);
    let (revoked, n) = counted(&trips, store.revoke(&records[1].id, at)).await;
    assert_eq!(revoked.unwrap().unwrap().revoked_at, Some(at));
    assert_eq!(n, 3, "after SCRIPT FLUSH");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn records_that_are_not_valid_are_malformed_errors() {
    let (store, mut redis) = fresh_store().await;
    let cases: [(&str, Option<&str>, &str); 7] = [
        ("hash", Some("md5:xyz"), "field `hash`"),
        ("scopes", Some("read \"all\""), "field `scopes`"),
        ("metadata", Some("[1, 2]"), "field `metadata`"),
        ("created_at", Some("soon"), "field `created_at`"),
        ("created_at", Some("007"), "not canonical"),
        ("tenant", None, "field `tenant` of `key_"),
        ("id", Some("key_1"), "field `id` of `key_1`"),
    ];
    for (field, value, reason) in cases {
        let tenant = tenant();
        let stored = record(&tenant, 1);
        store.insert(&stored).await.unwrap();
        let key = store.record_key(&stored.id);
        let _: () = match value {
            Some(value) => redis.hset(&key, field, value).await.unwrap(),
            None => redis.hdel(&key, field).await.unwrap(),
        };
        let results = [
            store.get(&stored.id).await,
            store.get_by_hash(&stored.hash).await,
            store.list_by_tenant(&tenant).await.map(|mut all| all.pop()),
            store.revoke(&stored.id, Timestamp::UNIX_EPOCH).await,
            store.update(&stored.id, &KeyUpdate::new().name("x")).await,
        ];
        for result in results {
            match result {
                Err(StoreError::Malformed { source }) => {
                    let message = source.to_string();
                    assert!(message.contains(reason), "{field}: {message}");
                }
                other => panic!("{field}: {other:?} is not Malformed"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn a_hash_index_pointing_at_another_key_is_never_an_answer() {
    let (store, mut redis) = fresh_store().await;
    let tenant = tenant();
    let (a, b) = (record(&tenant, 1), record(&tenant, 2));
    store.insert(&a).await.unwrap();
    store.insert(&b).await.unwrap();
    let _: () = redis
        .set(store.hash_key(&a.hash), b.id.as_str())
        .await
        .unwrap();
    let result = store.get_by_hash(&a.hash).await;
    assert!(
        matches!(result, Err(StoreError::Malformed { .. })),
        "{result:?}"
    );
}

/// Redis scripts compute in doubles, exact to 2^53 only: times beyond it that differ
/// by one microsecond still compare right, and read back exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn times_beyond_two_to_the_53_compare_exactly() {
    let (store, _) = fresh_store().await;
    let tenant = tenant();
    let big = (1_i64 << 60) + 1;
    let at = Timestamp::from_unix_micros;
    let stored = record(&tenant, 0);
    store.insert(&stored).await.unwrap();

    // As doubles, big and big ± 1 are one number.
    assert_eq!(big as f64, (big + 1) as f64);
    let revoked = store
        .revoke(&stored.id, at(big + 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(big + 1)));
    let revoked = store.revoke(&stored.id, at(big)).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at(big)), "earlier by 1 µs");
    let revoked = store
        .revoke(&stored.id, at(big + 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(big)), "later by 1 µs");

    store
        .record_last_used(&[(stored.id, at(big))])
        .await
        .unwrap();
    store
        .record_last_used(&[(stored.id, at(big + 1)), (stored.id, at(big - 1))])
        .await
        .unwrap();
    let found = store.get(&stored.id).await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(at(big + 1)));
    store
        .record_last_used(&[(stored.id, at(big)), (stored.id, at(i64::MIN))])
        .await
        .unwrap();
    let found = store.get(&stored.id).await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(at(big + 1)), "never moves back");

    // Signs and lengths.
    let other = record(&tenant, 0);
    store.insert(&other).await.unwrap();
    for (time, expected) in [
        (-10, -10),
        (-9, -10),
        (-100, -100),
        (i64::MIN, i64::MIN),
        (0, i64::MIN),
    ] {
        let revoked = store.revoke(&other.id, at(time)).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(at(expected)), "revoke at {time}");
    }

    // Creation times that doubles cannot tell apart list in their exact order.
    let (mut early, mut late) = (record(&tenant, 0), record(&tenant, 0));
    early.created_at = at(big);
    late.created_at = at(big + 1);
    if early.id < late.id {
        std::mem::swap(&mut early.id, &mut late.id);
    }
    store.insert(&late).await.unwrap();
    store.insert(&early).await.unwrap();
    let listed = store.list_by_tenant(&tenant).await.unwrap();
    let ids: Vec<KeyId> = listed.iter().map(|r| r.id).collect();
    assert_eq!(ids[ids.len() - 2..], [early.id, late.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn a_batch_of_a_thousand_uses_is_applied_whole() {
    let (store, _) = fresh_store().await;
    let tenant = tenant();
    let records: Vec<_> = (0..1_000).map(|i| record(&tenant, i)).collect();
    for record in &records {
        store.insert(record).await.unwrap();
    }
    let at = Timestamp::from_unix_micros;
    let mut uses: Vec<(KeyId, Timestamp)> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let (early, late) = (at(1_000 + i as i64), at(5_000 + i as i64));
        if i % 2 == 0 {
            uses.extend([(record.id, early), (record.id, late)]);
        } else {
            uses.extend([(record.id, late), (record.id, early)]);
        }
    }
    let unknown: Vec<KeyId> = (0..10).map(|_| KeyId::generate()).collect();
    uses.extend(unknown.iter().map(|&id| (id, at(9_999))));
    store.record_last_used(&uses).await.unwrap();
    let listed = store.list_by_tenant(&tenant).await.unwrap();
    assert_eq!(listed.len(), 1_000);
    for (i, record) in listed.iter().enumerate() {
        assert_eq!(record.last_used_at, Some(at(5_000 + i as i64)), "{i}");
    }
    for id in unknown {
        assert_eq!(
            store.get(&id).await.unwrap(),
            None,
            "no record made for {id}"
        );
    }
}
