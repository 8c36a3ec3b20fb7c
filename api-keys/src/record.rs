//! [`KeyRecord`]: everything a store keeps about a key, never the key itself.
//!
//! Every field has a type that SQL and Redis backends store and read back exactly:
//! ids and names as text, the hash as text (or algorithm text plus 32-byte digest),
//! scopes as space-separated text or an array, metadata as a JSON object, times as
//! microseconds ([`Timestamp`]). Serde derives write the record as one JSON object
//! with these field names, a ready encoding for key-value stores.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::format::KeyFormat;
//! use portcullis_api_keys::hash::KeyHasher;
//! use portcullis_api_keys::id::{KeyId, TenantId};
//! use portcullis_api_keys::record::{KeyRecord, KeyStatus};
//! use portcullis_api_keys::scopes::Scopes;
//! use portcullis_api_keys::timestamp::Timestamp;
//! use portcullis_core::clock::SystemClock;
//!
//! let key = KeyFormat::default().generate();
//! let now = Timestamp::now(&SystemClock);
//! let mut record = KeyRecord::new(
//!     KeyId::generate(),
//!     TenantId::new("acme"),
//!     KeyHasher::sha256().hash(&key.parsed()),
//!     key.masked(),
//!     now,
//! );
//! record.name = "CI deploys".into();
//! record.scopes = Scopes::new(["deploys:write"])?;
//! record.plan = Some("pro".into());
//! record.metadata.insert("created_by".into(), "alice".into());
//!
//! assert_eq!(record.status(now), KeyStatus::Active);
//! let json = serde_json::to_string(&record)?;
//! assert_eq!(serde_json::from_str::<KeyRecord>(&json)?, record);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::hash::{HashAlgorithm, KeyHash};
use crate::id::{KeyId, TenantId};
use crate::key::MaskedKey;
use crate::scopes::Scopes;
use crate::timestamp::Timestamp;

/// Free-form data about a key: a JSON object.
///
/// Backends must give it back equal (as `serde_json` compares: member order does not
/// matter, `1` and `1.0` differ). PostgreSQL `jsonb` does, except that it cannot hold
/// `\u0000` in strings.
///
/// ```
/// use portcullis_api_keys::record::Metadata;
/// let mut metadata = Metadata::new();
/// metadata.insert("team".into(), "billing".into());
/// assert_eq!(serde_json::Value::Object(metadata)["team"], "billing");
/// ```
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// A stored key: who owns it, what it may do, how to recognise it, its lifetime.
///
/// Build one with [`KeyRecord::new`] and set the other public fields; the struct is
/// `#[non_exhaustive]` so that fields can be added without breaking callers.
///
/// ```
/// use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
/// use portcullis_api_keys::id::{KeyId, TenantId};
/// use portcullis_api_keys::key::MaskedKey;
/// use portcullis_api_keys::record::KeyRecord;
/// use portcullis_api_keys::timestamp::Timestamp;
///
/// let record = KeyRecord::new(
///     KeyId::generate(),
///     TenantId::new("acme"),
///     KeyHash::from_digest(HashAlgorithm::Sha256, &[0; 32]).unwrap(),
///     MaskedKey::new("sk_live_…0000"),
///     Timestamp::from_unix_micros(1_700_000_000_000_000),
/// );
/// assert!(record.name.is_empty() && record.scopes.is_empty() && record.plan.is_none());
/// assert_eq!(record.expires_at, None);
/// assert_eq!(record.hash_algorithm(), HashAlgorithm::Sha256);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeyRecord {
    /// The key's id, unique in the store.
    pub id: KeyId,
    /// Who owns the key.
    pub tenant: TenantId,
    /// A name its owner gave it (`"CI deploys"`); may be empty.
    pub name: String,
    /// The hash of the key (with its algorithm), unique in the store: the lookup key.
    pub hash: KeyHash,
    /// The masked form to show (`sk_live_…a1b2`).
    pub masked: MaskedKey,
    /// What the key may do.
    pub scopes: Scopes,
    /// The name of the plan requests with this key are billed and limited under, which
    /// the rate limiter resolves (`"pro"`); `None` for the tenant's default.
    pub plan: Option<String>,
    /// Free-form data.
    pub metadata: Metadata,
    /// When the key was made.
    pub created_at: Timestamp,
    /// From when the key no longer works; `None` for never.
    pub expires_at: Option<Timestamp>,
    /// From when the key is revoked; `None` while it is not. May lie in the future (a
    /// rotation's grace period).
    pub revoked_at: Option<Timestamp>,
    /// When the key was last used, as far as the coalesced writes of
    /// [`KeyStore::record_last_used`](crate::store::KeyStore::record_last_used) tell.
    pub last_used_at: Option<Timestamp>,
}

