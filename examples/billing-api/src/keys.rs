//! API keys: the `portcullis-api-keys` store of the configured database, with each
//! key's plan read from its tenant.
//!
//! # How a plan change reaches every instance
//!
//! The rate limiter limits a request by the [`PlanName`] the API-key layer puts into
//! it, which is the verified key record's `plan`. Keys are stored without a plan;
//! [`TenantPlanStore`] fills it in from the tenant's row each time the verification
//! layer *loads* a key (a cache miss), so the plan travels with the cached key record.
//! When a webhook changes a tenant's plan, [`invalidate_tenant`] invalidates every
//! key of the tenant through the [`KeyLifecycle`]: this instance's key cache drops
//! them before the webhook is answered, and the invalidations go out on the same
//! channel that carries revocations (Redis pub/sub, or PostgreSQL `LISTEN/NOTIFY`),
//! so every other instance drops them too, a few milliseconds later. The next request
//! with any of the tenant's keys reloads the record, and with it the new plan.
//!
//! Nothing else caches a plan. The worst case is an instance whose subscription to the
//! channel was down when the change was published: it serves the old plan until the
//! key's cache entry expires (10 s, the positive TTL of the API-key layer's `strict`
//! preset), and it clears its whole key cache when it resubscribes. A `past_due`
//! tenant's grace period ends without any event: the plan it implies is computed at
//! each load, so it applies within the same 10 s.
//!
//! (Putting the plan on each stored key record, changed with `KeyUpdate::plan` and
//! invalidated by `KeyLifecycle::update`, is the other design. It fits plans sold per
//! key; here the plan belongs to the tenant, so a plan change would have to update
//! every key of the tenant, and keys created meanwhile could miss it.)
//!
//! [`PlanName`]: portcullis_rate_limit::request::PlanName

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use portcullis_api_keys::format::KeyFormat;
use portcullis_api_keys::hash::{KeyHash, KeyHasher};
use portcullis_api_keys::id::{KeyId, TenantId};
use portcullis_api_keys::lifecycle::KeyLifecycle;
use portcullis_api_keys::record::{KeyRecord, KeyUpdate};
use portcullis_api_keys::store::postgres::PostgresKeyStore;
use portcullis_api_keys::store::sqlite::SqliteKeyStore;
use portcullis_api_keys::store::{BoxKeyStore, KeyStore, StoreError};
use portcullis_api_keys::timestamp::Timestamp;

use crate::billing::Billing;
use crate::db::Db;

/// The key format: `sk_live_…` keys with a CRC32 checksum that secret scanners find.
pub(crate) fn key_format() -> KeyFormat {
    KeyFormat::default()
}

/// How keys are hashed for storage. Keys carry 256 random bits, so a plain SHA-256
/// cannot be reversed from a leaked table; an HMAC pepper adds nothing a reader of
/// this example needs to manage.
pub(crate) fn key_hasher() -> KeyHasher {
    KeyHasher::sha256()
}

/// The API-key store on the configured database, migrated.
pub(crate) async fn key_store(db: &Db) -> Result<BoxKeyStore, StoreError> {
    Ok(match db {
        Db::Sqlite(pool) => {
            let store = SqliteKeyStore::new(pool.clone());
            store.migrate().await?;
            BoxKeyStore::new(store)
        }
        Db::Postgres(pool) => {
            let store = PostgresKeyStore::new(pool.clone());
            store.migrate().await?;
            BoxKeyStore::new(store)
        }
    })
}

/// The key store, with each loaded key's `plan` set to its tenant's current plan.
/// See the [module docs](self).
#[derive(Clone)]
pub(crate) struct TenantPlanStore {
    keys: BoxKeyStore,
    billing: Billing,
}

impl fmt::Debug for TenantPlanStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantPlanStore")
            .field("billing", &self.billing)
            .finish_non_exhaustive()
    }
}

impl TenantPlanStore {
    pub(crate) fn new(keys: BoxKeyStore, billing: Billing) -> Self {
        Self { keys, billing }
    }
}

/// Now, in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

impl KeyStore for TenantPlanStore {
    async fn insert(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.keys.insert(record).await
    }

    async fn get_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        let Some(mut record) = self.keys.get_by_hash(hash).await? else {
            return Ok(None);
        };
        // A plan set on the key itself wins; this example never sets one.
        if record.plan.is_none() {
            record.plan = self
                .billing
                .plan_of(record.tenant.as_str(), unix_now())
                .await
                .map_err(StoreError::backend)?;
        }
        Ok(Some(record))
    }

    async fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.keys.get(id).await
    }

    async fn list_by_tenant(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, StoreError> {
        self.keys.list_by_tenant(tenant).await
    }

    async fn update(
        &self,
        id: &KeyId,
        update: &KeyUpdate,
    ) -> Result<Option<KeyRecord>, StoreError> {
        self.keys.update(id, update).await
    }

    async fn revoke(&self, id: &KeyId, at: Timestamp) -> Result<Option<KeyRecord>, StoreError> {
        self.keys.revoke(id, at).await
    }

    async fn record_last_used(&self, uses: &[(KeyId, Timestamp)]) -> Result<(), StoreError> {
        self.keys.record_last_used(uses).await
    }
}

/// Drops every key of `tenant` from every instance's verification cache, so that the
/// next request with any of them loads the tenant's new plan.
pub(crate) async fn invalidate_tenant(
    keys: &KeyLifecycle<TenantPlanStore>,
    tenant: &str,
) -> Result<usize, portcullis_api_keys::lifecycle::LifecycleError> {
    let records = keys.list(&TenantId::new(tenant)).await?;
    for record in &records {
        // A failed publication is logged and counted by the lifecycle; the local cache
        // is cleared regardless, and other instances' entries expire within the TTL.
        let _ = keys.invalidate(record).await;
    }
    Ok(records.len())
}
