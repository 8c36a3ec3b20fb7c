//! Batched `last_used_at`: uses are coalesced per key, written in few store calls,
//! kept (and bounded) when a write fails, flushed on shutdown, and recording never
//! waits on the store.
#![cfg(all(feature = "tokio", feature = "memory"))]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
use portcullis_api_keys::id::{KeyId, TenantId};
use portcullis_api_keys::invalidation::UsageRecorder;
use portcullis_api_keys::key::MaskedKey;
use portcullis_api_keys::last_used::{BatchConfig, LastUsedBatcher};
use portcullis_api_keys::record::{KeyRecord, KeyUpdate};
use portcullis_api_keys::store::{KeyStore, StoreError, memory::MemoryKeyStore};
use portcullis_api_keys::timestamp::Timestamp;

/// One `record_last_used` call's uses.
type Batch = Vec<(KeyId, Timestamp)>;

/// A memory store that counts `record_last_used` calls, keeps each batch, and can
/// be made to fail or hang them.
#[derive(Clone, Default)]
struct Watched {
    inner: MemoryKeyStore,
    batches: Arc<Mutex<Vec<Batch>>>,
    calls: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    hanging: Arc<AtomicBool>,
}

impl Watched {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn successful_batches(&self) -> Vec<Batch> {
        self.batches.lock().unwrap().clone()
    }
}

impl KeyStore for Watched {
    fn insert(&self, record: &KeyRecord) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.insert(record)
    }

    fn get_by_hash(
        &self,
        hash: &KeyHash,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        self.inner.get_by_hash(hash)
    }

    fn get(
        &self,
        id: &KeyId,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        self.inner.get(id)
    }

    fn list_by_tenant(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, StoreError>> + Send {
        self.inner.list_by_tenant(tenant)
    }

    fn update(
        &self,
        id: &KeyId,
        update: &KeyUpdate,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        self.inner.update(id, update)
    }

    fn revoke(
        &self,
        id: &KeyId,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        self.inner.revoke(id, at)
    }

    async fn record_last_used(&self, uses: &[(KeyId, Timestamp)]) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hanging.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::backend(std::io::Error::other(
                "connection reset",
            )));
        }
        self.batches.lock().unwrap().push(uses.to_vec());
        self.inner.record_last_used(uses).await
    }
}

/// `count` keys stored in `store`.
async fn keys(store: &Watched, count: u8) -> Vec<KeyId> {
    let mut ids = Vec::new();
    for n in 0..count {
        let record = KeyRecord::new(
            KeyId::generate(),
            TenantId::new("acme"),
            KeyHash::from_digest(HashAlgorithm::Sha256, &[n; 32]).unwrap(),
            MaskedKey::new("sk_live_…0000"),
            Timestamp::UNIX_EPOCH,
        );
        store.insert(&record).await.unwrap();
        ids.push(record.id);
    }
    ids
}

fn at(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(micros)
}

async fn last_used(store: &Watched, id: &KeyId) -> Option<Timestamp> {
    store.get(id).await.unwrap().unwrap().last_used_at
}

