//! The Redis store (feature `redis`): keys in a Redis that every instance of a service
//! shares, one round trip per call.
//!
//! Every [`KeyStore`] call is one command: `get` is one `HGETALL`, everything else one
//! `EVALSHA` of a small Lua script (loaded once; after a restart or `SCRIPT FLUSH` the
//! first call finds it missing, loads it and retries: 3 round trips, once). A script
//! runs atomically, so an insert checks both the hash and the id and writes the record
//! with its indexes as one step, and concurrent revocations and batches of uses never
//! lose an update. An empty batch of uses asks nothing. A batch of `n` uses is one
//! script of about `3n` commands, during which Redis serves no one else: a few
//! thousand uses take a millisecond or two. The connection
//! ([`redis::aio::ConnectionManager`]) is multiplexed and reconnects by itself.
//!
//! # Keys
//!
//! With the default prefix `portcullis:ak` (see [`RedisKeyStore::prefix`]):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{prefix}:key:{id}` | hash | the record, one field per [`KeyRecord`] field (below) |
//! | `{prefix}:hash:{hash}` | string | the id of the key with this hash (`sha256:<base64url digest>`): the verification lookup |
//! | `{prefix}:tenant:{tenant}` | sorted set | the tenant's keys, in listing order |
//!
//! The record's fields are `id`, `tenant`, `name`, `hash` (its text form), `masked`,
//! `scopes` (space separated), `plan`, `metadata` (JSON text, never parsed by a
//! script, so numbers keep every digit), and `created_at`, `expires_at`,
//! `revoked_at`, `last_used_at` (microseconds since the Unix epoch, in decimal); a
//! `None` is an absent field. Scripts compare times as decimal text, exactly over the
//! whole `i64` range (Lua's numbers are doubles, exact only to 2^53).
//!
//! A tenant's sorted set scores each key by `created_at` and names it
//! `{created_at as 16 order-preserving hex digits}:{id}`, so `ZRANGE` gives creation
//! order, equal times in id byte order, exactly even where the double score cannot
//! tell two times apart. Nothing expires; nothing is deleted.
//!
//! Scripts find records through the indexes, so they touch keys they were not passed:
//! on a Redis Cluster, put the whole prefix in a hash tag (`{ak}`) so every key lives
//! in one slot.
//!
//! # Example
//!
//! `no_run`: it needs a Redis server (the crate's `tests/` run the store against one,
//! and the conformance suite).
//!
//! ```no_run
//! use portcullis_api_keys::store::{KeyStore, redis::RedisKeyStore};
//! use portcullis_api_keys::id::TenantId;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), portcullis_api_keys::store::StoreError> {
//! let store = RedisKeyStore::connect("redis://127.0.0.1:6379").await?.prefix("billing:ak");
//! let keys = store.list_by_tenant(&TenantId::new("acme")).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Script, Value};

use super::{BoxError, KeyStore, StoreError};
use crate::hash::KeyHash;
use crate::id::{KeyId, TenantId};
use crate::key::MaskedKey;
use crate::record::{KeyRecord, KeyUpdate, Metadata};
use crate::scopes::Scopes;
use crate::timestamp::Timestamp;

const DEFAULT_PREFIX: &str = "portcullis:ak";

/// Functions the scripts share.
macro_rules! lua_prelude {
    () => {
        r#"
-- Whether the integer a is less than b, both in canonical decimal (as Rust writes an
-- i64): exact over the whole i64 range, where Lua's doubles stop at 2^53. Compares
-- bytes, not strings, so the server's locale cannot matter.
local function less(a, b)
  local a_negative, b_negative = a:byte(1) == 45, b:byte(1) == 45
  if a_negative ~= b_negative then return a_negative end
  if #a ~= #b then return (#a < #b) ~= a_negative end
  for i = 1, #a do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return (x < y) ~= a_negative end
  end
  return false
end
"#
    };
}

/// KEYS: record, hash index, tenant index. ARGV: the record key prefix, the id, the
/// tenant score and member, then the record's field/value pairs. Replies `hash`, `id`
/// or `ok`.
static INSERT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        lua_prelude!(),
        r#"
local owner = redis.call('GET', KEYS[2])
if owner and redis.call('EXISTS', ARGV[1] .. owner) == 1 then return 'hash' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'id' end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 'ok'
"#
    ))
});

/// KEYS: hash index. ARGV: the record key prefix. Replies the record's fields or nil.
static GET_BY_HASH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local id = redis.call('GET', KEYS[1])
if not id then return false end
local fields = redis.call('HGETALL', ARGV[1] .. id)
if #fields == 0 then return false end
return fields
"#,
    )
});

