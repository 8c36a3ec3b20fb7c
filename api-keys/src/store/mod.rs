//! Where key records live: the [`KeyStore`] trait and its backends.
//!
//! The trait is shaped by what verification and key management need: look a key up by
//! its hash (the request path, one indexed query), by id, and by tenant; insert with a
//! unique hash; change, revoke, and record use in batches.
//!
//! - [`MemoryKeyStore`](memory::MemoryKeyStore) (feature `memory`, default): for one
//!   process, tests and development.
//! - [`BoxKeyStore`]: any store behind an `Arc<dyn DynKeyStore>`, to choose a backend at
//!   run time.
//! - `conformance` (feature `conformance`): the suite every backend must pass.
//!
//! # Semantics every backend keeps
//!
//! - Every field of a [`KeyRecord`] reads back exactly as inserted (see
//!   [`record`](crate::record) for the types).
//! - `id` and `hash` are each unique ([`StoreError::DuplicateId`],
//!   [`StoreError::DuplicateHash`]); a hash is its algorithm *and* digest.
//! - Lookups return records whatever their status: revoked and expired keys too, so
//!   the caller can say why a key is refused.
//! - [`list_by_tenant`](KeyStore::list_by_tenant) orders by `created_at`, then by id in
//!   byte order (in PostgreSQL: `ORDER BY created_at, id COLLATE "C"`).
//! - [`revoke`](KeyStore::revoke) keeps the earliest revocation time:
//!   `revoked_at = LEAST(revoked_at, $at)`.
//! - [`record_last_used`](KeyStore::record_last_used) only moves `last_used_at`
//!   forward: `last_used_at = GREATEST(last_used_at, $at)`; unknown ids are skipped.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::format::KeyFormat;
//! use portcullis_api_keys::hash::KeyHasher;
//! use portcullis_api_keys::id::{KeyId, TenantId};
//! use portcullis_api_keys::record::KeyRecord;
//! use portcullis_api_keys::store::{KeyStore, StoreError, memory::MemoryKeyStore};
//! use portcullis_api_keys::timestamp::Timestamp;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (format, hasher, store) = (KeyFormat::default(), KeyHasher::sha256(), MemoryKeyStore::new());
//! let key = format.generate();
//! let hash = hasher.hash(&key.parsed());
//! let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"), hash, key.masked(),
//!     Timestamp::from_unix_micros(1_700_000_000_000_000));
//! store.insert(&record).await?;
//!
//! // A request presents the key.
//! let presented = format.parse(key.expose_secret()).unwrap();
//! let found = store.get_by_hash(&hasher.hash(&presented)).await?;
//! assert_eq!(found.as_ref(), Some(&record));
//! # Ok::<(), StoreError>(())
//! # }).unwrap();
//! ```

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::hash::KeyHash;
use crate::id::{KeyId, TenantId};
use crate::record::{KeyRecord, KeyUpdate};
use crate::timestamp::Timestamp;

/// A boxed error from a store's backend: [`portcullis_core::boxed::BoxError`], the one
/// every Portcullis crate names.
///
/// ```
/// use portcullis_api_keys::store::BoxError;
/// let error: BoxError = "backend down".into();
/// assert_eq!(error.to_string(), "backend down");
/// ```
pub use portcullis_core::boxed::BoxError;