impl KeyRecord {
    /// A record with an empty name, no scopes, no plan, empty metadata, no expiry, not
    /// revoked and never used.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::*, record::KeyRecord, timestamp::Timestamp};
    /// let key = KeyFormat::default().generate();
    /// let record = KeyRecord::new(
    ///     KeyId::generate(),
    ///     TenantId::new("acme"),
    ///     KeyHasher::sha256().hash(&key.parsed()),
    ///     key.masked(),
    ///     Timestamp::from_unix_micros(0),
    /// );
    /// assert_eq!(record.masked, key.masked());
    /// ```
    pub fn new(
        id: KeyId,
        tenant: TenantId,
        hash: KeyHash,
        masked: MaskedKey,
        created_at: Timestamp,
    ) -> Self {
        Self {
            id,
            tenant,
            name: String::new(),
            hash,
            masked,
            scopes: Scopes::default(),
            plan: None,
            metadata: Metadata::new(),
            created_at,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        }
    }

    /// The algorithm (and pepper version) of [`hash`](Self::hash).
    ///
    /// ```
    /// # use portcullis_api_keys::{hash::*, id::*, key::MaskedKey, record::KeyRecord, timestamp::Timestamp};
    /// let algorithm = HashAlgorithm::HmacSha256 { pepper_version: 2 };
    /// let hash = KeyHash::from_digest(algorithm, &[0; 32]).unwrap();
    /// let record = KeyRecord::new(KeyId::generate(), TenantId::new("t"), hash,
    ///     MaskedKey::new("sk_live_…0000"), Timestamp::UNIX_EPOCH);
    /// assert_eq!(record.hash_algorithm(), algorithm);
    /// ```
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash.algorithm()
    }

    /// Whether the key works at `now`: revoked from `revoked_at` on, else expired from
    /// `expires_at` on, else active.
    ///
    /// ```
    /// # use portcullis_api_keys::{hash::*, id::*, key::MaskedKey, record::*, timestamp::Timestamp};
    /// # let mut record = KeyRecord::new(KeyId::generate(), TenantId::new("t"),
    /// #     KeyHash::from_digest(HashAlgorithm::Sha256, &[0; 32]).unwrap(),
    /// #     MaskedKey::new("sk_live_…0000"), Timestamp::from_unix_micros(0));
    /// let at = Timestamp::from_unix_micros;
    /// record.expires_at = Some(at(100));
    /// record.revoked_at = Some(at(200));
    /// assert_eq!(record.status(at(99)), KeyStatus::Active);
    /// assert_eq!(record.status(at(100)), KeyStatus::Expired);
    /// assert_eq!(record.status(at(200)), KeyStatus::Revoked);
    /// ```
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        if self.revoked_at.is_some_and(|at| at <= now) {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// Whether a key works at a given time, from [`KeyRecord::status`].
///
/// ```
/// use portcullis_api_keys::record::KeyStatus;
/// assert!(KeyStatus::Active.is_active());
/// assert!(!KeyStatus::Revoked.is_active());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyStatus {
    /// Neither revoked nor expired.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked (revocation wins over expiry).
    Revoked,
}

impl KeyStatus {
    /// Whether the key works.
    ///
    /// ```
    /// assert!(!portcullis_api_keys::record::KeyStatus::Expired.is_active());
    /// ```
    pub fn is_active(self) -> bool {
        self == Self::Active
    }
}

/// A change to the mutable fields of a record, for
/// [`KeyStore::update`](crate::store::KeyStore::update): each field is left alone
/// unless set.
///
/// ```
/// use portcullis_api_keys::record::KeyUpdate;
/// use portcullis_api_keys::scopes::Scopes;
///
/// let update = KeyUpdate::new()
///     .name("renamed")
///     .scopes(Scopes::new(["read"]).unwrap())
///     .expires_at(None); // never expires
/// assert_eq!(update.name.as_deref(), Some("renamed"));
/// assert_eq!(update.metadata, None);
/// assert_eq!(update.expires_at, Some(None));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct KeyUpdate {
    /// The new name.
    pub name: Option<String>,
    /// The new scopes (replacing the old ones).
    pub scopes: Option<Scopes>,
    /// The new metadata (replacing the old object).
    pub metadata: Option<Metadata>,
    /// The new expiry: `Some(None)` removes it.
    pub expires_at: Option<Option<Timestamp>>,
    /// The new plan: `Some(None)` removes it (the tenant's plan applies again).
    pub plan: Option<Option<String>>,
}

