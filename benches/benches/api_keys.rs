//! `portcullis-api-keys` verification against a naive per-request SQL lookup, same run.
//!
//! - `api_keys/reject`: a key with a bad checksum, refused by `KeyFormat::parse` alone
//!   (`parse`) and through the whole layer (`layer`). No cache or store is touched on
//!   that path (`tests/layer.rs`, `malformed_keys_cost_no_cache_or_store_access`).
//! - `api_keys/verify`: one request with a valid key on a plain Tower service, over a
//!   SQLite file holding 10,000 keys:
//!   - `bare`: the service alone;
//!   - `cached`: `ApiKeyLayer` with its cache warm (the steady state);
//!   - `cold`: `ApiKeyLayer` with caching off, so every request is one indexed query;
//!   - `naive_sql`: what hand-written checks do: hash the header and `SELECT` the key
//!     row on every request, on the same database.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use portcullis_api_keys::cache::KeyCacheConfig;
use portcullis_api_keys::format::KeyFormat;
use portcullis_api_keys::hash::KeyHasher;
use portcullis_api_keys::id::{KeyId, TenantId};
use portcullis_api_keys::layer::ApiKeyLayer;
use portcullis_api_keys::record::KeyRecord;
use portcullis_api_keys::store::KeyStore;
use portcullis_api_keys::store::sqlite::SqliteKeyStore;
use portcullis_api_keys::timestamp::Timestamp;
use sha2::{Digest, Sha256};
use tower::{Layer, ServiceExt, service_fn};

const KEYS: usize = 10_000;

type Inner = tower::util::ServiceFn<
    fn(Request<()>) -> std::future::Ready<Result<Response<String>, std::convert::Infallible>>,
>;

fn inner() -> Inner {
    fn ok(
        _: Request<()>,
    ) -> std::future::Ready<Result<Response<String>, std::convert::Infallible>> {
        std::future::ready(Ok(Response::new(String::from("ok"))))
    }
    service_fn(ok as fn(_) -> _)
}

fn request(key: &str) -> Request<()> {
    Request::get("/v1/quote")
        .header("x-api-key", key)
        .body(())
        .expect("request")
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let directory = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        directory.path().join("keys.db").display()
    );
    let format = KeyFormat::default();
    let hasher = KeyHasher::sha256();
    let (store, keys) = runtime.block_on(async {
        let store = SqliteKeyStore::connect(&url).await.expect("sqlite");
        store.migrate().await.expect("migrate");
        sqlx::query(
            "CREATE TABLE naive_keys (key_hash TEXT PRIMARY KEY, tenant TEXT NOT NULL, revoked INTEGER NOT NULL)",
        )
        .execute(store.pool())
        .await
        .expect("naive table");
        let mut keys = Vec::with_capacity(KEYS);
        for index in 0..KEYS {
            let key = format.generate();
            let record = KeyRecord::new(
                KeyId::generate(),
                TenantId::new(format!("tenant-{}", index % 100)),
                hasher.hash(&key.parsed()),
                key.masked(),
                Timestamp::from_unix_micros(1_700_000_000_000_000),
            );
            store.insert(&record).await.expect("insert");
            sqlx::query("INSERT INTO naive_keys VALUES (?, ?, 0)")
                .bind(hex(&Sha256::digest(key.expose_secret())))
                .bind(record.tenant.as_str())
                .execute(store.pool())
                .await
                .expect("naive insert");
            keys.push(key.expose_secret().to_owned());
        }
        (store, keys)
    });
    let bad = {
        let mut bad = keys[0].clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'a' { b'b' } else { b'a' };
        String::from_utf8(bad).expect("ascii")
    };

    let cached = ApiKeyLayer::new(store.clone(), hasher.clone()).layer(inner());
    let cold = ApiKeyLayer::new(store.clone(), hasher.clone())
        .cache_config(KeyCacheConfig::default().positive_ttl(Duration::ZERO))
        .layer(inner());
    let pool = store.pool().clone();
    let naive = service_fn(move |request: Request<()>| {
        let pool = pool.clone();
        async move {
            let key = request
                .headers()
                .get("x-api-key")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            let row: Option<(String, i64)> =
                sqlx::query_as("SELECT tenant, revoked FROM naive_keys WHERE key_hash = ?")
                    .bind(hex(&Sha256::digest(key)))
                    .fetch_optional(&pool)
                    .await
                    .expect("naive query");
            let status = match row {
                Some((_, 0)) => StatusCode::OK,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut response = Response::new(String::from("ok"));
            *response.status_mut() = status;
            Ok::<_, std::convert::Infallible>(response)
        }
    });

    // Warm the cache and check every variant answers as expected.
    runtime.block_on(async {
        for key in &keys {
            let response = cached.clone().oneshot(request(key)).await.expect("cached");
            assert_eq!(response.status(), StatusCode::OK);
        }
        let response = cold.clone().oneshot(request(&keys[1])).await.expect("cold");
        assert_eq!(response.status(), StatusCode::OK);
        let response = naive
            .clone()
            .oneshot(request(&keys[1]))
            .await
            .expect("naive");
        assert_eq!(response.status(), StatusCode::OK);
        let response = cached.clone().oneshot(request(&bad)).await.expect("bad");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    });

    let mut group = c.benchmark_group("api_keys/reject");
    group.bench_function("parse", |b| {
        b.iter(|| black_box(format.parse(black_box(&bad)).is_err()))
    });
    group.bench_function("layer", |b| {
        b.to_async(&runtime).iter(|| {
            let service = cached.clone();
            let request = request(&bad);
            async move { black_box(service.oneshot(request).await.expect("layer").status()) }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("api_keys/verify");
    let mut index = 0;
    let mut next_key = || {
        index = (index + 1) % KEYS;
        request(&keys[index])
    };
    group.bench_function("bare", |b| {
        b.to_async(&runtime).iter(|| {
            let request = next_key();
            async move { black_box(inner().oneshot(request).await.expect("bare").status()) }
        })
    });
    for (name, service) in [("cached", cached.clone()), ("cold", cold.clone())] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let (service, request) = (service.clone(), next_key());
                async move { black_box(service.oneshot(request).await.expect(name).status()) }
            })
        });
    }
    group.bench_function("naive_sql", |b| {
        b.to_async(&runtime).iter(|| {
            let (service, request) = (naive.clone(), next_key());
            async move { black_box(service.oneshot(request).await.expect("naive").status()) }
        })
    });
    group.finish();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

criterion_group!(api_keys, benches);
criterion_main!(api_keys);
