//! The in-memory store, for one process: tests, development, and small deployments
//! whose keys are created at start-up.
//!
//! Records sit in one map by id, with indexes by hash and by tenant (ordered by
//! creation time and id), behind one `RwLock`: lookups share it, writes hold it for a
//! few map operations and never across an `.await`. Every answer is ready at once.
//! Nothing is persisted.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
//! use portcullis_api_keys::id::{KeyId, TenantId};
//! use portcullis_api_keys::key::MaskedKey;
//! use portcullis_api_keys::record::KeyRecord;
//! use portcullis_api_keys::store::{KeyStore, memory::MemoryKeyStore};
//! use portcullis_api_keys::timestamp::Timestamp;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryKeyStore::new();
//! let hash = KeyHash::from_digest(HashAlgorithm::Sha256, &[1; 32]).unwrap();
//! let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"), hash,
//!     MaskedKey::new("sk_live_…0001"), Timestamp::from_unix_micros(0));
//! store.insert(&record).await.unwrap();
//!
//! let revoked = store.revoke(&record.id, Timestamp::from_unix_micros(5)).await.unwrap();
//! assert_eq!(revoked.unwrap().revoked_at, Some(Timestamp::from_unix_micros(5)));
//! assert_eq!(store.len(), 1);
//! # });
//! ```

use std::collections::{BTreeSet, HashMap};
use std::future::{Future, ready};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{KeyStore, StoreError};
use crate::hash::KeyHash;
use crate::id::{KeyId, TenantId};
use crate::record::{KeyRecord, KeyUpdate};
use crate::timestamp::Timestamp;

/// The in-memory store; clones share the same records. See the [module docs](self).
///
/// ```
/// use portcullis_api_keys::store::memory::MemoryKeyStore;
/// let store = MemoryKeyStore::new();
/// assert!(store.is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryKeyStore {
    inner: Arc<RwLock<Records>>,
}

#[derive(Debug, Default)]
struct Records {
    by_id: HashMap<KeyId, KeyRecord>,
    by_hash: HashMap<KeyHash, KeyId>,
    /// Each tenant's keys in listing order. `created_at` never changes, so entries stay
    /// valid.
    by_tenant: HashMap<TenantId, BTreeSet<(Timestamp, KeyId)>>,
}

impl MemoryKeyStore {
    /// An empty store.
    ///
    /// ```
    /// assert_eq!(portcullis_api_keys::store::memory::MemoryKeyStore::new().len(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records the store holds.
    ///
    /// ```
    /// assert_eq!(portcullis_api_keys::store::memory::MemoryKeyStore::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    /// Whether the store holds no record.
    ///
    /// ```
    /// assert!(portcullis_api_keys::store::memory::MemoryKeyStore::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic while the lock is held cannot leave the maps half-updated (each write
    // checks first, then inserts), so a poisoned lock is still consistent.
    fn read(&self) -> RwLockReadGuard<'_, Records> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Records> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert_now(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let mut records = self.write();
        if records.by_hash.contains_key(&record.hash) {
            return Err(StoreError::DuplicateHash);
        }
        if records.by_id.contains_key(&record.id) {
            return Err(StoreError::DuplicateId { id: record.id });
        }
        records.by_hash.insert(record.hash, record.id);
        records
            .by_tenant
            .entry(record.tenant.clone())
            .or_default()
            .insert((record.created_at, record.id));
        records.by_id.insert(record.id, record.clone());
        Ok(())
    }

    fn get_by_hash_now(&self, hash: &KeyHash) -> Option<KeyRecord> {
        let records = self.read();
        let id = records.by_hash.get(hash)?;
        records.by_id.get(id).cloned()
    }

    fn list_now(&self, tenant: &TenantId) -> Vec<KeyRecord> {
        let records = self.read();
        records
            .by_tenant
            .get(tenant)
            .into_iter()
            .flatten()
            .filter_map(|(_, id)| records.by_id.get(id).cloned())
            .collect()
    }

    fn modify(&self, id: &KeyId, change: impl FnOnce(&mut KeyRecord)) -> Option<KeyRecord> {
        let mut records = self.write();
        let record = records.by_id.get_mut(id)?;
        change(record);
        Some(record.clone())
    }

    fn record_last_used_now(&self, uses: &[(KeyId, Timestamp)]) {
        let mut records = self.write();
        for (id, at) in uses {
            if let Some(record) = records.by_id.get_mut(id) {
                record.last_used_at = record.last_used_at.max(Some(*at));
            }
        }
    }
}

impl KeyStore for MemoryKeyStore {
    fn insert(&self, record: &KeyRecord) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.insert_now(record))
    }

    fn get_by_hash(
        &self,
        hash: &KeyHash,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        ready(Ok(self.get_by_hash_now(hash)))
    }

    fn get(
        &self,
        id: &KeyId,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        ready(Ok(self.read().by_id.get(id).cloned()))
    }

    fn list_by_tenant(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, StoreError>> + Send {
        ready(Ok(self.list_now(tenant)))
    }

    fn update(
        &self,
        id: &KeyId,
        update: &KeyUpdate,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        ready(Ok(self.modify(id, |record| update.apply_to(record))))
    }

    fn revoke(
        &self,
        id: &KeyId,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        ready(Ok(self.modify(id, |record| {
            record.revoked_at = Some(record.revoked_at.map_or(at, |earlier| earlier.min(at)));
        })))
    }

    fn record_last_used(
        &self,
        uses: &[(KeyId, Timestamp)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.record_last_used_now(uses);
        ready(Ok(()))
    }
}
