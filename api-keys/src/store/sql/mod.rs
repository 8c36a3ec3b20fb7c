//! What the SQL stores (`store::sqlite`, `store::postgres`)
//! share: how a record maps to a row and back, how a batch of uses is reduced, and how
//! the shipped migrations are applied.
//!
//! Both keep one table, `portcullis_api_keys`, with one column per [`KeyRecord`] field
//! (the hash in two, algorithm and digest, under one unique index); only the SQL
//! around it differs.
//!
//! [`KeyRecord`]: crate::record::KeyRecord

mod migrate;
mod row;

#[cfg(test)]
pub(crate) use migrate::assert_ships_every_file;
pub(crate) use migrate::{Migration, pending};
pub(crate) use row::{Encoded, StoredRow, latest_uses, metadata_text, read_error};

/// The `KeyStore` methods both SQL stores write alike: each module defines the same
/// names (`INSERT`, `GET_BY_HASH`, `GET`, `LIST`, `UPDATE`, `REVOKE`, `insert_error`,
/// and a `fetch_one_record` method for its database); only `record_last_used`, whose
/// batch binds differently, stays in each store.
macro_rules! shared_key_store_methods {
    () => {
        async fn insert(&self, record: &KeyRecord) -> Result<(), StoreError> {
            let encoded = Encoded::new(record)?;
            encoded
                .bind(sqlx::query(INSERT))
                .execute(&self.pool)
                .await
                .map_err(|error| insert_error(error, record.id))?;
            Ok(())
        }

        async fn get_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
            let algorithm = hash.algorithm().to_string();
            let query = sqlx::query_as(GET_BY_HASH)
                .bind(algorithm.as_str())
                .bind(&hash.digest()[..]);
            self.fetch_one_record(query).await
        }

        async fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
            self.fetch_one_record(sqlx::query_as(GET).bind(id.as_str()))
                .await
        }

        async fn list_by_tenant(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, StoreError> {
            let rows: Vec<StoredRow> = sqlx::query_as(LIST)
                .bind(tenant.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(read_error)?;
            rows.into_iter().map(StoredRow::into_record).collect()
        }

        async fn update(
            &self,
            id: &KeyId,
            update: &KeyUpdate,
        ) -> Result<Option<KeyRecord>, StoreError> {
            let scopes = update.scopes.as_ref().map(ToString::to_string);
            let metadata = update
                .metadata
                .as_ref()
                .map(sql::metadata_text)
                .transpose()?;
            let query = sqlx::query_as(UPDATE)
                .bind(id.as_str())
                .bind(update.name.as_deref())
                .bind(scopes.as_deref())
                .bind(metadata.as_deref())
                .bind(update.expires_at.is_some())
                .bind(update.expires_at.flatten().map(Timestamp::as_unix_micros))
                .bind(update.plan.is_some())
                .bind(update.plan.clone().flatten());
            self.fetch_one_record(query).await
        }

        async fn revoke(&self, id: &KeyId, at: Timestamp) -> Result<Option<KeyRecord>, StoreError> {
            let query = sqlx::query_as(REVOKE)
                .bind(id.as_str())
                .bind(at.as_unix_micros());
            self.fetch_one_record(query).await
        }
    };
}
pub(crate) use shared_key_store_methods;

/// The end of both SQL stores' `migrate`, once the store has opened its migration
/// transaction `tx` and taken its lock: creates the bookkeeping table, applies the
/// shipped migrations the database lacks, records each (each module defines
/// `MIGRATIONS`, `MIGRATIONS_TABLE` and `RECORD_MIGRATION` for its database), and
/// commits.
macro_rules! apply_pending_migrations {
    ($tx:ident) => {{
        // `Executor::execute` rather than `raw_sql`, whose future is not `Send` for
        // every lifetime (sqlx#3150): `migrate` must run in a spawned task.
        $tx.execute(MIGRATIONS_TABLE)
            .await
            .map_err(StoreError::backend)?;
        let applied: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, checksum FROM portcullis_api_keys_migrations")
                .fetch_all(&mut *$tx)
                .await
                .map_err(StoreError::backend)?;
        for migration in sql::pending(MIGRATIONS, &applied)? {
            $tx.execute(migration.sql)
                .await
                .map_err(StoreError::backend)?;
            sqlx::query(RECORD_MIGRATION)
                .bind(migration.version)
                .bind(migration.description)
                .bind(migration.checksum())
                .execute(&mut *$tx)
                .await
                .map_err(StoreError::backend)?;
        }
        $tx.commit().await.map_err(StoreError::backend)
    }};
}

pub(crate) use apply_pending_migrations;
