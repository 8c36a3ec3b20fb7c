//! The key lifecycle over the in-memory store: create, list, get, update, revoke,
//! rotate and temporary keys, on a manual clock; local invalidation at once; typed
//! errors.
#![cfg(feature = "memory")]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use portcullis_api_keys::format::KeyFormat;
use portcullis_api_keys::hash::{KeyHash, KeyHasher};
use portcullis_api_keys::id::{KeyId, TenantId};
use portcullis_api_keys::invalidation::{Invalidation, InvalidationSink};
use portcullis_api_keys::lifecycle::{KeyLifecycle, LifecycleError, NewKey};
use portcullis_api_keys::record::{KeyRecord, KeyStatus, KeyUpdate, Metadata};
use portcullis_api_keys::revocation::{ChannelError, Receiver, RevocationChannel};
use portcullis_api_keys::scopes::Scopes;
use portcullis_api_keys::store::{KeyStore, StoreError, memory::MemoryKeyStore};
use portcullis_api_keys::timestamp::Timestamp;
use portcullis_core::clock::ManualClock;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// A sink that remembers what it was told.
#[derive(Default)]
struct Sink(Mutex<Vec<Invalidation>>);

impl InvalidationSink for Sink {
    fn invalidate(&self, invalidation: &Invalidation) {
        self.0.lock().unwrap().push(*invalidation);
    }
}

impl Sink {
    fn ids(&self) -> Vec<KeyId> {
        self.0.lock().unwrap().iter().map(|i| i.id).collect()
    }
}

struct Fixture {
    clock: ManualClock,
    format: KeyFormat,
    hasher: KeyHasher,
    store: MemoryKeyStore,
    sink: Arc<Sink>,
    keys: KeyLifecycle<MemoryKeyStore>,
}

fn fixture() -> Fixture {
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let format = KeyFormat::new("acme").unwrap();
    let hasher = KeyHasher::hmac_sha256(3, b"a pepper of at least 16 bytes!!!").unwrap();
    let store = MemoryKeyStore::new();
    let sink = Arc::new(Sink::default());
    let keys = KeyLifecycle::new(store.clone(), format.clone(), hasher.clone())
        .clock(clock.clone())
        .sink(sink.clone());
    Fixture {
        clock,
        format,
        hasher,
        store,
        sink,
        keys,
    }
}

impl Fixture {
    fn now(&self) -> Timestamp {
        Timestamp::now(&self.clock)
    }

    /// What verification would decide for a presented key: parse, hash, look up,
    /// status now. `None` if the store does not know it.
    async fn verify(&self, presented: &str) -> Option<KeyStatus> {
        let parsed = self.format.parse(presented).expect("a well-formed key");
        let record = self
            .store
            .get_by_hash(&self.hasher.hash(&parsed))
            .await
            .unwrap()?;
        Some(record.status(self.now()))
    }
}

fn metadata() -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("created_by".into(), "alice".into());
    metadata.insert("ticket".into(), 4242.into());
    metadata
}

#[tokio::test]
async fn create_returns_a_key_that_parses_and_whose_hash_is_stored() {
    let f = fixture();
    let acme = TenantId::new("acme");
    let created = f
        .keys
        .create(
            NewKey::new(acme.clone())
                .name("CI deploys")
                .scopes(Scopes::new(["deploys:write", "builds:read"]).unwrap())
                .plan("pro")
                .metadata(metadata()),
        )
        .await
        .unwrap();
    let secret = created.key.expose_secret().to_owned();

    let parsed = f.format.parse(&secret).expect("the new key parses");
    let hash = f.hasher.hash(&parsed);
    let record = &created.record;
    assert_eq!(record.hash, hash);
    assert_eq!(record.masked, parsed.masked());
    assert_eq!(record.tenant, acme);
    assert_eq!(record.name, "CI deploys");
    assert_eq!(
        record.scopes,
        Scopes::new(["builds:read", "deploys:write"]).unwrap()
    );
    assert_eq!(record.plan.as_deref(), Some("pro"));
    assert_eq!(record.metadata, metadata());
    assert_eq!(record.created_at, f.now());
    assert_eq!(
        (record.expires_at, record.revoked_at, record.last_used_at),
        (None, None, None)
    );

    let stored = f
        .store
        .get_by_hash(&hash)
        .await
        .unwrap()
        .expect("stored by hash");
    assert_eq!(&stored, record);
    assert_eq!(f.verify(&secret).await, Some(KeyStatus::Active));

    // The plaintext is nowhere in what is stored, not even its body.
    let body = &secret[secret.len() - 20..];
    let json = serde_json::to_string(&stored).unwrap();
    assert!(!json.contains(&secret) && !json.contains(body), "{json}");
    assert!(!format!("{created:?}").contains(body));
    // Creating changes no cached key.
    assert!(f.sink.ids().is_empty());
}