impl KeyUpdate {
    /// An update that changes nothing.
    ///
    /// ```
    /// use portcullis_api_keys::record::KeyUpdate;
    /// assert_eq!(KeyUpdate::new(), KeyUpdate::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the name.
    ///
    /// ```
    /// let update = portcullis_api_keys::record::KeyUpdate::new().name("prod");
    /// assert_eq!(update.name.as_deref(), Some("prod"));
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Replaces the scopes.
    ///
    /// ```
    /// use portcullis_api_keys::{record::KeyUpdate, scopes::Scopes};
    /// let update = KeyUpdate::new().scopes(Scopes::default());
    /// assert_eq!(update.scopes, Some(Scopes::default()));
    /// ```
    #[must_use]
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Replaces the metadata.
    ///
    /// ```
    /// use portcullis_api_keys::record::{KeyUpdate, Metadata};
    /// let update = KeyUpdate::new().metadata(Metadata::new());
    /// assert_eq!(update.metadata, Some(Metadata::new()));
    /// ```
    #[must_use]
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Sets the expiry, or removes it with `None`.
    ///
    /// ```
    /// use portcullis_api_keys::{record::KeyUpdate, timestamp::Timestamp};
    /// let at = Timestamp::from_unix_micros(5);
    /// assert_eq!(KeyUpdate::new().expires_at(Some(at)).expires_at, Some(Some(at)));
    /// ```
    #[must_use]
    pub fn expires_at(mut self, expires_at: Option<Timestamp>) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Moves the key to a plan (an upgrade sold for this key alone), or with `None`
    /// back to its tenant's.
    ///
    /// ```
    /// use portcullis_api_keys::record::KeyUpdate;
    /// assert_eq!(KeyUpdate::new().plan(Some("pro")).plan, Some(Some("pro".to_owned())));
    /// assert_eq!(KeyUpdate::new().plan(None::<String>).plan, Some(None));
    /// ```
    #[must_use]
    pub fn plan(mut self, plan: Option<impl Into<String>>) -> Self {
        self.plan = Some(plan.map(Into::into));
        self
    }

    /// Applies the update to `record`: what a store does (for backends that read,
    /// modify and write a whole record).
    ///
    /// ```
    /// # use portcullis_api_keys::{hash::*, id::*, key::MaskedKey, record::*, timestamp::Timestamp};
    /// # let mut record = KeyRecord::new(KeyId::generate(), TenantId::new("t"),
    /// #     KeyHash::from_digest(HashAlgorithm::Sha256, &[0; 32]).unwrap(),
    /// #     MaskedKey::new("sk_live_…0000"), Timestamp::from_unix_micros(0));
    /// record.name = "old".into();
    /// KeyUpdate::new().expires_at(Some(Timestamp::from_unix_micros(9))).apply_to(&mut record);
    /// assert_eq!(record.name, "old");
    /// assert_eq!(record.expires_at, Some(Timestamp::from_unix_micros(9)));
    /// ```
    pub fn apply_to(&self, record: &mut KeyRecord) {
        if let Some(name) = &self.name {
            record.name.clone_from(name);
        }
        if let Some(scopes) = &self.scopes {
            record.scopes.clone_from(scopes);
        }
        if let Some(metadata) = &self.metadata {
            record.metadata.clone_from(metadata);
        }
        if let Some(expires_at) = self.expires_at {
            record.expires_at = expires_at;
        }
        if let Some(plan) = &self.plan {
            record.plan.clone_from(plan);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> KeyRecord {
        KeyRecord::new(
            KeyId::generate(),
            TenantId::new("acme"),
            KeyHash::from_digest(HashAlgorithm::Sha256, &[3; 32]).unwrap(),
            MaskedKey::new("sk_live_…abcd"),
            Timestamp::from_unix_micros(1),
        )
    }

    #[test]
    fn revocation_wins_over_expiry_and_both_start_at_their_time() {
        let at = Timestamp::from_unix_micros;
        let mut record = record();
        assert_eq!(record.status(at(i64::MAX)), KeyStatus::Active);
        record.expires_at = Some(at(10));
        assert_eq!(record.status(at(9)), KeyStatus::Active);
        assert_eq!(record.status(at(10)), KeyStatus::Expired);
        record.revoked_at = Some(at(5));
        assert_eq!(record.status(at(4)), KeyStatus::Active);
        assert_eq!(record.status(at(5)), KeyStatus::Revoked);
        assert_eq!(record.status(at(10)), KeyStatus::Revoked);
    }

    #[test]
    fn an_update_changes_only_what_it_sets() {
        let mut record = record();
        record.name = "before".into();
        record.metadata.insert("k".into(), 1.into());
        record.expires_at = Some(Timestamp::from_unix_micros(7));
        let unchanged = record.clone();
        KeyUpdate::new().apply_to(&mut record);
        assert_eq!(record, unchanged);
        KeyUpdate::new().expires_at(None).apply_to(&mut record);
        assert_eq!(record.expires_at, None);
        assert_eq!(record.name, "before");
        assert_eq!(record.metadata, unchanged.metadata);
    }

    #[test]
    fn the_json_form_names_every_field() {
        let json = serde_json::to_value(record()).unwrap();
        let mut fields: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "created_at",
                "expires_at",
                "hash",
                "id",
                "last_used_at",
                "masked",
                "metadata",
                "name",
                "plan",
                "revoked_at",
                "scopes",
                "tenant",
            ]
        );
    }
}
