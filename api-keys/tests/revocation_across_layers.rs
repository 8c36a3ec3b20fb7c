//! The revocation guarantee end to end: two `ApiKeyLayer` instances ("servers"), each
//! with its own cache, sharing one PostgreSQL key store. Both have verified (and
//! cached) a key; it is revoked through the first; the second refuses it within one
//! second, over Redis pub/sub and over PostgreSQL `LISTEN/NOTIFY`.
//!
//! Both tests need `DATABASE_URL`, the Redis one `REDIS_URL` too: they are
//! `#[ignore = "needs …"]`, run with `-- --include-ignored`.
#![cfg(all(feature = "postgres", feature = "redis", feature = "tokio"))]

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode};
use portcullis_api_keys::api_key::ApiKeyLayer;
use portcullis_api_keys::format::KeyFormat;
use portcullis_api_keys::hash::KeyHasher;
use portcullis_api_keys::id::TenantId;
use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
use portcullis_api_keys::revocation::postgres::PostgresChannel;
use portcullis_api_keys::revocation::redis::RedisChannel;
use portcullis_api_keys::revocation::{RevocationChannel, Subscriber};
use portcullis_api_keys::store::postgres::PostgresKeyStore;
use tower::{Layer, ServiceExt, service_fn};

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

async fn status(layer: &ApiKeyLayer<PostgresKeyStore>, key: &str) -> StatusCode {
    let service = layer.layer(service_fn(|_: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(String::new()))
    }));
    let request = Request::get("/v1/quote")
        .header("x-api-key", key)
        .body(())
        .unwrap();
    service.oneshot(request).await.unwrap().status()
}

/// Revokes a key through server A and measures when server B refuses it.
async fn revocation_reaches_the_other_server<C: RevocationChannel + Clone>(
    store: PostgresKeyStore,
    channel: C,
) -> Duration {
    let hasher = KeyHasher::sha256();
    let servers = [
        ApiKeyLayer::new(store.clone(), hasher.clone()),
        ApiKeyLayer::new(store.clone(), hasher.clone()),
    ];
    let subscribers: Vec<_> = servers
        .iter()
        .map(|server| {
            Subscriber::new(channel.clone())
                .sink(Arc::new(server.key_cache().clone()))
                .spawn()
        })
        .collect();
    for subscriber in &subscribers {
        tokio::time::timeout(Duration::from_secs(5), subscriber.connected())
            .await
            .expect("subscribed");
    }
    let keys = KeyLifecycle::new(store, KeyFormat::default(), hasher)
        .sink(Arc::new(servers[0].key_cache().clone()))
        .channel(channel);
    let created = keys
        .create(NewKey::new(TenantId::new(unique("tenant"))))
        .await
        .unwrap();
    let key = created.key.expose_secret();
    for server in &servers {
        assert_eq!(status(server, key).await, StatusCode::OK);
        assert_eq!(server.key_cache().entry_count(), 1, "the key is cached");
    }

    keys.revoke(&created.record.id).await.unwrap();
    let revoked_at = Instant::now();
    assert_eq!(
        status(&servers[0], key).await,
        StatusCode::UNAUTHORIZED,
        "the revoking server drops its cache entry at once"
    );
    loop {
        if status(&servers[1], key).await == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "the other server still accepts the revoked key after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let latency = revoked_at.elapsed();
    for subscriber in subscribers {
        subscriber.shutdown().await;
    }
    latency
}

async fn store(database: &str) -> PostgresKeyStore {
    let store = PostgresKeyStore::connect(database).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL and DATABASE_URL"]
async fn a_key_revoked_on_one_server_fails_on_the_other_within_a_second_over_redis() {
    let (database, redis) = (
        portcullis_test_support::database_url(),
        portcullis_test_support::redis_url(),
    );
    let channel = RedisChannel::open(&redis)
        .unwrap()
        .name(unique("portcullis-test-revocations"));
    let latency = revocation_reaches_the_other_server(store(&database).await, channel).await;
    eprintln!("revocation reached the other server over Redis in {latency:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DATABASE_URL"]
async fn a_key_revoked_on_one_server_fails_on_the_other_within_a_second_over_postgres() {
    let database = portcullis_test_support::database_url();
    let store = store(&database).await;
    let channel = PostgresChannel::new(store.pool().clone())
        .name(unique("revocations"))
        .unwrap();
    let latency = revocation_reaches_the_other_server(store, channel).await;
    eprintln!("revocation reached the other server over PostgreSQL in {latency:?}");
}
