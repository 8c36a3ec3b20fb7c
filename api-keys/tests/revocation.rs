//! Cross-instance revocation: two instances, each with its own cache (sink) and
//! subscriber, share a channel; what one revokes reaches the other's cache within a
//! second, also after the subscriber's connection was killed.
//!
//! The Redis tests need `REDIS_URL` and the PostgreSQL tests `DATABASE_URL`; unset,
//! they print `skipped: set …` and pass, set but unreachable, they fail. Every test
//! uses channel names of its own, so parallel runs on one server do not interfere.
#![cfg(all(feature = "tokio", feature = "memory"))]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_api_keys::format::KeyFormat;
use portcullis_api_keys::hash::KeyHasher;
use portcullis_api_keys::id::{KeyId, TenantId};
use portcullis_api_keys::invalidation::{Invalidation, InvalidationSink};
use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
use portcullis_api_keys::record::KeyRecord;
use portcullis_api_keys::revocation::in_process::InProcessChannel;
use portcullis_api_keys::revocation::{RevocationChannel, Subscriber, SubscriberHandle};
use portcullis_api_keys::store::memory::MemoryKeyStore;
use tokio::sync::Notify;

/// The bound the guarantee promises while a subscription stands.
const WITHIN: Duration = Duration::from_secs(1);

/// An instance's cache: when it was told to drop each key.
#[derive(Default)]
struct TimedSink {
    seen: Mutex<HashMap<KeyId, Instant>>,
    changed: Notify,
}

impl InvalidationSink for TimedSink {
    fn invalidate(&self, invalidation: &Invalidation) {
        self.seen
            .lock()
            .unwrap()
            .entry(invalidation.id)
            .or_insert_with(Instant::now);
        self.changed.notify_waiters();
    }
}

impl TimedSink {
    fn get(&self, id: &KeyId) -> Option<Instant> {
        self.seen.lock().unwrap().get(id).copied()
    }

    /// When `id` arrived, waiting up to `within` for it.
    async fn wait_for(&self, id: &KeyId, within: Duration) -> Option<Instant> {
        tokio::time::timeout(within, async {
            loop {
                let changed = self.changed.notified();
                if let Some(at) = self.get(id) {
                    return at;
                }
                changed.await;
            }
        })
        .await
        .ok()
    }
}

/// One instance of a service: key management publishing on a channel, and a
/// subscriber feeding its cache.
struct Instance {
    keys: KeyLifecycle<MemoryKeyStore>,
    cache: Arc<TimedSink>,
    subscriber: SubscriberHandle,
    reconnect_hooks: Arc<AtomicUsize>,
}

impl Instance {
    /// An instance on `store` (shared by all instances, as a database is) that
    /// publishes on `publish` and subscribes with `subscribe`.
    async fn start(
        store: &MemoryKeyStore,
        publish: impl RevocationChannel,
        subscribe: impl RevocationChannel,
    ) -> Self {
        let cache = Arc::new(TimedSink::default());
        let reconnect_hooks = Arc::new(AtomicUsize::new(0));
        let keys = KeyLifecycle::new(store.clone(), KeyFormat::default(), KeyHasher::sha256())
            .sink(cache.clone())
            .channel(publish);
        let subscriber = Subscriber::new(subscribe)
            .sink(cache.clone())
            .on_reconnect({
                let hooks = reconnect_hooks.clone();
                move || {
                    hooks.fetch_add(1, Ordering::SeqCst);
                }
            })
            .backoff(Duration::from_millis(10), Duration::from_millis(500))
            .spawn();
        tokio::time::timeout(Duration::from_secs(10), subscriber.connected())
            .await
            .expect("the subscriber connects");
        Self {
            keys,
            cache,
            subscriber,
            reconnect_hooks,
        }
    }

    async fn new_key(&self) -> KeyRecord {
        self.keys
            .create(NewKey::new(TenantId::new("acme")))
            .await
            .unwrap()
            .record
    }

    /// Revokes a new key here and returns how long `other`'s cache took to drop it.
    async fn revoke_and_measure(&self, other: &Instance) -> Duration {
        let record = self.new_key().await;
        let start = Instant::now();
        self.keys.revoke(&record.id).await.unwrap();
        // This instance's cache dropped it before `revoke` returned.
        assert!(self.cache.get(&record.id).is_some());
        let arrived = other
            .cache
            .wait_for(&record.id, Duration::from_secs(5))
            .await
            .expect("the other instance hears of the revocation");
        arrived.saturating_duration_since(start)
    }