/// Why a store could not do what it was asked.
///
/// ```
/// use portcullis_api_keys::store::StoreError;
/// let error = StoreError::backend(std::io::Error::other("connection reset"));
/// assert_eq!(error.to_string(), "API key store failed: connection reset");
/// assert!(std::error::Error::source(&error).is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with this hash (algorithm and digest) is already stored.
    #[error("an API key with this hash is already stored")]
    DuplicateHash,
    /// A record with this id is already stored.
    #[error("an API key with id `{id}` is already stored")]
    DuplicateId {
        /// The id.
        id: KeyId,
    },
    /// The backend failed (connection, protocol, query).
    #[error("API key store failed: {source}")]
    Backend {
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// The backend returned something that is not a valid record.
    #[error("API key store returned a malformed record: {source}")]
    Malformed {
        /// What was wrong.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// Wraps a backend error.
    ///
    /// ```
    /// use portcullis_api_keys::store::StoreError;
    /// assert!(matches!(StoreError::backend("timed out"), StoreError::Backend { .. }));
    /// ```
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend {
            source: source.into(),
        }
    }

    /// Wraps the reason a stored record cannot be read back.
    ///
    /// ```
    /// use portcullis_api_keys::{id::KeyId, store::StoreError};
    /// let error = StoreError::malformed("key_1".parse::<KeyId>().unwrap_err());
    /// assert_eq!(
    ///     error.to_string(),
    ///     "API key store returned a malformed record: invalid key id `key_1`"
    /// );
    /// ```
    pub fn malformed(source: impl Into<BoxError>) -> Self {
        Self::Malformed {
            source: source.into(),
        }
    }
}

/// Storage of [`KeyRecord`]s, looked up by hash.
///
/// Every method is one round trip to the backend: `get_by_hash` in particular is on the
/// request path (behind the verification cache) and must be one indexed lookup.
/// The methods return `Send` futures that may borrow their arguments; implement them
/// with `async fn`. Implementations keep the semantics listed in the
/// [module docs](self) and pass the `conformance` suite.
///
/// ```
/// use portcullis_api_keys::{hash::KeyHash, record::KeyStatus, store::{KeyStore, StoreError}};
/// use portcullis_api_keys::timestamp::Timestamp;
///
/// async fn is_active<S: KeyStore>(store: &S, hash: &KeyHash, now: Timestamp) -> Result<bool, StoreError> {
///     let record = store.get_by_hash(hash).await?;
///     Ok(record.is_some_and(|record| record.status(now) == KeyStatus::Active))
/// }
///
/// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
/// # use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
/// # use portcullis_api_keys::store::memory::MemoryKeyStore;
/// # use portcullis_core::clock::SystemClock;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryKeyStore::new();
/// let keys = KeyLifecycle::new(store.clone(), KeyFormat::default(), KeyHasher::sha256());
/// let record = keys.create(NewKey::new(TenantId::new("acme"))).await?.record;
/// assert!(is_active(&store, &record.hash, Timestamp::now(&SystemClock)).await?);
/// keys.revoke(&record.id).await?;
/// assert!(!is_active(&store, &record.hash, Timestamp::now(&SystemClock)).await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub trait KeyStore: Send + Sync + 'static {
    /// Stores a new record. Fails with [`StoreError::DuplicateHash`] if a record with
    /// the same hash exists, [`StoreError::DuplicateId`] if one with the same id does;
    /// nothing is stored then.
    fn insert(&self, record: &KeyRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The record with this hash (algorithm and digest), if any: the verification
    /// path.
    fn get_by_hash(
        &self,
        hash: &KeyHash,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;

    /// The record with this id, if any.
    fn get(&self, id: &KeyId)
    -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;

    /// Every record of `tenant`, revoked and expired ones included, ordered by
    /// `created_at` then id.
    fn list_by_tenant(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, StoreError>> + Send;

    /// Applies `update` to the record with this id and returns the record as it now
    /// is; `None` if there is none.
    fn update(
        &self,
        id: &KeyId,
        update: &KeyUpdate,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;

    /// Revokes the key with this id from `at` on (which may lie in the future), keeping
    /// an earlier revocation time if it has one, and returns the record as it now is;
    /// `None` if there is none.
    fn revoke(
        &self,
        id: &KeyId,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;

    /// Records when keys were used, in one batch (a verification layer coalesces uses
    /// and flushes them periodically; never one write per request). Each `last_used_at`
    /// becomes the latest of its current value and the times given for its id (a batch
    /// may name an id more than once); ids without a record are skipped.
    fn record_last_used(
        &self,
        uses: &[(KeyId, Timestamp)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A boxed future of a [`DynKeyStore`]: [`portcullis_core::boxed::BoxFuture`].
pub use portcullis_core::boxed::BoxFuture;

/// The object-safe form of [`KeyStore`], implemented for every store: put one behind an
/// `Arc<dyn DynKeyStore>` (or a [`BoxKeyStore`]) to pick the backend at run time.
pub trait DynKeyStore: Send + Sync + 'static {
    /// [`KeyStore::insert`], boxed.
    fn insert_boxed<'a>(&'a self, record: &'a KeyRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// [`KeyStore::get_by_hash`], boxed.
    fn get_by_hash_boxed<'a>(
        &'a self,
        hash: &'a KeyHash,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>>;

    /// [`KeyStore::get`], boxed.
    fn get_boxed<'a>(
        &'a self,
        id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>>;

    /// [`KeyStore::list_by_tenant`], boxed.
    fn list_by_tenant_boxed<'a>(
        &'a self,
        tenant: &'a TenantId,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>>;

    /// [`KeyStore::update`], boxed.
    fn update_boxed<'a>(
        &'a self,
        id: &'a KeyId,
        update: &'a KeyUpdate,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>>;

    /// [`KeyStore::revoke`], boxed.
    fn revoke_boxed<'a>(
        &'a self,
        id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>>;

    /// [`KeyStore::record_last_used`], boxed.
    fn record_last_used_boxed<'a>(
        &'a self,
        uses: &'a [(KeyId, Timestamp)],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<S: KeyStore> DynKeyStore for S {
    fn insert_boxed<'a>(&'a self, record: &'a KeyRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.insert(record))
    }

    fn get_by_hash_boxed<'a>(
        &'a self,
        hash: &'a KeyHash,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        Box::pin(self.get_by_hash(hash))
    }

    fn get_boxed<'a>(
        &'a self,
        id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        Box::pin(self.get(id))
    }

    fn list_by_tenant_boxed<'a>(
        &'a self,
        tenant: &'a TenantId,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        Box::pin(self.list_by_tenant(tenant))
    }

    fn update_boxed<'a>(
        &'a self,
        id: &'a KeyId,
        update: &'a KeyUpdate,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        Box::pin(self.update(id, update))
    }

    fn revoke_boxed<'a>(
        &'a self,
        id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        Box::pin(self.revoke(id, at))
    }

    fn record_last_used_boxed<'a>(
        &'a self,
        uses: &'a [(KeyId, Timestamp)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.record_last_used(uses))
    }
}

