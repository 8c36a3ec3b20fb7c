//! The verification middleware: [`ApiKeyLayer`], the [`ApiKey`] service and its
//! [`ResponseFuture`]; per-route scopes with [`RequireScopesLayer`].
//!
//! For each request the service
//!
//! 1. reads the key from its [sources](KeySource): `X-API-Key` or
//!    `Authorization: Bearer` by default; the query string only when
//!    [enabled](ApiKeyLayer::insecure_query_parameter). A request with no key is
//!    `API_KEY_MISSING`; one whose key cannot be read (not visible ASCII, empty,
//!    `Bearer` without a token) or that carries two keys is `API_KEY_MALFORMED`;
//! 2. checks format and checksum ([`KeyFormat::parse`](crate::format::KeyFormat::parse),
//!    allocation-free): a typo or a guess is `API_KEY_MALFORMED` without any cache or
//!    store access; then the [environment](EnvironmentPolicy) (`API_KEY_INVALID` if
//!    refused);
//! 3. hashes the key and looks the hash up in the [cache](crate::cache), then the
//!    store ([`KeyStore::get_by_hash`](crate::store::KeyStore::get_by_hash), one
//!    lookup however many requests present the same new key at once). A well-formed
//!    key the store does not hold is `API_KEY_INVALID`, whoever's key it might be; a
//!    failing store is `503 API_KEY_UNAVAILABLE`, logged;
//! 4. judges the record at the current time, cached or not:
//!    [revoked or expired](crate::record::KeyRecord::status) is `API_KEY_REVOKED` or
//!    `API_KEY_EXPIRED`; lacking a [required scope](ApiKeyLayer::require_scopes) is
//!    `403 INSUFFICIENT_SCOPE`;
//! 5. reports the use to the [`UsageRecorder`](crate::invalidation::UsageRecorder), if
//!    any, puts an [`ApiKeyContext`] into the request extensions (with feature
//!    `rate-limit`, also `portcullis-rate-limit`'s `TenantId` and `PlanName`, so a
//!    `RateLimitLayer` behind this one limits per tenant and plan), and calls the
//!    inner service.
//!
//! Refusals are responses ([`ApiKeyRejection`] lists them): problem+json
//! ([`portcullis_core::problem`]) with a stable `code` and an
//! [RFC 6750](https://www.rfc-editor.org/rfc/rfc6750#section-3) `WWW-Authenticate`
//! challenge, or a `grpc-status` for gRPC callers; the [`ApiKeyRejection`] and the
//! problem travel in the response extensions. The service stays infallible under
//! axum.
//!
//! A cache hit is decided in `call`, with no allocation of the layer's own beyond the
//! context in the request extensions; only a miss boxes its store lookup (see
//! [`ApiKey`]'s source for why).
//!
//! Secrets: the plaintext key is read from the request, parsed and hashed in place,
//! never copied, logged or compared; lookups are by hash, and hashes compare in
//! constant time.
//!
//! # Example
//!
//! ```
//! use axum::{Router, body::Body, routing::{get, post}};
//! use http::{Request, StatusCode};
//! use portcullis_api_keys::store::memory::MemoryKeyStore;
//! use portcullis_api_keys::{
//!     ApiKeyContext, ApiKeyLayer, KeyFormat, KeyHasher, KeyId, KeyRecord, KeyStore,
//!     RequireScopesLayer, Scopes, TenantId, Timestamp,
//! };
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (store, hasher) = (MemoryKeyStore::new(), KeyHasher::sha256());
//! let key = KeyFormat::default().generate();
//! let mut record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
//!     hasher.hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
//! record.scopes = Scopes::new(["invoices:read"])?;
//! store.insert(&record).await?;
//!
//! let app = Router::new()
//!     .route("/invoices", get(|key: ApiKeyContext| async move { format!("invoices of {}", key.tenant()) })
//!         .route_layer(RequireScopesLayer::all(["invoices:read"])?))
//!     .route("/invoices", post(|| async { "created" })
//!         .route_layer(RequireScopesLayer::all(["invoices:write"])?))
//!     .layer(ApiKeyLayer::strict(store, hasher));
//!
//! let request = |method: &str, key: &str| {
//!     Request::builder().method(method).uri("/invoices")
//!         .header("authorization", format!("Bearer {key}"))
//!         .body(Body::empty()).unwrap()
//! };
//! let listed = app.clone().oneshot(request("GET", key.expose_secret())).await?;
//! assert_eq!(listed.status(), StatusCode::OK);
//!
//! let created = app.clone().oneshot(request("POST", key.expose_secret())).await?;
//! assert_eq!(created.status(), StatusCode::FORBIDDEN);
//! assert_eq!(created.headers()["www-authenticate"],
//!     r#"Bearer realm="api", error="insufficient_scope", scope="invoices:write""#);
//!
//! let typo = app.oneshot(request("GET", &key.expose_secret()[1..])).await?;
//! assert_eq!(typo.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(typo.headers()["content-type"], "application/problem+json");
//! assert_eq!(typo.headers()["www-authenticate"], r#"Bearer realm="api", error="invalid_token""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod challenge;
mod config;
mod context;
mod environment;
mod future;
mod layer;
mod rejection;
pub mod require_scopes;
mod requirement;
mod service;
mod source;
mod verdict;

pub use self::challenge::DEFAULT_REALM;
pub use self::config::{ApiKeyConfig, ApiKeyPreset, LayerConfigError};
pub use self::context::ApiKeyContext;
#[cfg(feature = "axum")]
pub use self::context::MissingApiKeyContext;
pub use self::environment::EnvironmentPolicy;
pub use self::future::ResponseFuture;
pub use self::layer::ApiKeyLayer;
pub use self::rejection::ApiKeyRejection;
pub use self::require_scopes::{RequireScopes, RequireScopesLayer};
pub use self::service::ApiKey;
pub use self::source::{KeySource, X_API_KEY};