    /// Waits until the subscriber has subscribed again `times` times in all.
    async fn wait_for_reconnects(&self, times: u64) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while self.subscriber.reconnects() < times || !self.subscriber.is_connected() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the subscriber reconnects by itself");
    }
}

/// Revokes on each instance in turn and checks the other hears within a second;
/// returns the slowest.
async fn assert_revocations_cross(
    a: &Instance,
    b: &Instance,
    rounds: usize,
    what: &str,
) -> Duration {
    let mut slowest = Duration::ZERO;
    for _ in 0..rounds {
        for (from, to) in [(a, b), (b, a)] {
            let latency = from.revoke_and_measure(to).await;
            assert!(
                latency < WITHIN,
                "{what}: a revocation took {latency:?} to reach the other instance"
            );
            slowest = slowest.max(latency);
        }
    }
    eprintln!(
        "{what}: slowest of {} revocations reached the other instance in {slowest:?}",
        rounds * 2
    );
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_revocation_reaches_the_other_instance() {
    let channel = InProcessChannel::new();
    let store = MemoryKeyStore::new();
    let a = Instance::start(&store, channel.clone(), channel.clone()).await;
    let b = Instance::start(&store, channel.clone(), channel.clone()).await;
    assert_revocations_cross(&a, &b, 5, "in-process").await;

    // Rotation and update invalidate too.
    let record = a.new_key().await;
    a.keys
        .rotate(&record.id, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(b.cache.wait_for(&record.id, WITHIN).await.is_some());
    let record = b.new_key().await;
    let update = portcullis_api_keys::record::KeyUpdate::new().name("renamed");
    b.keys.update(&record.id, &update).await.unwrap();
    assert!(a.cache.wait_for(&record.id, WITHIN).await.is_some());
    assert_eq!(
        (a.subscriber.reconnects(), b.subscriber.reconnects()),
        (0, 0)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_lagging_in_process_receiver_subscribes_again_and_calls_on_reconnect() {
    let channel = InProcessChannel::with_capacity(2);
    let store = MemoryKeyStore::new();
    let a = Instance::start(&store, channel.clone(), channel.clone()).await;
    let b = Instance::start(&store, channel.clone(), channel.clone()).await;

    // On one thread, the subscribers cannot run while these are published.
    let mut records = Vec::new();
    for _ in 0..5 {
        records.push(a.new_key().await);
    }
    for record in &records {
        a.keys.revoke(&record.id).await.unwrap();
    }
    b.wait_for_reconnects(1).await;
    assert_eq!(b.reconnect_hooks.load(Ordering::SeqCst), 1);
    // Missed: the hook, which clears a real cache, covers them.
    assert!(b.cache.get(&records[0].id).is_none());

    // And the channel works again.
    assert_revocations_cross(&a, &b, 1, "in-process after lagging").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_sink_does_not_stop_the_subscriber() {
    struct Panics;
    impl InvalidationSink for Panics {
        fn invalidate(&self, _: &Invalidation) {
            panic!("a bug in a cache");
        }
    }
    let channel = InProcessChannel::new();
    let store = MemoryKeyStore::new();
    let a = Instance::start(&store, channel.clone(), channel.clone()).await;
    let cache = Arc::new(TimedSink::default());
    let b = Subscriber::new(channel.clone())
        .sink(Arc::new(Panics))
        .sink(cache.clone())
        .spawn();
    b.connected().await;
    for _ in 0..2 {
        let record = a.new_key().await;
        a.keys.revoke(&record.id).await.unwrap();
        assert!(cache.wait_for(&record.id, WITHIN).await.is_some());
    }
    assert!(b.is_connected());
    assert_eq!(b.reconnects(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_subscriber_stops_listening() {
    let channel = InProcessChannel::new();
    let store = MemoryKeyStore::new();
    let a = Instance::start(&store, channel.clone(), channel.clone()).await;
    assert_eq!(channel.receivers(), 1);
    let Instance {
        keys, subscriber, ..
    } = a;
    subscriber.shutdown().await;
    assert_eq!(channel.receivers(), 0);
    // Publishing with nobody listening is no error.
    let record = keys
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap()
        .record;
    keys.revoke(&record.id).await.unwrap();
    assert_eq!(keys.broadcast_failures(), 0);
}