#[tokio::test]
async fn every_created_key_differs() {
    let f = fixture();
    let tenant = TenantId::new("acme");
    let mut hashes = std::collections::HashSet::new();
    for _ in 0..50 {
        let created = f.keys.create(NewKey::new(tenant.clone())).await.unwrap();
        assert!(hashes.insert(created.record.hash));
    }
    assert_eq!(f.store.len(), 50);
}

#[tokio::test]
async fn list_returns_a_tenants_masked_records_oldest_first() {
    let f = fixture();
    let (acme, other) = (TenantId::new("acme"), TenantId::new("other"));
    let mut secrets = Vec::new();
    for name in ["first", "second", "third"] {
        let created = f
            .keys
            .create(NewKey::new(acme.clone()).name(name))
            .await
            .unwrap();
        secrets.push(created.key.expose_secret().to_owned());
        f.clock.advance(Duration::from_secs(1));
    }
    f.keys.create(NewKey::new(other.clone())).await.unwrap();
    let revoked = f.keys.list(&acme).await.unwrap()[1].id;
    f.keys.revoke(&revoked).await.unwrap();

    let listed = f.keys.list(&acme).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["first", "second", "third"]); // revoked ones too
    for (record, secret) in listed.iter().zip(&secrets) {
        let masked = record.masked.as_str();
        assert!(masked.starts_with("acme_live_…"), "{masked}");
        assert_eq!(&masked[masked.len() - 4..], &secret[secret.len() - 4..]);
        assert!(!masked.contains(&secret[11..secret.len() - 4]));
    }
    assert_eq!(f.keys.list(&other).await.unwrap().len(), 1);
    assert!(
        f.keys
            .list(&TenantId::new("nobody"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn get_returns_the_record_or_a_typed_unknown_key_error() {
    let f = fixture();
    let created = f
        .keys
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap();
    assert_eq!(
        f.keys.get(&created.record.id).await.unwrap(),
        created.record
    );

    let unknown = KeyId::generate();
    let update = KeyUpdate::new().name("x");
    let errors = [
        f.keys.get(&unknown).await.unwrap_err(),
        f.keys.update(&unknown, &update).await.unwrap_err(),
        f.keys.revoke(&unknown).await.unwrap_err(),
        f.keys.rotate(&unknown, HOUR).await.unwrap_err(),
    ];
    for error in errors {
        assert!(
            matches!(error, LifecycleError::UnknownKey { id } if id == unknown),
            "{error:?}"
        );
        assert_eq!(error.to_string(), format!("no API key with id `{unknown}`"));
    }
    assert!(f.sink.ids().is_empty());
}

#[tokio::test]
async fn update_changes_the_record_and_invalidates_it_at_once() {
    let f = fixture();
    let created = f
        .keys
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap();
    let id = created.record.id;
    let until = f.now().saturating_add(DAY);
    let update = KeyUpdate::new()
        .name("read only")
        .scopes(Scopes::new(["invoices:read"]).unwrap())
        .metadata(metadata())
        .expires_at(Some(until));

    let record = f.keys.update(&id, &update).await.unwrap();
    assert_eq!(record.name, "read only");
    assert!(record.scopes.contains("invoices:read"));
    assert_eq!(record.metadata, metadata());
    assert_eq!(record.expires_at, Some(until));
    assert_eq!(f.keys.get(&id).await.unwrap(), record);
    assert_eq!(
        *f.sink.0.lock().unwrap(),
        [Invalidation::new(id, created.record.hash)]
    );
}

#[tokio::test]
async fn revoke_sets_status_revoked_and_invalidates_at_once() {
    let f = fixture();
    let created = f
        .keys
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap();
    let (id, secret) = (created.record.id, created.key.expose_secret().to_owned());

    let record = f.keys.revoke(&id).await.unwrap();
    assert_eq!(record.revoked_at, Some(f.now()));
    assert_eq!(record.status(f.now()), KeyStatus::Revoked);
    assert_eq!(
        f.keys.get(&id).await.unwrap().status(f.now()),
        KeyStatus::Revoked
    );
    assert_eq!(f.verify(&secret).await, Some(KeyStatus::Revoked));
    assert_eq!(f.sink.ids(), [id]);

    // Revoking again keeps the first time, and invalidates again (harmless).
    f.clock.advance(HOUR);
    let again = f.keys.revoke(&id).await.unwrap();
    assert_eq!(again.revoked_at, record.revoked_at);
    assert_eq!(f.sink.ids(), [id, id]);
}

#[tokio::test]
async fn revoke_at_schedules_a_revocation() {
    let f = fixture();
    let created = f
        .keys
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap();
    let secret = created.key.expose_secret().to_owned();
    let friday = f.now().saturating_add(3 * DAY);
    f.keys.revoke_at(&created.record.id, friday).await.unwrap();
    assert_eq!(f.sink.ids(), [created.record.id]);

    f.clock.advance(3 * DAY - Duration::from_micros(1));
    assert_eq!(f.verify(&secret).await, Some(KeyStatus::Active));
    f.clock.advance(Duration::from_micros(1));
    assert_eq!(f.verify(&secret).await, Some(KeyStatus::Revoked));
}

#[tokio::test]
async fn temporary_keys_expire() {
    let f = fixture();
    let tenant = TenantId::new("acme");
    let created = f
        .keys
        .create(NewKey::new(tenant.clone()).expires_in(HOUR))
        .await
        .unwrap();
    let secret = created.key.expose_secret().to_owned();
    assert_eq!(
        created.record.expires_at,
        Some(f.now().saturating_add(HOUR))
    );

    f.clock.advance(HOUR - Duration::from_secs(1));
    assert_eq!(f.verify(&secret).await, Some(KeyStatus::Active));
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(f.verify(&secret).await, Some(KeyStatus::Expired));

    // An absolute expiry, and one in the past.
    let at = f.now().saturating_add(DAY);
    let until = f
        .keys
        .create(NewKey::new(tenant.clone()).expires_at(at))
        .await
        .unwrap();
    assert_eq!(until.record.expires_at, Some(at));
    let gone = f
        .keys
        .create(NewKey::new(tenant).expires_in(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(gone.record.status(f.now()), KeyStatus::Expired);
}

#[tokio::test]
async fn rotate_keeps_the_tenant_scopes_plan_and_metadata() {
    let f = fixture();
    let old = f
        .keys
        .create(
            NewKey::new(TenantId::new("acme"))
                .name("billing sync")
                .scopes(Scopes::new(["invoices:read", "invoices:write"]).unwrap())
                .plan("enterprise")
                .metadata(metadata()),
        )
        .await
        .unwrap();
    f.clock.advance(HOUR);

    let rotation = f.keys.rotate(&old.record.id, DAY).await.unwrap();
    let new = &rotation.new.record;
    assert_ne!(new.id, old.record.id);
    assert_ne!(new.hash, old.record.hash);
    assert_ne!(rotation.new.key.expose_secret(), old.key.expose_secret());
    assert_eq!(new.tenant, old.record.tenant);
    assert_eq!(new.name, old.record.name);
    assert_eq!(new.scopes, old.record.scopes);
    assert_eq!(new.plan, old.record.plan);
    assert_eq!(new.metadata, old.record.metadata);
    assert_eq!(new.created_at, f.now());
    assert_eq!(new.expires_at, None);
    assert_eq!(f.keys.get(&new.id).await.unwrap(), *new);
    let presented = f.format.parse(rotation.new.key.expose_secret()).unwrap();
    assert_eq!(f.hasher.hash(&presented), new.hash);
    // The old key changed, and is invalidated; the new one needs no invalidation.
    assert_eq!(rotation.old.id, old.record.id);
    assert_eq!(f.sink.ids(), [old.record.id]);
}

#[tokio::test]
async fn the_old_key_works_until_the_overlap_ends_then_reports_expired() {
    let f = fixture();
    let old = f
        .keys
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap();
    let old_secret = old.key.expose_secret().to_owned();

    let rotation = f.keys.rotate(&old.record.id, DAY).await.unwrap();
    let new_secret = rotation.new.key.expose_secret().to_owned();
    assert_eq!(rotation.old.expires_at, Some(f.now().saturating_add(DAY)));
    assert_eq!(rotation.old.revoked_at, None);

    assert_eq!(f.verify(&old_secret).await, Some(KeyStatus::Active));
    assert_eq!(f.verify(&new_secret).await, Some(KeyStatus::Active));
    f.clock.advance(DAY - Duration::from_micros(1));
    assert_eq!(f.verify(&old_secret).await, Some(KeyStatus::Active));
    f.clock.advance(Duration::from_micros(1));
    assert_eq!(f.verify(&old_secret).await, Some(KeyStatus::Expired));
    assert_eq!(f.verify(&new_secret).await, Some(KeyStatus::Active));
    let old_now = f.keys.get(&old.record.id).await.unwrap();
    assert_eq!(old_now.status(f.now()), KeyStatus::Expired);
}

#[tokio::test]
async fn rotating_with_no_overlap_revokes_the_old_key_now() {
    let f = fixture();
    let old = f
        .keys
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap();
    let rotation = f.keys.rotate(&old.record.id, Duration::ZERO).await.unwrap();
    assert_eq!(rotation.old.revoked_at, Some(f.now()));
    assert_eq!(rotation.old.expires_at, None);
    assert_eq!(
        f.verify(old.key.expose_secret()).await,
        Some(KeyStatus::Revoked)
    );
    assert_eq!(
        f.verify(rotation.new.key.expose_secret()).await,
        Some(KeyStatus::Active)
    );
    assert_eq!(f.sink.ids(), [old.record.id]);
}

#[tokio::test]
async fn rotation_never_lets_the_old_key_live_longer() {
    let f = fixture();
    let old = f
        .keys
        .create(NewKey::new(TenantId::new("acme")).expires_in(HOUR))
        .await
        .unwrap();
    let end = old.record.expires_at;
    let rotation = f.keys.rotate(&old.record.id, DAY).await.unwrap();
    assert_eq!(rotation.old.expires_at, end);
}

#[tokio::test]
async fn rotating_a_temporary_key_keeps_its_lifetime() {
    let f = fixture();
    let old = f
        .keys
        .create(NewKey::new(TenantId::new("acme")).expires_in(90 * DAY))
        .await
        .unwrap();
    f.clock.advance(80 * DAY);
    let rotation = f.keys.rotate(&old.record.id, HOUR).await.unwrap();
    assert_eq!(
        rotation.new.record.expires_at,
        Some(f.now().saturating_add(90 * DAY))
    );
    assert_eq!(rotation.old.expires_at, Some(f.now().saturating_add(HOUR)));
}

#[tokio::test]
async fn only_active_keys_can_be_rotated() {
    let f = fixture();
    let tenant = TenantId::new("acme");
    let revoked = f
        .keys
        .create(NewKey::new(tenant.clone()))
        .await
        .unwrap()
        .record;
    f.keys.revoke(&revoked.id).await.unwrap();
    let expired = f
        .keys
        .create(NewKey::new(tenant.clone()).expires_in(HOUR))
        .await
        .unwrap()
        .record;
    f.clock.advance(HOUR);

    for (record, status) in [
        (&revoked, KeyStatus::Revoked),
        (&expired, KeyStatus::Expired),
    ] {
        let error = f.keys.rotate(&record.id, HOUR).await.unwrap_err();
        assert!(
            matches!(error, LifecycleError::NotActive { id, status: s } if id == record.id && s == status),
            "{error:?}"
        );
    }
    assert_eq!(
        f.keys
            .rotate(&revoked.id, HOUR)
            .await
            .unwrap_err()
            .to_string(),
        format!("API key `{}` is revoked", revoked.id)
    );
    // Nothing was created.
    assert_eq!(f.keys.list(&tenant).await.unwrap().len(), 2);
}

/// A memory store whose `update`, `revoke` and `insert` can be made to fail.
#[derive(Clone, Default)]
struct FailingStore {
    inner: MemoryKeyStore,
    fail_update: Arc<AtomicBool>,
    fail_insert: Arc<AtomicBool>,
}

fn failure() -> StoreError {
    StoreError::backend(std::io::Error::other("connection reset"))
}

impl KeyStore for FailingStore {
    async fn insert(&self, record: &KeyRecord) -> Result<(), StoreError> {
        if self.fail_insert.load(Ordering::SeqCst) {
            return Err(failure());
        }
        self.inner.insert(record).await
    }

    async fn get_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.get_by_hash(hash).await
    }

    async fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.get(id).await
    }

    async fn list_by_tenant(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.list_by_tenant(tenant).await
    }

    async fn update(
        &self,
        id: &KeyId,
        update: &KeyUpdate,
    ) -> Result<Option<KeyRecord>, StoreError> {
        if self.fail_update.load(Ordering::SeqCst) {
            return Err(failure());
        }
        self.inner.update(id, update).await
    }

    async fn revoke(&self, id: &KeyId, at: Timestamp) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.revoke(id, at).await
    }

    async fn record_last_used(&self, uses: &[(KeyId, Timestamp)]) -> Result<(), StoreError> {
        self.inner.record_last_used(uses).await
    }
}

#[tokio::test]
async fn a_rotation_that_cannot_change_the_old_key_withdraws_the_new_one() {
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let store = FailingStore::default();
    let sink = Arc::new(Sink::default());
    let keys = KeyLifecycle::new(store.clone(), KeyFormat::default(), KeyHasher::sha256())
        .clock(clock.clone())
        .sink(sink.clone());
    let tenant = TenantId::new("acme");
    let old = keys
        .create(NewKey::new(tenant.clone()))
        .await
        .unwrap()
        .record;

    store.fail_update.store(true, Ordering::SeqCst);
    let error = keys.rotate(&old.id, HOUR).await.unwrap_err();
    assert!(
        matches!(error, LifecycleError::Store(StoreError::Backend { .. })),
        "{error:?}"
    );

    let now = Timestamp::now(&clock);
    let listed = keys.list(&tenant).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(keys.get(&old.id).await.unwrap(), old); // unchanged
    let new = listed.iter().find(|record| record.id != old.id).unwrap();
    assert_eq!(new.status(now), KeyStatus::Revoked); // the withdrawn new key
    assert!(sink.ids().is_empty());
}

#[tokio::test]
async fn store_errors_keep_their_source() {
    let store = FailingStore::default();
    let keys = KeyLifecycle::new(store.clone(), KeyFormat::default(), KeyHasher::sha256());
    store.fail_insert.store(true, Ordering::SeqCst);
    let error = keys
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "API key store failed: connection reset");
    let source = std::error::Error::source(&error).expect("a source");
    assert_eq!(source.to_string(), "connection reset");
    assert!(store.inner.is_empty());
}

/// A channel whose publications fail, counting them.
#[derive(Clone, Default)]
struct BrokenChannel(Arc<AtomicUsize>);

struct NeverReceives;

impl Receiver for NeverReceives {
    async fn recv(&mut self) -> Result<Invalidation, ChannelError> {
        std::future::pending().await
    }
}

impl RevocationChannel for BrokenChannel {
    type Receiver = NeverReceives;

    async fn publish(&self, _: &Invalidation) -> Result<(), ChannelError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(ChannelError::backend("broken pipe"))
    }

    async fn subscribe(&self) -> Result<NeverReceives, ChannelError> {
        Ok(NeverReceives)
    }
}

