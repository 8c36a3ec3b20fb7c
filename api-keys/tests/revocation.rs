//! Cross-instance revocation: two instances, each with its own cache (sink) and
//! subscriber, share a channel; what one revokes reaches the other's cache within a
//! second, also after the subscriber's connection was killed.
//!
//! The Redis tests need `REDIS_URL` and the PostgreSQL tests `DATABASE_URL`: they are
//! `#[ignore = "needs …"]`, run with `-- --include-ignored`, and fail when their
//! variable is unset or its server unreachable. Every test
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

/// The bound the guarantee promises while a subscription stands: what the tests
/// measure and assert.
const WITHIN: Duration = Duration::from_secs(1);

/// How long a test waits for something that takes milliseconds, without asserting on
/// how long it took: ample, so that a loaded machine does not fail it.
const WAIT: Duration = Duration::from_secs(30);

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
        tokio::time::timeout(WAIT, subscriber.connected())
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
            .wait_for(&record.id, WAIT)
            .await
            .expect("the other instance hears of the revocation");
        arrived.saturating_duration_since(start)
    }

    /// Waits until the subscriber has subscribed again `times` times in all.
    async fn wait_for_reconnects(&self, times: u64) {
        tokio::time::timeout(WAIT, async {
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

/// A name no other test (or run) uses, made of `[a-z0-9_]`.
#[cfg(any(feature = "redis", feature = "postgres"))]
fn unique_name(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A TCP proxy whose connections can be made silent: they stay open but carry
/// nothing more, as a half-open connection or a black-holed network does.
#[cfg(any(feature = "redis", feature = "postgres"))]
struct Proxy {
    port: u16,
    connections: Arc<Mutex<Vec<Arc<std::sync::atomic::AtomicBool>>>>,
}

#[cfg(any(feature = "redis", feature = "postgres"))]
impl Proxy {
    /// A proxy on a free local port to `target` (`host:port`).
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections: Arc<Mutex<Vec<Arc<std::sync::atomic::AtomicBool>>>> = Arc::default();
        let registry = connections.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                let silent = Arc::new(std::sync::atomic::AtomicBool::new(false));
                registry.lock().unwrap().push(silent.clone());
                let (in_read, in_write) = inbound.into_split();
                let (out_read, out_write) = outbound.into_split();
                tokio::spawn(Self::pipe(in_read, out_write, silent.clone()));
                tokio::spawn(Self::pipe(out_read, in_write, silent));
            }
        });
        Self { port, connections }
    }

    async fn pipe(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        silent: Arc<std::sync::atomic::AtomicBool>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            if silent.load(Ordering::SeqCst) {
                // Hold both ends open, forward nothing.
                std::future::pending::<()>().await;
            }
            if to.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    }

    /// Silences every connection made so far; how many.
    fn silence_all(&self) -> usize {
        let connections = self.connections.lock().unwrap();
        for silent in connections.iter() {
            silent.store(true, Ordering::SeqCst);
        }
        connections.len()
    }
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
    assert!(b.cache.wait_for(&record.id, WAIT).await.is_some());
    let record = b.new_key().await;
    let update = portcullis_api_keys::record::KeyUpdate::new().name("renamed");
    b.keys.update(&record.id, &update).await.unwrap();
    assert!(a.cache.wait_for(&record.id, WAIT).await.is_some());
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
    /// The panic this test provokes, which the hook below keeps quiet.
    const EXPECTED: &str = "a bug in a cache (an expected panic: this test provokes it)";
    struct Panics;
    impl InvalidationSink for Panics {
        fn invalidate(&self, _: &Invalidation) {
            panic!("{EXPECTED}");
        }
    }
    // The default hook would print the message and, with RUST_BACKTRACE set, a full
    // backtrace. This one says nothing for this panic and hands every other panic, of
    // this test or any other running meanwhile, to the hook it replaces.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // `downcast_ref` rather than `payload_as_str`, which needs Rust 1.91.
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if message != Some(EXPECTED) {
                previous(info);
            }
        }));
    });
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
        assert!(cache.wait_for(&record.id, WAIT).await.is_some());
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

