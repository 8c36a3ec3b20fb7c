//! [`KeyLifecycle`]: create, list, change, revoke and rotate keys.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use portcullis_core::clock::{Clock, SystemClock};

use super::{CreatedKey, LifecycleError, NewKey, Rotation};
use crate::format::KeyFormat;
use crate::hash::KeyHasher;
use crate::id::{KeyId, TenantId};
use crate::invalidation::{Invalidation, InvalidationSink};
use crate::record::{KeyRecord, KeyUpdate};
use crate::revocation::channel::Publisher;
use crate::revocation::{ChannelError, RevocationChannel};
use crate::store::KeyStore;
use crate::timestamp::Timestamp;

/// The key management API of a service: creates keys (handing out each plaintext
/// once), lists, reads, changes, revokes and rotates them, and makes every change
/// reach the caches that may hold the key. See the [module docs](super).
///
/// Built from a store, a key format and a hasher (the same the verification layer
/// uses), a clock (the system clock unless set), and invalidation targets: local
/// [`sink`](Self::sink)s, called synchronously, and [`channel`](Self::channel)s to the
/// other instances. Needs no particular async runtime (the store and channels may).
/// Clones share everything.
///
/// Ids are unguessable but not authorization: before acting for a tenant, check that
/// the record's `tenant` is theirs.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, UNIX_EPOCH};
/// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
/// use portcullis_api_keys::invalidation::{Invalidation, InvalidationSink};
/// use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
/// use portcullis_api_keys::record::KeyStatus;
/// use portcullis_api_keys::store::memory::MemoryKeyStore;
/// use portcullis_api_keys::timestamp::Timestamp;
/// use portcullis_core::clock::ManualClock;
///
/// struct Cache;
/// impl InvalidationSink for Cache {
///     fn invalidate(&self, _: &Invalidation) { /* drop the cached record */ }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256())
///     .clock(clock.clone())
///     .sink(Arc::new(Cache));
///
/// let created = keys.create(NewKey::new(TenantId::new("acme")).name("CI")).await?;
/// let id = created.record.id;
/// keys.revoke(&id).await?;
/// let record = keys.get(&id).await?;
/// assert_eq!(record.status(Timestamp::now(&clock)), KeyStatus::Revoked);
/// # Ok::<(), portcullis_api_keys::lifecycle::LifecycleError>(())
/// # }).unwrap();
/// ```
pub struct KeyLifecycle<S> {
    store: Arc<S>,
    format: KeyFormat,
    hasher: KeyHasher,
    clock: Arc<dyn Clock>,
    sinks: Vec<Arc<dyn InvalidationSink>>,
    channels: Vec<Publisher>,
    broadcast_failures: Arc<AtomicU64>,
}

impl<S> Clone for KeyLifecycle<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            format: self.format.clone(),
            hasher: self.hasher.clone(),
            clock: self.clock.clone(),
            sinks: self.sinks.clone(),
            channels: self.channels.clone(),
            broadcast_failures: self.broadcast_failures.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for KeyLifecycle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLifecycle")
            .field("store", &self.store)
            .field("format", &self.format)
            .field("hasher", &self.hasher)
            .field("clock", &self.clock)
            .field("sinks", &self.sinks.len())
            .field("channels", &self.channels)
            .finish()
    }
}