/// A channel that remembers what it published.
#[derive(Clone, Default)]
struct RecordingChannel(Arc<Mutex<Vec<Invalidation>>>);

impl RevocationChannel for RecordingChannel {
    type Receiver = NeverReceives;

    async fn publish(&self, invalidation: &Invalidation) -> Result<(), ChannelError> {
        self.0.lock().unwrap().push(*invalidation);
        Ok(())
    }

    async fn subscribe(&self) -> Result<NeverReceives, ChannelError> {
        Ok(NeverReceives)
    }
}

#[tokio::test]
async fn every_change_is_published_on_every_channel() {
    let f = fixture();
    let (first, second) = (RecordingChannel::default(), RecordingChannel::default());
    let keys = f
        .keys
        .clone()
        .channel(first.clone())
        .channel(second.clone());
    let tenant = TenantId::new("acme");
    let a = keys
        .create(NewKey::new(tenant.clone()))
        .await
        .unwrap()
        .record;
    let b = keys
        .create(NewKey::new(tenant.clone()))
        .await
        .unwrap()
        .record;
    let c = keys.create(NewKey::new(tenant)).await.unwrap().record;
    assert!(first.0.lock().unwrap().is_empty());

    keys.update(&a.id, &KeyUpdate::new().name("x"))
        .await
        .unwrap();
    keys.revoke(&b.id).await.unwrap();
    keys.rotate(&c.id, HOUR).await.unwrap();
    let expected = [
        Invalidation::new(a.id, a.hash),
        Invalidation::new(b.id, b.hash),
        Invalidation::new(c.id, c.hash),
    ];
    assert_eq!(*first.0.lock().unwrap(), expected);
    assert_eq!(*second.0.lock().unwrap(), expected);
    assert_eq!(*f.sink.0.lock().unwrap(), expected);
}