/// KEYS: tenant index. ARGV: the record key prefix. Replies each record's fields, in
/// the index's order.
static LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local records = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local fields = redis.call('HGETALL', ARGV[1] .. string.sub(member, 18))
  if #fields > 0 then records[#records + 1] = fields end
end
return records
"#,
    )
});

/// KEYS: record. ARGV: the fields to remove (space separated), then field/value pairs
/// to set. Replies the record's fields or nil.
static UPDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
for field in string.gmatch(ARGV[1], '%S+') do redis.call('HDEL', KEYS[1], field) end
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
return redis.call('HGETALL', KEYS[1])
"#,
    )
});

/// KEYS: record. ARGV: the revocation time. Keeps the earliest; replies the record's
/// fields or nil.
static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        lua_prelude!(),
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local current = redis.call('HGET', KEYS[1], 'revoked_at')
if not current or less(ARGV[1], current) then
  redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
"#
    ))
});

/// KEYS: records. ARGV: a time per record. Keeps the latest; skips missing records.
static RECORD_LAST_USED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        lua_prelude!(),
        r#"
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    local current = redis.call('HGET', key, 'last_used_at')
    if not current or less(current, ARGV[i]) then
      redis.call('HSET', key, 'last_used_at', ARGV[i])
    end
  end
end
return 0
"#
    ))
});

/// The Redis store. Clones share the connection. See the [module docs](self).
#[derive(Clone)]
pub struct RedisKeyStore<C = ConnectionManager> {
    connection: C,
    prefix: Arc<str>,
    /// `{prefix}:key:`, the start of every record key.
    record_prefix: Arc<str>,
}

impl<C> fmt::Debug for RedisKeyStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisKeyStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisKeyStore<ConnectionManager> {
    /// A store on the Redis at `url` that connects now: an unreachable server is an
    /// error here rather than on the first call.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let manager = portcullis_core::redis::connect(url)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self::with_connection(manager))
    }

    /// A store on the Redis at `url` that connects on first use, so a service starts
    /// even while Redis is down (its calls fail until Redis answers). Only a malformed
    /// URL is an error.
    ///
    /// ```
    /// use portcullis_api_keys::store::redis::RedisKeyStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = RedisKeyStore::open("redis://127.0.0.1:1").unwrap();
    /// assert!(RedisKeyStore::open("not a url").is_err());
    /// # }
    /// ```
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let manager = portcullis_core::redis::connect_lazily(url).map_err(StoreError::backend)?;
        Ok(Self::with_connection(manager))
    }
}

impl<C> RedisKeyStore<C> {
    /// A store on a connection you configured (a [`ConnectionManager`] with your own
    /// settings, a cluster connection, …), with the key prefix `portcullis:ak`.
    pub fn with_connection(connection: C) -> Self {
        Self {
            connection,
            prefix: Arc::from(DEFAULT_PREFIX),
            record_prefix: Arc::from(format!("{DEFAULT_PREFIX}:key:")),
        }
    }

    /// Prefixes every key (default `portcullis:ak`), to share a Redis with other data
    /// or to keep two stores apart. On a Redis Cluster, make it a hash tag (`{ak}`).
    ///
    /// ```
    /// # use portcullis_api_keys::store::redis::RedisKeyStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = RedisKeyStore::open("redis://127.0.0.1:6379").unwrap().prefix("billing:ak");
    /// assert_eq!(store.key_prefix(), "billing:ak");
    /// # }
    /// ```
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<Arc<str>>) -> Self {
        self.prefix = prefix.into();
        self.record_prefix = Arc::from(format!("{}:key:", self.prefix));
        self
    }

    /// The key prefix.
    ///
    /// ```
    /// # use portcullis_api_keys::store::redis::RedisKeyStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(RedisKeyStore::open("redis://127.0.0.1:6379").unwrap().key_prefix(), "portcullis:ak");
    /// # }
    /// ```
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of the hash holding the record with this id: `{prefix}:key:{id}`.
    ///
    /// ```
    /// # use portcullis_api_keys::{id::KeyId, store::redis::RedisKeyStore};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = RedisKeyStore::open("redis://127.0.0.1:6379").unwrap();
    /// let id: KeyId = "key_0123456789ABCDEFabcdef".parse().unwrap();
    /// assert_eq!(store.record_key(&id), "portcullis:ak:key:key_0123456789ABCDEFabcdef");
    /// # }
    /// ```
    pub fn record_key(&self, id: &KeyId) -> String {
        format!("{}{id}", self.record_prefix)
    }

    /// The key holding the id of the record with this hash: `{prefix}:hash:{hash}`.
    ///
    /// ```
    /// # use portcullis_api_keys::{hash::{HashAlgorithm, KeyHash}, store::redis::RedisKeyStore};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = RedisKeyStore::open("redis://127.0.0.1:6379").unwrap();
    /// let hash = KeyHash::from_digest(HashAlgorithm::Sha256, &[7; 32]).unwrap();
    /// assert_eq!(
    ///     store.hash_key(&hash),
    ///     "portcullis:ak:hash:sha256:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"
    /// );
    /// # }
    /// ```
    pub fn hash_key(&self, hash: &KeyHash) -> String {
        format!("{}:hash:{hash}", self.prefix)
    }

    /// The key of the sorted set of the tenant's keys: `{prefix}:tenant:{tenant}`.
    ///
    /// ```
    /// # use portcullis_api_keys::{id::TenantId, store::redis::RedisKeyStore};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = RedisKeyStore::open("redis://127.0.0.1:6379").unwrap();
    /// assert_eq!(store.tenant_key(&TenantId::new("acme")), "portcullis:ak:tenant:acme");
    /// # }
    /// ```
    pub fn tenant_key(&self, tenant: &TenantId) -> String {
        format!("{}:tenant:{tenant}", self.prefix)
    }
}

