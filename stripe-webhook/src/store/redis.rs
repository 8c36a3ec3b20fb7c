//! The Redis store (feature `redis`): idempotency claims and ordering marks shared by
//! every instance of a service.
//!
//! | operation | commands | round trips |
//! |---|---|---|
//! | claim, first delivery | `SET key p:<token> NX PX <claim ttl>` | 1 |
//! | claim, duplicate | `SET … NX PX` (refused), `GET key` | 2 |
//! | complete | `SET key d PX <completed ttl>` | 1 |
//! | release | `EVAL` (delete if the value is still `p:<token>`) | 1 |
//! | ordering admission | `EVAL` (compare and raise the mark, `PX <ttl>`) | 1 |
//!
//! Keys are `{prefix}:evt:{event id}` and `{prefix}:obj:{object id}`, prefix
//! `portcullis:webhook` by default. TTLs count on Redis's clock. `SET NX` is atomic,
//! so of any number of simultaneous deliveries exactly one claims the event; a claim
//! of a crashed instance expires with its TTL.
//!
//! The connection is a [`ConnectionManager`]: multiplexed, reconnecting by itself.
//! While Redis is unreachable, claims fail and the service answers `503`, so Stripe
//! retries later (the handler never runs unguarded).
//!
//! # Example
//!
//! Compiled but not run here, since it needs a Redis server (the crate's
//! `tests/redis_store.rs` runs the same against `REDIS_URL`):
//!
//! ```no_run
//! use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Webhook};
//! use portcullis_stripe_webhook::event::Event;
//! use portcullis_stripe_webhook::store::redis::RedisStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?.prefix("billing:webhooks");
//! let service = Webhook::stripe("whsec_…")?
//!     .store(store)
//!     .handler(|_: Delivery<Event>| async { Ok::<_, HandlerError>(()) });
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redis::aio::ConnectionManager;

use super::{
    Admission, BoxFuture, Claim, ClaimToken, IdempotencyStore, OrderingStore, StoreError,
    ttl_millis,
};

const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

const ADMIT: &str = "local current = redis.call('GET', KEYS[1]) \
    if current and tonumber(current) > tonumber(ARGV[1]) then return current end \
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return false";

const COMPLETED: &str = "d";

/// The Redis idempotency and ordering store. Clones share the connection. See the
/// [module docs](self).
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on the Redis at `url`, connected now: an unreachable server is an
    /// error here.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(StoreError::backend)?;
        let manager = ConnectionManager::new(client)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self::with_connection(manager))
    }

    /// A store on the Redis at `url` that connects on first use, so a service starts
    /// while Redis is down. Only a malformed URL is an error.
    ///
    /// ```
    /// use portcullis_stripe_webhook::store::redis::RedisStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert!(RedisStore::open("redis://127.0.0.1:1").is_ok());
    /// assert!(RedisStore::open("not a url").is_err());
    /// # }
    /// ```
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let manager = portcullis_core::redis::connect_lazily(url).map_err(StoreError::backend)?;
        Ok(Self::with_connection(manager))
    }

    /// A store on a connection you configured.
    pub fn with_connection(connection: ConnectionManager) -> Self {
        Self {
            connection,
            prefix: Arc::from("portcullis:webhook"),
        }
    }

    /// Prefixes every key (default `portcullis:webhook`).
    ///
    /// ```
    /// use portcullis_stripe_webhook::store::redis::RedisStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = RedisStore::open("redis://127.0.0.1:6379").unwrap().prefix("billing:wh");
    /// assert_eq!(store.event_key("evt_1"), "billing:wh:evt:evt_1");
    /// # }
    /// ```
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<Arc<str>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key of an event's idempotency entry.
    pub fn event_key(&self, event_id: &str) -> String {
        format!("{}:evt:{event_id}", self.prefix)
    }

    /// The key of an object's ordering mark.
    pub fn object_key(&self, object_id: &str) -> String {
        format!("{}:obj:{object_id}", self.prefix)
    }
}

impl IdempotencyStore for RedisStore {
    type ClaimFuture = BoxFuture<'static, Result<Claim, StoreError>>;
    type CompleteFuture = BoxFuture<'static, Result<(), StoreError>>;
    type ReleaseFuture = BoxFuture<'static, Result<(), StoreError>>;

    fn claim(
        &self,
        key: &str,
        token: &ClaimToken,
        _now: SystemTime,
        ttl: Duration,
    ) -> Self::ClaimFuture {
        let mut connection = self.connection.clone();
        let key = self.event_key(key);
        let value = format!("p:{}", token.as_str());
        let ttl = ttl_millis(ttl);
        Box::pin(async move {
            // A claim that expires between the SET and the GET is claimed again.
            for _ in 0..3 {
                let set: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut connection)
                    .await
                    .map_err(StoreError::backend)?;
                if set.is_some() {
                    return Ok(Claim::Claimed);
                }
                let current: Option<String> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .map_err(StoreError::backend)?;
                match current.as_deref() {
                    Some(COMPLETED) => return Ok(Claim::Completed),
                    Some(_) => return Ok(Claim::InProgress),
                    None => {}
                }
            }
            Ok(Claim::InProgress)
        })
    }

    fn complete(
        &self,
        key: &str,
        _token: &ClaimToken,
        _now: SystemTime,
        ttl: Duration,
    ) -> Self::CompleteFuture {
        let mut connection = self.connection.clone();
        let key = self.event_key(key);
        let ttl = ttl_millis(ttl);
        Box::pin(async move {
            redis::cmd("SET")
                .arg(&key)
                .arg(COMPLETED)
                .arg("PX")
                .arg(ttl)
                .query_async::<()>(&mut connection)
                .await
                .map_err(StoreError::backend)
        })
    }

    fn release(&self, key: &str, token: &ClaimToken) -> Self::ReleaseFuture {
        let mut connection = self.connection.clone();
        let key = self.event_key(key);
        let value = format!("p:{}", token.as_str());
        Box::pin(async move {
            redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(&key)
                .arg(&value)
                .query_async::<i64>(&mut connection)
                .await
                .map(drop)
                .map_err(StoreError::backend)
        })
    }
}

impl OrderingStore for RedisStore {
    type AdmitFuture = BoxFuture<'static, Result<Admission, StoreError>>;

    fn admit(
        &self,
        object_id: &str,
        created: i64,
        _now: SystemTime,
        ttl: Duration,
    ) -> Self::AdmitFuture {
        let mut connection = self.connection.clone();
        let key = self.object_key(object_id);
        let ttl = ttl_millis(ttl);
        Box::pin(async move {
            let current: Option<i64> = redis::cmd("EVAL")
                .arg(ADMIT)
                .arg(1)
                .arg(&key)
                .arg(created)
                .arg(ttl)
                .query_async(&mut connection)
                .await
                .map_err(StoreError::backend)?;
            Ok(match current {
                Some(last_applied) => Admission::Stale { last_applied },
                None => Admission::Fresh,
            })
        })
    }
}
