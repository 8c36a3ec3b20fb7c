//! API keys for SaaS APIs: a checksummed key format that secret scanners recognise,
//! storage that never holds a plaintext key, and a pluggable key store.
//!
//! Keys look like `sk_live_C8ug9ZwB…0QOcyb` (prefix, environment, 256 random bits in base62, a
//! CRC32 checksum), and only their hash is ever stored:
//!
//! - [`format`](mod@format): [`KeyFormat`](format::KeyFormat) generates keys, parses presented
//!   ones (an allocation-free check of prefix, environment and checksum that rejects
//!   typos and guesses before any cache or store is asked), and gives the regular
//!   expression to register with secret scanners.
//! - [`key`]: [`PlaintextKey`](key::PlaintextKey), the new key to hand out once (masked
//!   in `Debug` and `Display`, wiped on drop); [`ParsedKey`](key::ParsedKey), a
//!   presented key that passed the format check; [`MaskedKey`](key::MaskedKey),
//!   `sk_live_…a1b2`.
//! - [`hash`]: [`KeyHasher`](hash::KeyHasher), SHA-256 or HMAC-SHA256 with a
//!   server-side pepper, into a versioned [`KeyHash`](hash::KeyHash) so algorithms and
//!   peppers can rotate; existing digests can be imported.
//! - [`record`], [`id`], [`scopes`], [`timestamp`]: [`KeyRecord`](record::KeyRecord),
//!   what a store keeps about a key, in types every backend round-trips exactly.
//! - [`store`]: the [`KeyStore`](store::KeyStore) trait, the in-memory
//!   [`MemoryKeyStore`](store::memory::MemoryKeyStore), a boxed store for choosing a
//!   backend at run time, and the conformance suite every backend passes.
//! - [`invalidation`]: the messages that drop a changed key from every cache, and
//!   the recorder verification reports key use to.
//! - [`layer`]: [`ApiKeyLayer`](layer::ApiKeyLayer), the Tower middleware that
//!   verifies the key of every request and hands handlers an
//!   [`ApiKeyContext`](layer::ApiKeyContext); per-route scopes with
//!   [`RequireScopesLayer`](layer::RequireScopesLayer).
//! - [`cache`]: [`KeyCache`](cache::KeyCache), the verification cache: known keys for a
//!   short positive TTL, unknown ones for a shorter negative TTL, single-flight store
//!   lookups, invalidation by hash or id.
//! - [`lifecycle`]: [`KeyLifecycle`](lifecycle::KeyLifecycle), the key management API:
//!   create (the plaintext handed out once), list, get, update, revoke, and rotate
//!   with an overlap; every change invalidates the local cache at once and is
//!   published to the other instances.
//! - [`revocation`]: the channels that carry invalidations between instances
//!   (in-process, Redis pub/sub, PostgreSQL `LISTEN/NOTIFY`), the
//!   `Subscriber` task that applies them and reconnects by itself (feature `tokio`),
//!   and the guarantee: how soon a revoked key fails everywhere.
//! - `last_used` (feature `tokio`): `LastUsedBatcher`, which coalesces key uses and
//!   writes `last_used_at` in batches.
//! - [`error`]: why a key, a configuration or a stored value is rejected.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `memory` | yes | the in-memory store |
//! | `conformance` | no | the store conformance suite, for store implementations |
//! | `axum` | no | [`ApiKeyContext`](layer::ApiKeyContext) as an axum extractor (and `Option<ApiKeyContext>`) |
//! | `rate-limit` | no | the tenant and plan of each verified key in the request extensions, for `portcullis-rate-limit` |
//! | `sqlite` | no | the SQLite store (`store::sqlite`), over `sqlx` with SQLite bundled |
//! | `postgres` | no | the PostgreSQL store (`store::postgres`) and the `LISTEN/NOTIFY` revocation channel, over `sqlx` |
//! | `redis` | no | the Redis store (`store::redis`), one round trip per call, and the pub/sub revocation channel |
//! | `tokio` | no | the revocation subscriber, the in-process channel, the `last_used_at` batcher (the SQL and Redis features enable it) |
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::format::KeyFormat;
//! use portcullis_api_keys::hash::KeyHasher;
//! use portcullis_api_keys::id::{KeyId, TenantId};
//! use portcullis_api_keys::record::{KeyRecord, KeyStatus};
//! use portcullis_api_keys::scopes::Scopes;
//! use portcullis_api_keys::store::{KeyStore, memory::MemoryKeyStore};
//! use portcullis_api_keys::timestamp::Timestamp;
//! use portcullis_core::clock::{Clock, ManualClock};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let format = KeyFormat::default();
//! let hasher = KeyHasher::hmac_sha256(1, b"pepper from the vault, 32 bytes!")?;
//! let store = MemoryKeyStore::new();
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//!
//! // Issue a key: store its hash, show the plaintext once.
//! let key = format.generate();
//! let mut record = KeyRecord::new(
//!     KeyId::generate(),
//!     TenantId::new("acme"),
//!     hasher.hash(&key.parsed()),
//!     key.masked(),
//!     Timestamp::now(&clock),
//! );
//! record.scopes = Scopes::new(["invoices:read"])?;
//! store.insert(&record).await?;
//! let shown_once = key.expose_secret().to_owned();
//! println!("{key}"); // sk_live_…xxxx: never the secret
//!
//! // A request presents it: check the format, then look the hash up.
//! let presented = format.parse(&shown_once)?;
//! let found = store.get_by_hash(&hasher.hash(&presented)).await?.expect("stored");
//! assert_eq!(found.tenant, TenantId::new("acme"));
//! assert_eq!(found.status(Timestamp::now(&clock)), KeyStatus::Active);
//!
//! // A typo never reaches the store.
//! let typo = shown_once.replacen("sk_live_", "sk_live_x", 1);
//! assert!(format.parse(&typo[..typo.len() - 1]).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Verifying requests
//!
//! [`ApiKeyLayer`](layer::ApiKeyLayer) reads the key from `X-API-Key` or
//! `Authorization: Bearer`, checks its format and checksum (a typo costs no lookup),
//! finds its record through the [cache] and the store, refuses revoked, expired
//! or under-scoped keys with problem+json (`API_KEY_MISSING`, `API_KEY_MALFORMED`,
//! `API_KEY_INVALID`, `API_KEY_REVOKED`, `API_KEY_EXPIRED`, `INSUFFICIENT_SCOPE`, all
//! with an RFC 6750 `WWW-Authenticate` challenge; `API_KEY_UNAVAILABLE` when the store
//! fails) or a gRPC status, and gives handlers the
//! [`ApiKeyContext`](layer::ApiKeyContext): key id, tenant, plan, scopes, metadata and
//! environment. With feature `rate-limit`, a `RateLimitLayer` behind it limits per
//! tenant and plan.
//!
//! ```
//! use axum::{Extension, Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use portcullis_api_keys::format::KeyFormat;
//! use portcullis_api_keys::hash::KeyHasher;
//! use portcullis_api_keys::id::{KeyId, TenantId};
//! use portcullis_api_keys::invalidation::{Invalidation, InvalidationSink};
//! use portcullis_api_keys::layer::{ApiKeyContext, ApiKeyLayer, RequireScopesLayer};
//! use portcullis_api_keys::record::KeyRecord;
//! use portcullis_api_keys::scopes::Scopes;
//! use portcullis_api_keys::store::{KeyStore, memory::MemoryKeyStore};
//! use portcullis_api_keys::timestamp::Timestamp;
//! use portcullis_core::clock::SystemClock;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryKeyStore::new();
//! let hasher = KeyHasher::hmac_sha256(1, b"pepper from the vault, 32 bytes!")?;
//! let key = KeyFormat::default().generate();
//! let mut record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
//!     hasher.hash(&key.parsed()), key.masked(), Timestamp::now(&SystemClock));
//! record.scopes = Scopes::new(["invoices:read"])?;
//! store.insert(&record).await?;
//!
//! let verify = ApiKeyLayer::strict(store.clone(), hasher);
//! let cache = verify.key_cache().clone(); // for the invalidation channel
//! let app = Router::new()
//!     .route("/v1/invoices", get(|Extension(key): Extension<ApiKeyContext>| async move {
//!         format!("the invoices of {}", key.tenant())
//!     }).route_layer(RequireScopesLayer::all(["invoices:read"])?))
//!     .layer(verify);
//!
//! let request = || Request::get("/v1/invoices")
//!     .header("x-api-key", key.expose_secret())
//!     .body(Body::empty()).unwrap();
//! let response = app.clone().oneshot(request()).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // Revoked: the invalidation channel drops the cached record, the next request fails.
//! store.revoke(&record.id, Timestamp::now(&SystemClock)).await?;
//! cache.invalidate(&Invalidation::new(record.id, record.hash));
//! let response = app.oneshot(request()).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="api", error="invalid_token""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod base62;
pub mod cache;
pub mod error;
pub mod format;
pub mod hash;
pub mod id;
pub mod invalidation;
pub mod key;
#[cfg(feature = "tokio")]
pub mod last_used;
pub mod layer;
pub mod lifecycle;
pub mod record;
pub mod revocation;
pub mod scopes;
pub mod store;
pub mod timestamp;
