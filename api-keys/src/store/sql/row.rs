//! A [`KeyRecord`] as a row of `portcullis_api_keys`, and back.

use std::collections::BTreeMap;

use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, FromRow, Row, Type};

use crate::hash::{HashAlgorithm, KeyHash};
use crate::id::{KeyId, TenantId};
use crate::key::MaskedKey;
use crate::record::{KeyRecord, Metadata};
use crate::scopes::Scopes;
use crate::store::{BoxError, StoreError};
use crate::timestamp::Timestamp;

/// A row as the database returns it: each column in its SQL type, not yet checked.
/// Select the columns under these names (PostgreSQL: `metadata::text AS metadata`).
#[derive(Debug)]
pub(crate) struct StoredRow {
    id: String,
    tenant: String,
    name: String,
    hash_algorithm: String,
    hash_digest: Vec<u8>,
    masked: String,
    scopes: String,
    plan: Option<String>,
    metadata: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

// Written out rather than derived: the derive is the only use of `sqlx/macros`, which
// builds a second copy of sqlx-core (and a proc-macro stack) for every user.
impl<'r, R> FromRow<'r, R> for StoredRow
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            tenant: row.try_get("tenant")?,
            name: row.try_get("name")?,
            hash_algorithm: row.try_get("hash_algorithm")?,
            hash_digest: row.try_get("hash_digest")?,
            masked: row.try_get("masked")?,
            scopes: row.try_get("scopes")?,
            plan: row.try_get("plan")?,
            metadata: row.try_get("metadata")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    }
}

impl StoredRow {
    /// The record this row holds, or [`StoreError::Malformed`] naming the first column
    /// that does not hold a valid value (and the key, once its id is known).
    pub(crate) fn into_record(self) -> Result<KeyRecord, StoreError> {
        let id: KeyId = self
            .id
            .parse()
            .map_err(|error| malformed("id", None, error))?;
        let column = |column| move |error| malformed(column, Some(id), error);
        let algorithm: HashAlgorithm = self
            .hash_algorithm
            .parse()
            .map_err(column("hash_algorithm"))?;
        let hash =
            KeyHash::from_digest(algorithm, &self.hash_digest).map_err(column("hash_digest"))?;
        let scopes: Scopes = self.scopes.parse().map_err(column("scopes"))?;
        let metadata: Metadata = serde_json::from_str(&self.metadata)
            .map_err(|error| malformed("metadata", Some(id), error))?;
        Ok(KeyRecord {
            id,
            tenant: TenantId::new(self.tenant),
            name: self.name,
            hash,
            masked: MaskedKey::new(self.masked),
            scopes,
            plan: self.plan,
            metadata,
            created_at: Timestamp::from_unix_micros(self.created_at),
            expires_at: self.expires_at.map(Timestamp::from_unix_micros),
            revoked_at: self.revoked_at.map(Timestamp::from_unix_micros),
            last_used_at: self.last_used_at.map(Timestamp::from_unix_micros),
        })
    }
}

/// A stored value that is not valid: the source of a [`StoreError::Malformed`].
#[derive(Debug, thiserror::Error)]
#[error("column `{column}`{}: {source}", key_of(.id))]
struct MalformedColumn {
    column: &'static str,
    id: Option<KeyId>,
    source: BoxError,
}

fn key_of(id: &Option<KeyId>) -> String {
    id.map(|id| format!(" of key `{id}`")).unwrap_or_default()
}

fn malformed(column: &'static str, id: Option<KeyId>, error: impl Into<BoxError>) -> StoreError {
    StoreError::malformed(MalformedColumn {
        column,
        id,
        source: error.into(),
    })
}

/// The columns of a record as bound to an `INSERT`, in table order.
#[derive(Debug)]
pub(crate) struct Encoded<'a> {
    record: &'a KeyRecord,
    hash_algorithm: String,
    scopes: String,
    metadata: String,
}

impl<'a> Encoded<'a> {
    /// The columns of `record`.
    pub(crate) fn new(record: &'a KeyRecord) -> Result<Self, StoreError> {
        Ok(Self {
            record,
            hash_algorithm: record.hash.algorithm().to_string(),
            scopes: record.scopes.to_string(),
            metadata: metadata_text(&record.metadata)?,
        })
    }

    /// Binds the 13 columns, `id` to `last_used_at` in table order, to `query`.
    pub(crate) fn bind<'q, DB>(
        &'q self,
        query: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    ) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
    where
        DB: Database,
        &'q str: Encode<'q, DB> + Type<DB>,
        &'q [u8]: Encode<'q, DB> + Type<DB>,
        i64: Encode<'q, DB> + Type<DB>,
        Option<&'q str>: Encode<'q, DB> + Type<DB>,
        Option<i64>: Encode<'q, DB> + Type<DB>,
    {
        let record = self.record;
        let micros = |at: Option<Timestamp>| at.map(Timestamp::as_unix_micros);
        query
            .bind(record.id.as_str())
            .bind(record.tenant.as_str())
            .bind(record.name.as_str())
            .bind(self.hash_algorithm.as_str())
            .bind(&record.hash.digest()[..])
            .bind(record.masked.as_str())
            .bind(self.scopes.as_str())
            .bind(record.plan.as_deref())
            .bind(self.metadata.as_str())
            .bind(record.created_at.as_unix_micros())
            .bind(micros(record.expires_at))
            .bind(micros(record.revoked_at))
            .bind(micros(record.last_used_at))
    }
}