#[tokio::test]
async fn a_failed_publication_is_counted_and_does_not_fail_the_change() {
    let f = fixture();
    let (broken, recording) = (BrokenChannel::default(), RecordingChannel::default());
    let keys = f
        .keys
        .clone()
        .channel(broken.clone())
        .channel(recording.clone());
    let created = keys
        .create(NewKey::new(TenantId::new("acme")))
        .await
        .unwrap();

    let record = keys.revoke(&created.record.id).await.unwrap();
    assert_eq!(record.status(f.now()), KeyStatus::Revoked);
    assert_eq!(f.sink.ids(), [record.id]); // local, at once
    assert_eq!(recording.0.lock().unwrap().len(), 1); // the other channel still got it
    assert_eq!(
        (broken.0.load(Ordering::SeqCst), keys.broadcast_failures()),
        (1, 1)
    );

    // Publishing again by hand reports the error.
    let error = keys.invalidate(&record).await.unwrap_err();
    assert!(matches!(error, ChannelError::Backend { .. }), "{error:?}");
    assert_eq!(keys.broadcast_failures(), 2);
    assert_eq!(recording.0.lock().unwrap().len(), 2);
    assert_eq!(f.sink.ids(), [record.id, record.id]);
}

#[test]
fn the_lifecycle_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<KeyLifecycle<MemoryKeyStore>>();
}