/// Any store, chosen at run time: a [`KeyStore`] over an `Arc<dyn DynKeyStore>`.
/// Clones share the store. Costs a `Box` per call; prefer the concrete store type when
/// it is known at compile time.
#[derive(Clone)]
pub struct BoxKeyStore {
    inner: Arc<dyn DynKeyStore>,
}

impl BoxKeyStore {
    /// Boxes `store`.
    pub fn new(store: impl KeyStore) -> Self {
        Self {
            inner: Arc::new(store),
        }
    }

    /// Wraps a store already behind an `Arc<dyn DynKeyStore>`.
    pub fn from_arc(inner: Arc<dyn DynKeyStore>) -> Self {
        Self { inner }
    }
}

impl fmt::Debug for BoxKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxKeyStore").finish_non_exhaustive()
    }
}

// `async fn`s rather than returning the boxed futures: those borrow the store and the
// arguments under one lifetime, which the trait's `impl Future` cannot name.
impl KeyStore for BoxKeyStore {
    async fn insert(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.inner.insert_boxed(record).await
    }

    async fn get_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.get_by_hash_boxed(hash).await
    }

    async fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.get_boxed(id).await
    }

    async fn list_by_tenant(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.list_by_tenant_boxed(tenant).await
    }

    async fn update(
        &self,
        id: &KeyId,
        update: &KeyUpdate,
    ) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.update_boxed(id, update).await
    }

    async fn revoke(&self, id: &KeyId, at: Timestamp) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.revoke_boxed(id, at).await
    }

    async fn record_last_used(&self, uses: &[(KeyId, Timestamp)]) -> Result<(), StoreError> {
        self.inner.record_last_used_boxed(uses).await
    }
}