/// Metadata as JSON text.
pub(crate) fn metadata_text(metadata: &Metadata) -> Result<String, StoreError> {
    // A map with string keys always serializes; never panic on the odd case anyway.
    serde_json::to_string(metadata).map_err(StoreError::backend)
}

/// A failed query as a [`StoreError`]: a value that does not decode into its column's
/// Rust type is `Malformed`, anything else is the backend's.
pub(crate) fn read_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::malformed(error),
        error => StoreError::backend(error),
    }
}

/// A batch of uses reduced to one per id, the latest, in id order: one row update
/// each, and every batch locks its rows in the same order.
pub(crate) fn latest_uses(uses: &[(KeyId, Timestamp)]) -> Vec<(KeyId, Timestamp)> {
    let mut latest = BTreeMap::new();
    for &(id, at) in uses {
        latest
            .entry(id)
            .and_modify(|latest: &mut Timestamp| *latest = (*latest).max(at))
            .or_insert(at);
    }
    latest.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    fn row() -> StoredRow {
        StoredRow {
            id: "key_0123456789ABCDEFabcdef".into(),
            tenant: "acme".into(),
            name: "CI".into(),
            hash_algorithm: "hmac-sha256.2".into(),
            hash_digest: vec![7; 32],
            masked: "sk_live_…abcd".into(),
            scopes: "b a".into(),
            plan: Some("pro".into()),
            metadata: r#"{"big":9007199254740993}"#.into(),
            created_at: -1,
            expires_at: Some(i64::MAX),
            revoked_at: None,
            last_used_at: Some(0),
        }
    }

    #[test]
    fn a_valid_row_is_its_record() {
        let record = row().into_record().unwrap();
        assert_eq!(record.id.as_str(), "key_0123456789ABCDEFabcdef");
        assert_eq!(
            record.hash.algorithm(),
            HashAlgorithm::HmacSha256 { pepper_version: 2 }
        );
        assert_eq!(record.scopes, Scopes::new(["a", "b"]).unwrap());
        assert_eq!(record.metadata["big"], 9_007_199_254_740_993_u64);
        assert_eq!(record.created_at, Timestamp::from_unix_micros(-1));
        assert_eq!(
            record.expires_at,
            Some(Timestamp::from_unix_micros(i64::MAX))
        );
        assert_eq!(record.last_used_at, Some(Timestamp::UNIX_EPOCH));

        let encoded = Encoded::new(&record).unwrap();
        assert_eq!(encoded.hash_algorithm, "hmac-sha256.2");
        assert_eq!(encoded.scopes, "a b");
        assert_eq!(encoded.metadata, r#"{"big":9007199254740993}"#);
    }

    #[test]
    fn each_invalid_column_is_malformed_and_named() {
        type Case = (fn(&mut StoredRow), &'static str);
        let cases: [Case; 6] = [
            (
                |row| row.id = "key_1".into(),
                "column `id`: invalid key id `key_1`",
            ),
            (
                |row| row.hash_algorithm = "md5".into(),
                "column `hash_algorithm` of key `key_0123456789ABCDEFabcdef`: unknown hash algorithm `md5`",
            ),
            (
                |row| {
                    row.hash_digest.pop();
                },
                "column `hash_digest` of key `key_0123456789ABCDEFabcdef`: a digest of 31 bytes: SHA-256 digests have 32",
            ),
            (|row| row.scopes = "a \"b".into(), "column `scopes`"),
            (|row| row.metadata = "[1]".into(), "column `metadata`"),
            (|row| row.metadata = "{".into(), "column `metadata`"),
        ];
        for (break_it, message) in cases {
            let mut row = row();
            break_it(&mut row);
            let error = row.into_record().unwrap_err();
            let StoreError::Malformed { source } = &error else {
                panic!("{error:?} is not Malformed");
            };
            assert!(source.to_string().starts_with(message), "{source}");
        }
    }

    #[test]
    fn a_batch_keeps_the_latest_use_of_each_id_in_id_order() {
        let at = Timestamp::from_unix_micros;
        let (a, b): (KeyId, KeyId) = (
            "key_0000000000000000000000".parse().unwrap(),
            "key_B000000000000000000000".parse().unwrap(),
        );
        let uses = [(b, at(1)), (a, at(5)), (b, at(3)), (a, at(-2)), (b, at(2))];
        assert_eq!(latest_uses(&uses), [(a, at(5)), (b, at(3))]);
        assert_eq!(latest_uses(&[]), []);
    }

    #[test]
    fn decoding_failures_are_malformed_and_the_rest_backend_errors() {
        let decode = sqlx::Error::Decode("not an integer".into());
        assert!(matches!(read_error(decode), StoreError::Malformed { .. }));
        let closed = sqlx::Error::PoolClosed;
        assert!(matches!(read_error(closed), StoreError::Backend { .. }));
    }
}