#[cfg(feature = "redis")]
mod redis_channel {
    use super::*;
    use portcullis_api_keys::revocation::redis::RedisChannel;

    /// `REDIS_URL`, once it answers a `PING`. Unset, or set but unreachable, fails the
    /// test: CI must not pass by skipping.
    async fn redis_url() -> String {
        let url = portcullis_test_support::redis_url();
        let client = redis::Client::open(url.as_str()).expect("REDIS_URL is a Redis URL");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|error| panic!("REDIS_URL={url} unreachable: {error}"));
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("REDIS_URL={url} unreachable: {error}"));
        url
    }

    /// A Redis user of this test alone, so that `CLIENT KILL … USER` kills this
    /// test's subscriber and nobody else's; deleted on drop.
    struct TestUser {
        admin: redis::Client,
        name: String,
        /// A client that logs in as the user.
        client: redis::Client,
    }

    impl TestUser {
        async fn create(url: &str) -> Self {
            let admin = redis::Client::open(url).unwrap();
            let name = unique_name("portcullis_test");
            let password = format!("pw-{name}");
            let mut connection = admin.get_multiplexed_async_connection().await.unwrap();
            redis::cmd("ACL")
                .arg(&[
                    "SETUSER",
                    &name,
                    "on",
                    &format!(">{password}"),
                    "~*",
                    "&*",
                    "+@all",
                ])
                .query_async::<()>(&mut connection)
                .await
                .expect("ACL SETUSER (the test needs an admin user)");
            let info = admin.get_connection_info().clone();
            let settings = info
                .redis_settings()
                .clone()
                .set_username(&name)
                .set_password(&password);
            let client = redis::Client::open(info.set_redis_settings(settings)).unwrap();
            Self {
                admin,
                name,
                client,
            }
        }

        /// Kills the user's pub/sub connections; how many.
        async fn kill_pubsub(&self) -> i64 {
            let mut connection = self.admin.get_multiplexed_async_connection().await.unwrap();
            redis::cmd("CLIENT")
                .arg(&["KILL", "TYPE", "pubsub", "USER", &self.name])
                .query_async(&mut connection)
                .await
                .unwrap()
        }
    }

    impl Drop for TestUser {
        fn drop(&mut self) {
            if let Ok(mut connection) = self.admin.get_connection() {
                let _ = redis::cmd("ACL")
                    .arg(&["DELUSER", &self.name])
                    .query::<i64>(&mut connection);
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs REDIS_URL"]
    async fn redis_revocation_reaches_the_other_instance_within_a_second() {
        let url = redis_url().await;
        let name = unique_name("portcullis-test:revocations");
        let channel = || RedisChannel::open(&url).unwrap().name(&name);
        let store = MemoryKeyStore::new();
        let a = Instance::start(&store, channel(), channel()).await;
        let b = Instance::start(&store, channel(), channel()).await;
        assert_revocations_cross(&a, &b, 10, "redis").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs REDIS_URL"]
    async fn redis_payload_is_the_id_and_hash_and_no_secret() {
        let url = redis_url().await;
        let name = unique_name("portcullis-test:payload");
        let store = MemoryKeyStore::new();
        let channel = RedisChannel::open(&url).unwrap().name(&name);
        let keys =
            KeyLifecycle::new(store, KeyFormat::default(), KeyHasher::sha256()).channel(channel);
        let created = keys
            .create(NewKey::new(TenantId::new("acme")))
            .await
            .unwrap();

        let client = redis::Client::open(url.as_str()).unwrap();
        let mut pubsub = client.get_async_pubsub().await.unwrap();
        pubsub.subscribe(&name).await.unwrap();
        keys.revoke(&created.record.id).await.unwrap();
        let mut messages = pubsub.into_on_message();
        let message = tokio::time::timeout(
            WAIT,
            std::future::poll_fn(|cx| {
                futures_core::Stream::poll_next(std::pin::Pin::new(&mut messages), cx)
            }),
        )
        .await
        .expect("a message")
        .expect("the connection stands");
        let payload: String = message.get_payload().unwrap();
        assert_eq!(
            payload,
            format!("{} {}", created.record.id, created.record.hash)
        );
        let secret = created.key.expose_secret();
        assert!(!payload.contains(&secret[secret.len() - 20..]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs REDIS_URL"]
    async fn redis_subscriber_replaces_a_connection_gone_silent() {
        let url = redis_url().await;
        let info = redis::Client::open(url.as_str())
            .unwrap()
            .get_connection_info()
            .clone();
        let redis::ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
            panic!("REDIS_URL is not a TCP address");
        };
        let proxy = Proxy::start(format!("{host}:{port}")).await;
        let proxied = info.set_addr(redis::ConnectionAddr::Tcp("127.0.0.1".into(), proxy.port));
        let name = unique_name("portcullis-test:silent");
        let store = MemoryKeyStore::new();
        let direct = || RedisChannel::open(&url).unwrap().name(&name);
        let a = Instance::start(&store, direct(), direct()).await;
        let b = Instance::start(
            &store,
            direct(),
            RedisChannel::new(redis::Client::open(proxied).unwrap())
                .unwrap()
                .name(&name)
                .health_check(Duration::from_millis(200), Duration::from_millis(300)),
        )
        .await;
        assert_revocations_cross(&a, &b, 1, "redis through the proxy").await;

        let silenced = Instant::now();
        assert_eq!(proxy.silence_all(), 1, "B's subscription");
        b.wait_for_reconnects(1).await;
        let replaced = silenced.elapsed();
        eprintln!("redis: a silent subscription was replaced after {replaced:?}");
        // Health checks every 200 ms, answered within 300 ms: replaced after about
        // half a second. Without them it would never be: the proxy holds it open.
        assert!(replaced < Duration::from_secs(10), "{replaced:?}");
        assert_revocations_cross(&a, &b, 2, "redis after a silent connection").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs REDIS_URL"]
    async fn redis_subscriber_recovers_after_its_connection_is_killed() {
        let url = redis_url().await;
        let user = TestUser::create(&url).await;
        let name = unique_name("portcullis-test:recovery");
        let store = MemoryKeyStore::new();
        let a = Instance::start(
            &store,
            RedisChannel::open(&url).unwrap().name(&name),
            RedisChannel::open(&url).unwrap().name(&name),
        )
        .await;
        let b = Instance::start(
            &store,
            RedisChannel::open(&url).unwrap().name(&name),
            RedisChannel::new(user.client.clone()).unwrap().name(&name),
        )
        .await;
        assert_revocations_cross(&a, &b, 1, "redis before the kill").await;

        for round in 1..=2 {
            assert_eq!(user.kill_pubsub().await, 1, "B's one subscription");
            b.wait_for_reconnects(round).await;
            assert_eq!(b.reconnect_hooks.load(Ordering::SeqCst), round as usize);
            assert_eq!(a.subscriber.reconnects(), 0);
            assert_revocations_cross(&a, &b, 2, "redis after a CLIENT KILL").await;
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres_channel {
    use std::str::FromStr;

    use super::*;
    use portcullis_api_keys::revocation::postgres::PostgresChannel;
    use sqlx::PgPool;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    /// `DATABASE_URL`, once it accepts a connection. Unset, or set but unreachable,
    /// fails the test: CI must not pass by skipping.
    async fn database_url() -> String {
        let url = portcullis_test_support::database_url();
        let pool = PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
            .unwrap_or_else(|error| panic!("DATABASE_URL={url} unreachable: {error}"));
        pool.close().await;
        url
    }

    /// A pool whose connections say `application_name` to the server.
    async fn pool(url: &str, application_name: &str) -> PgPool {
        let options = PgConnectOptions::from_str(url)
            .unwrap()
            .application_name(application_name);
        PgPoolOptions::new()
            .max_connections(3)
            .connect_with(options)
            .await
            .unwrap()
    }

    fn channel(pool: &PgPool, name: &str) -> PostgresChannel {
        PostgresChannel::new(pool.clone()).name(name).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs DATABASE_URL"]
    async fn postgres_revocation_reaches_the_other_instance_within_a_second() {
        let url = database_url().await;
        let name = unique_name("pt_revocations");
        let (pool_a, pool_b) = (
            pool(&url, "portcullis-a").await,
            pool(&url, "portcullis-b").await,
        );
        let store = MemoryKeyStore::new();
        let a = Instance::start(&store, channel(&pool_a, &name), channel(&pool_a, &name)).await;
        let b = Instance::start(&store, channel(&pool_b, &name), channel(&pool_b, &name)).await;
        assert_revocations_cross(&a, &b, 10, "postgres").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs DATABASE_URL"]
    async fn postgres_subscriber_replaces_a_connection_gone_silent() {
        let url = database_url().await;
        let options = PgConnectOptions::from_str(&url).unwrap();
        let proxy = Proxy::start(format!("{}:{}", options.get_host(), options.get_port())).await;
        let proxied = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.host("127.0.0.1").port(proxy.port))
            .await
            .unwrap();
        let name = unique_name("pt_silent");
        let pool_a = pool(&url, "portcullis-a").await;
        let store = MemoryKeyStore::new();
        let a = Instance::start(&store, channel(&pool_a, &name), channel(&pool_a, &name)).await;
        let b = Instance::start(
            &store,
            channel(&pool_a, &name),
            channel(&proxied, &name)
                .health_check(Duration::from_millis(200), Duration::from_millis(300)),
        )
        .await;
        assert_revocations_cross(&a, &b, 1, "postgres through the proxy").await;

        let silenced = Instant::now();
        assert_eq!(proxy.silence_all(), 1, "B's listener");
        b.wait_for_reconnects(1).await;
        let replaced = silenced.elapsed();
        eprintln!("postgres: a silent listener was replaced after {replaced:?}");
        // Health checks every 200 ms, answered within 300 ms: replaced after about
        // half a second. Without them it would never be: the proxy holds it open.
        assert!(replaced < Duration::from_secs(10), "{replaced:?}");
        assert_revocations_cross(&a, &b, 2, "postgres after a silent connection").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs DATABASE_URL"]
    async fn postgres_subscriber_recovers_after_its_listener_is_terminated() {
        let url = database_url().await;
        let name = unique_name("pt_recovery");
        let listener_name = unique_name("portcullis-listener");
        let (pool_a, pool_b) = (
            pool(&url, "portcullis-a").await,
            pool(&url, &listener_name).await,
        );
        let store = MemoryKeyStore::new();
        let a = Instance::start(&store, channel(&pool_a, &name), channel(&pool_a, &name)).await;
        let b = Instance::start(&store, channel(&pool_a, &name), channel(&pool_b, &name)).await;
        assert_revocations_cross(&a, &b, 1, "postgres before the kill").await;

        for round in 1..=2 {
            let killed: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND query LIKE 'LISTEN%'",
            )
            .bind(&listener_name)
            .fetch_all(&pool_a)
            .await
            .unwrap();
            assert_eq!(killed, [true], "B's one listener");
            b.wait_for_reconnects(round).await;
            assert_eq!(b.reconnect_hooks.load(Ordering::SeqCst), round as usize);
            assert_eq!(a.subscriber.reconnects(), 0);
            assert_revocations_cross(&a, &b, 2, "postgres after pg_terminate_backend").await;
        }
    }
}