/// Lets the batcher's task run until `done`, moving paused time by 1 ms steps, for
/// a minute at most.
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..60_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out");
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_uses_of_a_hundred_keys_make_a_handful_of_writes() {
    let store = Watched::default();
    let ids = keys(&store, 100).await;
    let batcher = LastUsedBatcher::spawn(
        store.clone(),
        BatchConfig::new().interval(Duration::from_secs(1)),
    );

    // 10,000 requests over 5 seconds, each key used 100 times.
    let mut latest = HashMap::new();
    for n in 0..10_000i64 {
        let id = ids[(n * 37 % 100) as usize];
        let time = at(1_700_000_000_000_000 + n * 500);
        batcher.record_use(id, time);
        latest.insert(id, time);
        if n % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    batcher.shutdown().await.unwrap();

    let calls = store.calls();
    let written: usize = store.successful_batches().iter().map(Vec::len).sum();
    eprintln!("10,000 uses of 100 keys: {calls} record_last_used calls, {written} entries");
    assert!((2..=7).contains(&calls), "{calls} calls");
    assert!(written <= 100 * calls);
    for batch in store.successful_batches() {
        assert!(
            batch.windows(2).all(|w| w[0].0 < w[1].0),
            "one entry per id, sorted"
        );
    }
    for id in &ids {
        assert_eq!(last_used(&store, id).await, latest.get(id).copied());
    }
    assert_eq!(
        (
            batcher.pending(),
            batcher.dropped(),
            batcher.failed_flushes()
        ),
        (0, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn the_interval_flushes() {
    let store = Watched::default();
    let ids = keys(&store, 3).await;
    let batcher = LastUsedBatcher::spawn(
        store.clone(),
        BatchConfig::new().interval(Duration::from_secs(10)),
    );
    for id in &ids {
        batcher.record_use(*id, at(7));
    }
    tokio::time::sleep(Duration::from_millis(9_990)).await;
    assert_eq!(store.calls(), 0);
    until(|| store.calls() == 1).await;
    assert_eq!(store.successful_batches()[0].len(), 3);
    assert_eq!(last_used(&store, &ids[0]).await, Some(at(7)));

    // Nothing pending: no call.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(store.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn reaching_flush_at_flushes_before_the_interval() {
    let store = Watched::default();
    let ids = keys(&store, 25).await;
    let config = BatchConfig::new()
        .interval(Duration::from_secs(3600))
        .flush_at(10);
    let batcher = LastUsedBatcher::spawn(store.clone(), config);
    let started = tokio::time::Instant::now();
    for id in &ids[..9] {
        batcher.record_use(*id, at(1));
        batcher.record_use(*id, at(2)); // the same key again: still one pending
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(store.calls(), 0);
    batcher.record_use(ids[9], at(1));
    until(|| store.calls() == 1).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(store.successful_batches()[0].len(), 10);
    assert_eq!(last_used(&store, &ids[0]).await, Some(at(2)));

    for id in &ids[10..20] {
        batcher.record_use(*id, at(3));
    }
    until(|| store.calls() == 2).await;
    assert_eq!(batcher.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_every_pending_use() {
    let store = Watched::default();
    let ids = keys(&store, 50).await;
    let batcher = LastUsedBatcher::spawn(
        store.clone(),
        BatchConfig::new().interval(Duration::from_secs(3600)),
    );
    for (n, id) in ids.iter().enumerate() {
        batcher.record_use(*id, at(n as i64));
    }
    assert_eq!(batcher.pending(), 50);
    batcher.shutdown().await.unwrap();
    assert_eq!(store.calls(), 1);
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(last_used(&store, id).await, Some(at(n as i64)));
    }
    // Later uses wait for an explicit flush.
    batcher.record_use(ids[0], at(1_000));
    tokio::time::sleep(Duration::from_secs(7200)).await;
    assert_eq!((store.calls(), batcher.pending()), (1, 1));
    assert_eq!(batcher.flush().await.unwrap(), 1);
    assert_eq!(last_used(&store, &ids[0]).await, Some(at(1_000)));
    batcher.shutdown().await.unwrap(); // twice is fine
}

#[tokio::test(start_paused = true)]
async fn a_failed_flush_keeps_its_uses_merged_with_newer_ones_and_is_retried() {
    let store = Watched::default();
    let ids = keys(&store, 3).await;
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let batcher = LastUsedBatcher::spawn(
        store.clone(),
        BatchConfig::new().interval(Duration::from_secs(10)),
    );
    batcher.record_use(a, at(10));
    batcher.record_use(b, at(10));

    store.failing.store(true, Ordering::SeqCst);
    until(|| store.calls() == 1).await;
    assert_eq!((batcher.pending(), batcher.failed_flushes()), (2, 1));
    assert_eq!(last_used(&store, &a).await, None);

    // Meanwhile: a newer use of `a`, an older one of `b`, a first one of `c`.
    batcher.record_use(a, at(20));
    batcher.record_use(b, at(5));
    batcher.record_use(c, at(15));
    // Still failing at the next interval; then the store recovers.
    until(|| store.calls() == 2).await;
    store.failing.store(false, Ordering::SeqCst);
    until(|| store.calls() == 3).await;

    // One write with the merged uses, the later time winning, sorted by id.
    let mut merged = vec![(a, at(20)), (b, at(10)), (c, at(15))];
    merged.sort_by_key(|&(id, _)| id);
    assert_eq!(store.successful_batches(), [merged]);
    assert_eq!(last_used(&store, &a).await, Some(at(20)));
    assert_eq!(last_used(&store, &b).await, Some(at(10)));
    assert_eq!(last_used(&store, &c).await, Some(at(15)));
    assert_eq!(
        (
            batcher.pending(),
            batcher.failed_flushes(),
            batcher.dropped()
        ),
        (0, 2, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_is_retried_at_the_interval_not_on_every_use() {
    let store = Watched::default();
    store.failing.store(true, Ordering::SeqCst);
    let config = BatchConfig::new()
        .interval(Duration::from_secs(1))
        .flush_at(1);
    let batcher = LastUsedBatcher::spawn(store.clone(), config);
    let started = tokio::time::Instant::now();
    // One use per millisecond for 10 s, each reaching `flush_at`.
    for n in 0..10_000 {
        batcher.record_use(KeyId::generate(), at(n));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let calls = store.calls();
    eprintln!("failing store, 10 s of uses: {calls} attempts");
    assert!(started.elapsed() >= Duration::from_secs(10));
    assert!((9..=12).contains(&calls), "{calls} attempts");
    assert_eq!(
        batcher.shutdown().await.unwrap_err().to_string(),
        "API key store failed: connection reset"
    );
    assert_eq!(batcher.pending(), 10_000); // within the default bound
}

#[tokio::test(start_paused = true)]
async fn beyond_max_pending_uses_of_new_keys_are_dropped_and_counted() {
    let store = Watched::default();
    let ids = keys(&store, 3).await;
    store.failing.store(true, Ordering::SeqCst);
    let config = BatchConfig::new()
        .interval(Duration::from_secs(3600))
        .flush_at(1_000)
        .max_pending(100);
    let batcher = LastUsedBatcher::spawn(store.clone(), config);
    batcher.record_use(ids[0], at(1));
    for n in 0..150 {
        batcher.record_use(KeyId::generate(), at(n));
    }
    assert_eq!((batcher.pending(), batcher.dropped()), (100, 51));
    // A pending key still moves forward.
    batcher.record_use(ids[0], at(99));

    // A failed flush merges back under the same bound.
    assert!(batcher.flush().await.is_err());
    batcher.record_use(ids[1], at(5)); // the map is full again: dropped
    assert_eq!((batcher.pending(), batcher.dropped()), (100, 52));

    store.failing.store(false, Ordering::SeqCst);
    assert_eq!(batcher.flush().await.unwrap(), 100);
    assert_eq!(last_used(&store, &ids[0]).await, Some(at(99)));
    assert_eq!(last_used(&store, &ids[1]).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_never_waits_on_the_store() {
    let store = Watched::default();
    store.hanging.store(true, Ordering::SeqCst);
    let config = BatchConfig::new()
        .interval(Duration::from_millis(1))
        .flush_at(1);
    let batcher = Arc::new(LastUsedBatcher::spawn(store.clone(), config));
    batcher.record_use(KeyId::generate(), at(0));
    // The task is now stuck in a write that never ends.
    tokio::time::timeout(Duration::from_secs(5), async {
        while store.calls() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();

    let recorder: Arc<dyn UsageRecorder> = batcher.clone();
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                for n in 0..25_000 {
                    recorder.record_use(KeyId::generate(), at(thread * 100_000 + n));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let took = started.elapsed();
    eprintln!("50,000 record_use calls during a hung write took {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(batcher.pending(), 50_000);
    assert_eq!(store.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_batcher_makes_a_last_flush() {
    let store = Watched::default();
    let ids = keys(&store, 1).await;
    let batcher = LastUsedBatcher::spawn(
        store.clone(),
        BatchConfig::new().interval(Duration::from_secs(3600)),
    );
    batcher.record_use(ids[0], at(42));
    drop(batcher);
    until(|| store.calls() == 1).await;
    assert_eq!(last_used(&store, &ids[0]).await, Some(at(42)));
}