/// A record's member of its tenant's sorted set: `created_at` in 16 hex digits whose
/// byte order is the numbers' order (the sign bit flipped), `:`, the id.
fn tenant_member(record: &KeyRecord) -> String {
    let order = (record.created_at.as_unix_micros() as u64) ^ (1 << 63);
    format!("{order:016x}:{}", record.id)
}

/// A record as field/value pairs, absent options left out.
fn record_fields(record: &KeyRecord) -> Result<Vec<(&'static str, String)>, StoreError> {
    let metadata = serde_json::to_string(&record.metadata).map_err(StoreError::backend)?;
    let mut fields = vec![
        ("id", record.id.to_string()),
        ("tenant", record.tenant.to_string()),
        ("name", record.name.clone()),
        ("hash", record.hash.to_string()),
        ("masked", record.masked.as_str().to_owned()),
        ("scopes", record.scopes.to_string()),
        ("metadata", metadata),
        ("created_at", record.created_at.as_unix_micros().to_string()),
    ];
    if let Some(plan) = &record.plan {
        fields.push(("plan", plan.clone()));
    }
    for (field, at) in [
        ("expires_at", record.expires_at),
        ("revoked_at", record.revoked_at),
        ("last_used_at", record.last_used_at),
    ] {
        if let Some(at) = at {
            fields.push((field, at.as_unix_micros().to_string()));
        }
    }
    Ok(fields)
}

/// A stored field that is not valid: the source of a [`StoreError::Malformed`].
#[derive(Debug, thiserror::Error)]
#[error("field `{field}` of `{key}`: {source}")]
struct MalformedField {
    field: &'static str,
    key: String,
    source: BoxError,
}

/// A reply of the wrong shape: the source of a [`StoreError::Malformed`].
#[derive(Debug, thiserror::Error)]
#[error("unexpected reply from Redis: {0}")]
struct UnexpectedReply(String);

fn unexpected(value: &Value) -> StoreError {
    StoreError::malformed(UnexpectedReply(format!("{value:?}")))
}

/// The text of a bulk string.
fn text(value: Value) -> Result<String, StoreError> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).map_err(StoreError::malformed),
        Value::SimpleString(text) => Ok(text),
        other => Err(unexpected(&other)),
    }
}

/// A record from an `HGETALL` reply (an array of fields and values, or a RESP3 map);
/// `None` for no fields (no record).
fn record_from_reply(reply: Value) -> Result<Option<KeyRecord>, StoreError> {
    let pairs: Vec<(Value, Value)> = match reply {
        Value::Nil => return Ok(None),
        Value::Map(pairs) => pairs,
        Value::Array(items) if items.len() % 2 == 0 => {
            let mut items = items.into_iter();
            std::iter::from_fn(|| Some((items.next()?, items.next()?))).collect()
        }
        other => return Err(unexpected(&other)),
    };
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut fields = HashMap::with_capacity(pairs.len());
    for (field, value) in pairs {
        fields.insert(text(field)?, text(value)?);
    }
    Fields(fields).into_record().map(Some)
}

/// A record's fields as stored.
struct Fields(HashMap<String, String>);