impl<S: KeyStore> KeyLifecycle<S> {
    /// Key management over `store`, issuing keys in `format` and storing their hashes
    /// by `hasher`; on the system clock, with no invalidation target yet.
    pub fn new(store: S, format: KeyFormat, hasher: KeyHasher) -> Self {
        Self {
            store: Arc::new(store),
            format,
            hasher,
            clock: Arc::new(SystemClock),
            sinks: Vec::new(),
            channels: Vec::new(),
            broadcast_failures: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sets the clock that times creation, expiry, revocation and rotation.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Adds a local sink (this instance's verification cache): every change calls it
    /// synchronously, before the operation returns.
    #[must_use]
    pub fn sink(mut self, sink: Arc<dyn InvalidationSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Adds a channel to publish every change on, for the other instances'
    /// [`Subscriber`](crate::revocation::Subscriber)s.
    #[must_use]
    pub fn channel(mut self, channel: impl RevocationChannel) -> Self {
        self.channels.push(Publisher(Arc::new(channel)));
        self
    }

    /// The store.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, lifecycle::KeyLifecycle};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
    /// assert!(keys.store().is_empty());
    /// ```
    pub fn store(&self) -> &S {
        &self.store
    }

    /// How many publications on a channel have failed. Each failure is also logged
    /// (a `tracing` warning); see [`invalidate`](Self::invalidate) to publish again.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, lifecycle::KeyLifecycle};
    /// # use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
    /// assert_eq!(keys.broadcast_failures(), 0);
    /// ```
    pub fn broadcast_failures(&self) -> u64 {
        self.broadcast_failures.load(Ordering::Relaxed)
    }

    fn now(&self) -> Timestamp {
        Timestamp::now(&*self.clock)
    }

    /// Creates a key: generates it, stores its hash and masked form with what `new`
    /// says, and returns the plaintext, which nothing keeps: it cannot be shown again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
    /// use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
    /// use portcullis_api_keys::store::{KeyStore, memory::MemoryKeyStore};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (format, hasher) = (KeyFormat::default(), KeyHasher::sha256());
    /// let keys = KeyLifecycle::new(MemoryKeyStore::new(), format.clone(), hasher.clone());
    /// let created = keys
    ///     .create(NewKey::new(TenantId::new("acme")).name("CI").expires_in(Duration::from_secs(3600)))
    ///     .await?;
    /// let shown_once = created.key.expose_secret();
    ///
    /// let presented = format.parse(shown_once).unwrap();
    /// let stored = keys.store().get_by_hash(&hasher.hash(&presented)).await?;
    /// assert_eq!(stored.as_ref(), Some(&created.record));
    /// assert!(created.record.expires_at.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn create(&self, new: NewKey) -> Result<CreatedKey, LifecycleError> {
        let now = self.now();
        let expires_at = new.expires_at_from(now);
        let key = self.format.generate();
        let mut record = KeyRecord::new(
            KeyId::generate(),
            new.tenant,
            self.hasher.hash(&key.parsed()),
            key.masked(),
            now,
        );
        record.name = new.name;
        record.scopes = new.scopes;
        record.plan = new.plan;
        record.metadata = new.metadata;
        record.expires_at = expires_at;
        self.store.insert(&record).await?;
        Ok(CreatedKey { key, record })
    }

    /// Every key of `tenant`, revoked and expired ones included, oldest first. Records
    /// hold the masked key (`sk_live_…a1b2`) and its hash, never the key.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
    /// # use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
    /// # use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
    /// let acme = TenantId::new("acme");
    /// let created = keys.create(NewKey::new(acme.clone())).await?;
    /// let listed = keys.list(&acme).await?;
    /// assert_eq!(listed.len(), 1);
    /// assert_eq!(listed[0].masked, created.key.masked());
    /// # Ok::<(), portcullis_api_keys::lifecycle::LifecycleError>(())
    /// # }).unwrap();
    /// ```
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, LifecycleError> {
        Ok(self.store.list_by_tenant(tenant).await?)
    }

    /// The key with this id.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::{KeyId, TenantId}};
    /// # use portcullis_api_keys::lifecycle::{KeyLifecycle, LifecycleError, NewKey};
    /// # use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
    /// let created = keys.create(NewKey::new(TenantId::new("acme"))).await?;
    /// assert_eq!(keys.get(&created.record.id).await?, created.record);
    /// assert!(matches!(
    ///     keys.get(&KeyId::generate()).await,
    ///     Err(LifecycleError::UnknownKey { .. })
    /// ));
    /// # Ok::<(), LifecycleError>(())
    /// # }).unwrap();
    /// ```
    pub async fn get(&self, id: &KeyId) -> Result<KeyRecord, LifecycleError> {
        self.store
            .get(id)
            .await?
            .ok_or(LifecycleError::UnknownKey { id: *id })
    }

    /// Changes a key's name, scopes, metadata, expiry or plan, invalidates it
    /// everywhere, and returns the record as it now is.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
    /// # use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
    /// # use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// use portcullis_api_keys::{record::KeyUpdate, scopes::Scopes};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
    /// let id = keys.create(NewKey::new(TenantId::new("acme"))).await?.record.id;
    /// let update = KeyUpdate::new().name("read only").scopes(Scopes::new(["invoices:read"]).unwrap());
    /// let record = keys.update(&id, &update).await?;
    /// assert_eq!(record.name, "read only");
    /// let record = keys.update(&id, &KeyUpdate::new().plan(Some("pro"))).await?;
    /// assert_eq!(record.plan.as_deref(), Some("pro"));
    /// # Ok::<(), portcullis_api_keys::lifecycle::LifecycleError>(())
    /// # }).unwrap();
    /// ```
    pub async fn update(
        &self,
        id: &KeyId,
        update: &KeyUpdate,
    ) -> Result<KeyRecord, LifecycleError> {
        let record = self
            .store
            .update(id, update)
            .await?
            .ok_or(LifecycleError::UnknownKey { id: *id })?;
        self.invalidate_or_warn(&record).await;
        Ok(record)
    }

    /// Revokes a key now, invalidates it everywhere, and returns the record as it now
    /// is. Revoking a revoked key keeps its earlier revocation time.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
    /// # use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
    /// # use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// use portcullis_api_keys::{record::KeyStatus, timestamp::Timestamp};
    /// use portcullis_core::clock::SystemClock;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
    /// let id = keys.create(NewKey::new(TenantId::new("acme"))).await?.record.id;
    /// let record = keys.revoke(&id).await?;
    /// assert_eq!(record.status(Timestamp::now(&SystemClock)), KeyStatus::Revoked);
    /// # Ok::<(), portcullis_api_keys::lifecycle::LifecycleError>(())
    /// # }).unwrap();
    /// ```
    pub async fn revoke(&self, id: &KeyId) -> Result<KeyRecord, LifecycleError> {
        self.revoke_at(id, self.now()).await
    }

    /// Revokes a key from `at` on (a time in the future schedules the revocation),
    /// keeping an earlier revocation time if it has one; invalidates it everywhere at
    /// once, and returns the record as it now is.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
    /// # use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
    /// # use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// use std::time::Duration;
    /// use portcullis_api_keys::{record::KeyStatus, timestamp::Timestamp};
    /// use portcullis_core::clock::SystemClock;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256());
    /// let id = keys.create(NewKey::new(TenantId::new("acme"))).await?.record.id;
    /// let now = Timestamp::now(&SystemClock);
    /// let friday = now.saturating_add(Duration::from_secs(3 * 86_400));
    /// let record = keys.revoke_at(&id, friday).await?;
    /// assert_eq!(record.status(now), KeyStatus::Active);
    /// assert_eq!(record.status(friday), KeyStatus::Revoked);
    /// # Ok::<(), portcullis_api_keys::lifecycle::LifecycleError>(())
    /// # }).unwrap();
    /// ```
    pub async fn revoke_at(&self, id: &KeyId, at: Timestamp) -> Result<KeyRecord, LifecycleError> {
        let record = self
            .store
            .revoke(id, at)
            .await?
            .ok_or(LifecycleError::UnknownKey { id: *id })?;
        self.invalidate_or_warn(&record).await;
        Ok(record)
    }

    /// Replaces a key by a new one with the same tenant, name, scopes, plan, metadata
    /// and lifetime (a key that expired 90 days after its creation is replaced by one
    /// that expires 90 days after now); the old key keeps working for `overlap`, so
    /// its users can switch, then expires. A zero `overlap` revokes it at once. The
    /// old key never lives longer than it would have. The old key is invalidated
    /// everywhere.
    ///
    /// Only an active key can be rotated ([`LifecycleError::NotActive`]). The new key
    /// is stored before the old one is changed; if that change fails, the new key is
    /// revoked again (its plaintext is dropped unseen) and the error returned, and the
    /// old key is as it was.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
    /// use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
    /// use portcullis_api_keys::record::KeyStatus;
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// use portcullis_api_keys::timestamp::Timestamp;
    /// use portcullis_core::clock::ManualClock;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    /// let keys = KeyLifecycle::new(MemoryKeyStore::new(), KeyFormat::default(), KeyHasher::sha256())
    ///     .clock(clock.clone());
    /// let old = keys.create(NewKey::new(TenantId::new("acme"))).await?.record;
    ///
    /// let rotation = keys.rotate(&old.id, Duration::from_secs(24 * 3600)).await?;
    /// clock.advance(Duration::from_secs(23 * 3600));
    /// assert_eq!(keys.get(&old.id).await?.status(Timestamp::now(&clock)), KeyStatus::Active);
    /// clock.advance(Duration::from_secs(3600));
    /// assert_eq!(keys.get(&old.id).await?.status(Timestamp::now(&clock)), KeyStatus::Expired);
    /// assert_eq!(rotation.new.record.status(Timestamp::now(&clock)), KeyStatus::Active);
    /// # Ok::<(), portcullis_api_keys::lifecycle::LifecycleError>(())
    /// # }).unwrap();
    /// ```
    pub async fn rotate(&self, id: &KeyId, overlap: Duration) -> Result<Rotation, LifecycleError> {
        let now = self.now();
        let old = self.get(id).await?;
        let status = old.status(now);
        if !status.is_active() {
            return Err(LifecycleError::NotActive { id: *id, status });
        }

        let key = self.format.generate();
        let mut record = KeyRecord::new(
            KeyId::generate(),
            old.tenant.clone(),
            self.hasher.hash(&key.parsed()),
            key.masked(),
            now,
        );
        record.name.clone_from(&old.name);
        record.scopes = old.scopes.clone();
        record.plan.clone_from(&old.plan);
        record.metadata = old.metadata.clone();
        record.expires_at = old.expires_at.map(|expires_at| {
            let lifetime = expires_at
                .as_unix_micros()
                .saturating_sub(old.created_at.as_unix_micros());
            now.saturating_add(Duration::from_micros(lifetime.max(0).unsigned_abs()))
        });
        self.store.insert(&record).await?;

        let retired = if overlap.is_zero() {
            self.store.revoke(id, now).await
        } else {
            let end = now.saturating_add(overlap);
            let end = old.expires_at.map_or(end, |expires_at| expires_at.min(end));
            let update = KeyUpdate::new().expires_at(Some(end));
            self.store.update(id, &update).await
        };
        let old = match retired {
            Ok(Some(old)) => old,
            Ok(None) => {
                self.withdraw(&record, now).await;
                return Err(LifecycleError::UnknownKey { id: *id });
            }
            Err(error) => {
                self.withdraw(&record, now).await;
                return Err(error.into());
            }
        };
        self.invalidate_or_warn(&old).await;
        Ok(Rotation {
            new: CreatedKey { key, record },
            old,
        })
    }

    /// Revokes a new key whose rotation failed half way.
    async fn withdraw(&self, record: &KeyRecord, now: Timestamp) {
        if let Err(error) = self.store.revoke(&record.id, now).await {
            tracing::warn!(
                key_id = %record.id,
                %error,
                "a failed rotation left its new key stored: its plaintext was never shown, \
                 revoke it"
            );
        }
    }

    /// Drops `record`'s key from the local sinks at once, then publishes its
    /// invalidation on every channel; the first channel error, after trying them all.
    /// Every change this API makes does this already (logging a failed publication
    /// instead of failing the change, which is stored by then); call it to publish
    /// again after such a failure, or for a change made outside this API (SQL run by
    /// hand).
    pub async fn invalidate(&self, record: &KeyRecord) -> Result<(), ChannelError> {
        let invalidation = Invalidation::new(record.id, record.hash);
        for sink in &self.sinks {
            sink.invalidate(&invalidation);
        }
        let mut first = None;
        for channel in &self.channels {
            if let Err(error) = channel.0.publish_boxed(&invalidation).await {
                self.broadcast_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    key_id = %record.id,
                    channel = ?channel,
                    %error,
                    "could not publish a key's invalidation: other instances keep their \
                     cached state of it until the cache entry expires"
                );
                first.get_or_insert(error);
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn invalidate_or_warn(&self, record: &KeyRecord) {
        // Logged and counted in `invalidate`; the change itself is stored.
        let _ = self.invalidate(record).await;
    }
}
