//! What to create ([`NewKey`]) and what creating and rotating give back
//! ([`CreatedKey`], [`Rotation`]).

use std::time::Duration;

use crate::id::TenantId;
use crate::key::PlaintextKey;
use crate::record::{KeyRecord, Metadata};
use crate::scopes::Scopes;
use crate::timestamp::Timestamp;

/// When a new key stops working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    In(Duration),
    At(Timestamp),
}

/// A key to create with [`KeyLifecycle::create`](super::KeyLifecycle::create): its
/// tenant, and optionally a name, scopes, a plan, metadata and an expiry.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct NewKey {
    pub(super) tenant: TenantId,
    pub(super) name: String,
    pub(super) scopes: Scopes,
    pub(super) plan: Option<String>,
    pub(super) metadata: Metadata,
    expiry: Option<Expiry>,
}

impl NewKey {
    /// A key for `tenant`: no name, no scopes, the tenant's default plan, no
    /// metadata, no expiry.
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            name: String::new(),
            scopes: Scopes::default(),
            plan: None,
            metadata: Metadata::new(),
            expiry: None,
        }
    }

    /// Names the key, so its owner can tell it apart (`"CI deploys"`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// What the key may do.
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// The plan requests with the key are billed and limited under.
    pub fn plan(mut self, plan: impl Into<String>) -> Self {
        self.plan = Some(plan.into());
        self
    }

    /// Free-form data kept with the key.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Makes the key temporary: it expires `ttl` after it is created (zero: at once).
    pub fn expires_in(mut self, ttl: Duration) -> Self {
        self.expiry = Some(Expiry::In(ttl));
        self
    }

    /// Makes the key expire at `at`.
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.expiry = Some(Expiry::At(at));
        self
    }

    /// The expiry of a key created at `now`.
    pub(super) fn expires_at_from(&self, now: Timestamp) -> Option<Timestamp> {
        self.expiry.map(|expiry| match expiry {
            Expiry::In(ttl) => now.saturating_add(ttl),
            Expiry::At(at) => at,
        })
    }
}

/// A newly created key: the plaintext to hand to its owner once, and the record that
/// was stored (which holds only its hash and masked form).
///
/// Not `Clone`; `Debug` shows the key masked, and the key is wiped from memory when
/// dropped.
///
/// ```
/// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
/// use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
/// use portcullis_api_keys::store::memory::MemoryKeyStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
/// let created = keys.create(NewKey::new(TenantId::new("acme"))).await?;
/// assert_eq!(created.record.masked, created.key.masked());
/// assert!(!format!("{created:?}").contains(created.key.expose_secret()));
/// let (key, record) = created.into_parts();
/// # Ok::<(), portcullis_api_keys::lifecycle::LifecycleError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedKey {
    /// The key: show it once (`key.expose_secret()`), never store or log it.
    pub key: PlaintextKey,
    /// What was stored.
    pub record: KeyRecord,
}

impl CreatedKey {
    /// The key and the record.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
    /// # use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
    /// # use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
    /// let (key, record) = keys.create(NewKey::new(TenantId::new("acme"))).await?.into_parts();
    /// assert_eq!(record.masked, key.masked());
    /// # Ok::<(), portcullis_api_keys::lifecycle::LifecycleError>(())
    /// # }).unwrap();
    /// ```
    pub fn into_parts(self) -> (PlaintextKey, KeyRecord) {
        (self.key, self.record)
    }
}

/// What [`KeyLifecycle::rotate`](super::KeyLifecycle::rotate) did: the new key, and
/// the old key's record as it now is (expiring at the end of the overlap, or
/// revoked).
///
/// ```
/// use std::time::Duration;
/// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
/// use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
/// use portcullis_api_keys::store::memory::MemoryKeyStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
/// let old = keys.create(NewKey::new(TenantId::new("acme"))).await?.record;
/// let rotation = keys.rotate(&old.id, Duration::from_secs(3600)).await?;
/// assert_eq!(rotation.old.id, old.id);
/// assert_eq!(rotation.new.record.tenant, old.tenant);
/// # Ok::<(), portcullis_api_keys::lifecycle::LifecycleError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Rotation {
    /// The new key, to hand out once.
    pub new: CreatedKey,
    /// The old key's record after the change.
    pub old: KeyRecord,
}