impl Fields {
    fn into_record(mut self) -> Result<KeyRecord, StoreError> {
        let id_text = self.required("id", "")?;
        let id: KeyId = id_text
            .parse()
            .map_err(|error| malformed("id", &id_text, error))?;
        let key = id.as_str();
        let hash: KeyHash = self
            .required("hash", key)?
            .parse()
            .map_err(|error| malformed("hash", key, error))?;
        let scopes: Scopes = self
            .required("scopes", key)?
            .parse()
            .map_err(|error| malformed("scopes", key, error))?;
        let metadata: Metadata = serde_json::from_str(&self.required("metadata", key)?)
            .map_err(|error| malformed("metadata", key, error))?;
        Ok(KeyRecord {
            id,
            tenant: TenantId::new(self.required("tenant", key)?),
            name: self.required("name", key)?,
            hash,
            masked: MaskedKey::new(self.required("masked", key)?),
            scopes,
            plan: self.0.remove("plan"),
            metadata,
            created_at: self
                .time("created_at", key)?
                .ok_or_else(|| missing("created_at", key))?,
            expires_at: self.time("expires_at", key)?,
            revoked_at: self.time("revoked_at", key)?,
            last_used_at: self.time("last_used_at", key)?,
        })
    }

    fn required(&mut self, field: &'static str, key: &str) -> Result<String, StoreError> {
        self.0.remove(field).ok_or_else(|| missing(field, key))
    }

    /// A time field, which the scripts compare as canonical decimal text.
    fn time(&mut self, field: &'static str, key: &str) -> Result<Option<Timestamp>, StoreError> {
        let Some(text) = self.0.remove(field) else {
            return Ok(None);
        };
        let micros: i64 = text.parse().map_err(|error| malformed(field, key, error))?;
        if micros.to_string() != text {
            return Err(malformed(field, key, format!("`{text}` is not canonical")));
        }
        Ok(Some(Timestamp::from_unix_micros(micros)))
    }
}

fn malformed(field: &'static str, key: &str, error: impl Into<BoxError>) -> StoreError {
    StoreError::malformed(MalformedField {
        field,
        key: key.to_owned(),
        source: error.into(),
    })
}

fn missing(field: &'static str, key: &str) -> StoreError {
    malformed(field, key, "missing")
}

impl<C> KeyStore for RedisKeyStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    async fn insert(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let mut invocation = INSERT.prepare_invoke();
        invocation
            .key(self.record_key(&record.id))
            .key(self.hash_key(&record.hash))
            .key(self.tenant_key(&record.tenant))
            .arg(&*self.record_prefix)
            .arg(record.id.as_str())
            .arg(record.created_at.as_unix_micros())
            .arg(tenant_member(record));
        for (field, value) in record_fields(record)? {
            invocation.arg(field).arg(value);
        }
        let reply: String = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::backend)?;
        match reply.as_str() {
            "ok" => Ok(()),
            "hash" => Err(StoreError::DuplicateHash),
            "id" => Err(StoreError::DuplicateId { id: record.id }),
            other => Err(StoreError::malformed(UnexpectedReply(other.to_owned()))),
        }
    }

    async fn get_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        let reply: Value = GET_BY_HASH
            .key(self.hash_key(hash))
            .arg(&*self.record_prefix)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::backend)?;
        let record = record_from_reply(reply)?;
        // The verification path: never answer with another key's record.
        match record {
            Some(record) if record.hash != *hash => Err(malformed(
                "hash",
                record.id.as_str(),
                format!("the index of {hash} points to a key with another hash"),
            )),
            record => Ok(record),
        }
    }

    async fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let reply: Value = redis::cmd("HGETALL")
            .arg(self.record_key(id))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::backend)?;
        record_from_reply(reply)
    }

    async fn list_by_tenant(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, StoreError> {
        let reply: Value = LIST
            .key(self.tenant_key(tenant))
            .arg(&*self.record_prefix)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::backend)?;
        let Value::Array(records) = reply else {
            return Err(unexpected(&reply));
        };
        records
            .into_iter()
            .map(|fields| record_from_reply(fields)?.ok_or_else(|| unexpected(&Value::Nil)))
            .collect()
    }

    async fn update(
        &self,
        id: &KeyId,
        update: &KeyUpdate,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let removed: Vec<&str> = [
            ("expires_at", update.expires_at == Some(None)),
            ("plan", update.plan == Some(None)),
        ]
        .into_iter()
        .filter_map(|(field, removed)| removed.then_some(field))
        .collect();
        let mut invocation = UPDATE.prepare_invoke();
        invocation.key(self.record_key(id)).arg(removed.join(" "));
        if let Some(name) = &update.name {
            invocation.arg("name").arg(name.as_str());
        }
        if let Some(scopes) = &update.scopes {
            invocation.arg("scopes").arg(scopes.to_string());
        }
        if let Some(metadata) = &update.metadata {
            let metadata = serde_json::to_string(metadata).map_err(StoreError::backend)?;
            invocation.arg("metadata").arg(metadata);
        }
        if let Some(Some(at)) = update.expires_at {
            invocation.arg("expires_at").arg(at.as_unix_micros());
        }
        if let Some(Some(plan)) = &update.plan {
            invocation.arg("plan").arg(plan.as_str());
        }
        let reply: Value = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::backend)?;
        record_from_reply(reply)
    }

    async fn revoke(&self, id: &KeyId, at: Timestamp) -> Result<Option<KeyRecord>, StoreError> {
        let reply: Value = REVOKE
            .key(self.record_key(id))
            .arg(at.as_unix_micros())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::backend)?;
        record_from_reply(reply)
    }

    async fn record_last_used(&self, uses: &[(KeyId, Timestamp)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut invocation = RECORD_LAST_USED.prepare_invoke();
        for (id, at) in uses {
            invocation.key(self.record_key(id)).arg(at.as_unix_micros());
        }
        let _: i64 = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::HashAlgorithm;

    fn record(created_at: i64) -> KeyRecord {
        KeyRecord::new(
            KeyId::generate(),
            TenantId::new("acme"),
            KeyHash::from_digest(HashAlgorithm::Sha256, &[1; 32]).unwrap(),
            MaskedKey::new("sk_live_…0001"),
            Timestamp::from_unix_micros(created_at),
        )
    }

    #[test]
    fn tenant_members_order_as_creation_times_then_ids() {
        let times = [i64::MIN, -1_000, -1, 0, 1, 1 << 53, (1 << 53) + 1, i64::MAX];
        let members: Vec<String> = times.iter().map(|&t| tenant_member(&record(t))).collect();
        assert!(
            members.windows(2).all(|pair| pair[0] < pair[1]),
            "{members:?}"
        );
        let member = tenant_member(&record(0));
        assert!(member.starts_with("8000000000000000:key_"));
        // The scripts take the id from the 18th byte on.
        assert_eq!(member.len(), 17 + 26);
    }

    #[test]
    fn fields_round_trip_and_absent_options_stay_absent() {
        let mut full = record(5);
        full.plan = Some(String::new());
        full.expires_at = Some(Timestamp::from_unix_micros(i64::MAX));
        full.metadata
            .insert("big".into(), 9_007_199_254_740_993_u64.into());
        for record in [record(-5), full] {
            let fields = record_fields(&record).unwrap();
            let reply = Value::Array(
                fields
                    .into_iter()
                    .flat_map(|(field, value)| {
                        [
                            Value::BulkString(field.into()),
                            Value::BulkString(value.into()),
                        ]
                    })
                    .collect(),
            );
            assert_eq!(record_from_reply(reply).unwrap(), Some(record));
        }
        assert_eq!(record_from_reply(Value::Array(vec![])).unwrap(), None);
        assert_eq!(record_from_reply(Value::Nil).unwrap(), None);
    }

    #[test]
    fn replies_and_fields_of_the_wrong_shape_are_malformed() {
        let fields = |pairs: &[(&str, &str)]| {
            Value::Array(
                pairs
                    .iter()
                    .flat_map(|(f, v)| {
                        [
                            Value::BulkString(f.as_bytes().to_vec()),
                            Value::BulkString(v.as_bytes().to_vec()),
                        ]
                    })
                    .collect(),
            )
        };
        let valid = record_fields(&record(1)).unwrap();
        let with = |field: &str, value: Option<&str>| {
            let mut pairs: Vec<(&str, &str)> = valid
                .iter()
                .filter(|(f, _)| *f != field)
                .map(|(f, v)| (*f, v.as_str()))
                .collect();
            if let Some(value) = value {
                pairs.push((field, value));
            }
            fields(&pairs)
        };
        let cases = [
            with("created_at", Some("01")),
            with("created_at", Some("1.5")),
            with("created_at", None),
            with("hash", Some("md5:xyz")),
            with("metadata", Some("[]")),
            with("tenant", None),
            with("last_used_at", Some("+3")),
            Value::Array(vec![Value::BulkString(b"id".to_vec())]),
            Value::Int(3),
            Value::Array(vec![
                Value::BulkString(b"id".to_vec()),
                Value::BulkString(vec![0xff]),
            ]),
        ];
        for reply in cases {
            let described = format!("{reply:?}");
            assert!(
                matches!(record_from_reply(reply), Err(StoreError::Malformed { .. })),
                "{described}"
            );
        }
    }
}
