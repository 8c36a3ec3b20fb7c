//! [`RedisStore`]: the store, its connection and settings, and its script calls.

use std::fmt;
use std::sync::Arc;

use redis::Cmd;
use redis::aio::{ConnectionLike, ConnectionManager};

use super::arguments::{MAX_EXACT, algorithm_name, exact_parameters};
use super::script::{SCRIPT, evaluate, read_outcome, script_error};
use super::time_source::TimeSource;
use crate::key::Fingerprint;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::store::{BoxFuture, Store, StoreError};

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// The Redis store. Clones share the connection. See the [module docs](super).
#[derive(Clone)]
pub struct RedisStore<C = ConnectionManager> {
    connection: C,
    prefix: Arc<str>,
    time: TimeSource,
}

impl<C> fmt::Debug for RedisStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("time", &self.time)
            .finish_non_exhaustive()
    }
}

impl RedisStore<ConnectionManager> {
    /// A store on the Redis at `url` that connects now: an unreachable server is an
    /// error here rather than on the first request.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let manager = portcullis_core::redis::connect(url)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self::with_connection(manager))
    }

    /// A store on the Redis at `url` that connects on first use, so a service starts
    /// even while Redis is down (its checks fail until Redis answers, as the failure
    /// policy says). Only a malformed URL is an error.
    ///
    /// ```
    /// use portcullis_rate_limit::store::redis::RedisStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = RedisStore::open("redis://127.0.0.1:1").unwrap();
    /// assert!(RedisStore::open("not a url").is_err());
    /// # }
    /// ```
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let manager = portcullis_core::redis::connect_lazily(url).map_err(StoreError::backend)?;
        Ok(Self::with_connection(manager))
    }
}

#[cfg(feature = "redis-cluster")]
impl RedisStore<redis::cluster_async::ClusterConnection> {
    /// A store on a Redis Cluster (feature `redis-cluster`), given some of its nodes.
    /// An identity's keys share one slot, so its script runs on one node.
    pub async fn connect_cluster(
        nodes: impl IntoIterator<Item = impl redis::IntoConnectionInfo>,
    ) -> Result<Self, StoreError> {
        let client = redis::cluster::ClusterClient::new(nodes).map_err(StoreError::backend)?;
        let connection = client
            .get_async_connection()
            .await
            .map_err(StoreError::backend)?;
        Ok(Self::with_connection(connection))
    }
}

impl<C> RedisStore<C> {
    /// A store on a connection you configured (a [`ConnectionManager`] with your own
    /// settings, a cluster connection, …). Key prefix `portcullis:rl`, Redis time.
    pub fn with_connection(connection: C) -> Self {
        Self {
            connection,
            prefix: Arc::from("portcullis:rl"),
            time: TimeSource::default(),
        }
    }

    /// Prefixes every key (default `portcullis:rl`), to share a Redis with other data
    /// or to keep two limiters apart.
    ///
    /// ```
    /// # use portcullis_rate_limit::store::redis::RedisStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = RedisStore::open("redis://127.0.0.1:6379").unwrap().prefix("billing:rl");
    /// assert_eq!(store.key_prefix(), "billing:rl");
    /// # }
    /// ```
    pub fn prefix(mut self, prefix: impl Into<Arc<str>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key prefix.
    ///
    /// ```
    /// # use portcullis_rate_limit::store::redis::RedisStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(RedisStore::open("redis://127.0.0.1:6379").unwrap().key_prefix(), "portcullis:rl");
    /// # }
    /// ```
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// Where the time of a check comes from (default [`TimeSource::Redis`]).
    pub fn time_source(mut self, time: TimeSource) -> Self {
        self.time = time;
        self
    }

    /// The key holding quota `index` of `plan` for identity `key`.
    ///
    /// ```
    /// # use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::redis::RedisStore};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = RedisStore::open("redis://127.0.0.1:6379").unwrap();
    /// let key = store.quota_key(Fingerprint::from_u64(0xab), &Plan::free(), 0);
    /// assert!(key.starts_with("portcullis:rl:{00000000000000ab}:"));
    /// # }
    /// ```
    pub fn quota_key(&self, key: Fingerprint, plan: &Plan, index: usize) -> String {
        format!("{}:{{{key}}}:{:016x}:{index}", self.prefix, plan.id())
    }

    /// The script's `EVALSHA` for one check or refund: the identity's quota keys (one
    /// slot, so a cluster client sends it to the node holding them), then the arguments.
    fn evalsha(
        &self,
        mode: &str,
        key: Fingerprint,
        plan: &Plan,
        cost: u64,
        now_ns: u64,
    ) -> Result<Cmd, StoreError> {
        let quotas = plan.quotas();
        let mut command = redis::cmd("EVALSHA");
        command.arg(SCRIPT.get_hash()).arg(quotas.len());
        for index in 0..quotas.len() {
            command.arg(self.quota_key(key, plan, index));
        }
        command
            .arg(mode)
            .arg(self.time.as_arg())
            .arg(now_ns / NANOS_PER_SECOND)
            .arg(now_ns % NANOS_PER_SECOND)
            .arg(cost.min(MAX_EXACT - 1));
        for quota in quotas {
            let (interval, tolerance) = exact_parameters(quota)?;
            command
                .arg(algorithm_name(quota.algorithm()))
                .arg(quota.limit())
                .arg(quota.window_ns())
                .arg(interval)
                .arg(tolerance);
        }
        Ok(command)
    }
}

/// The Redis client boxes every command's future itself, so one more box per request
/// costs nothing measurable next to the round trip.
impl<C> Store for RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    type CheckFuture = BoxFuture<'static, Result<Outcome, StoreError>>;
    type RefundFuture = BoxFuture<'static, Result<(), StoreError>>;

    fn check(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Self::CheckFuture {
        let command = self.evalsha("check", key, plan, cost, now_ns);
        let mut connection = self.connection.clone();
        let quotas = plan.quotas().len();
        Box::pin(async move {
            let reply: Vec<i64> = evaluate(&mut connection, command?)
                .await
                .map_err(script_error)?;
            read_outcome(&reply, quotas, cost)
        })
    }

    fn refund(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> Self::RefundFuture {
        let command = self.evalsha("refund", key, plan, cost, consumed_at_ns);
        let mut connection = self.connection.clone();
        Box::pin(async move {
            let _changed: i64 = evaluate(&mut connection, command?)
                .await
                .map_err(script_error)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use redis::Arg;

    use super::*;
    use crate::quota::Quota;
    use crate::store::redis::script::{SOURCE, with_source};

    fn args(command: &Cmd) -> Vec<Vec<u8>> {
        command
            .args_iter()
            .map(|arg| match arg {
                Arg::Simple(bytes) => bytes.to_vec(),
                _ => panic!("a script call has only plain arguments"),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_lost_script_is_sent_again_as_eval_with_the_same_keys_and_arguments() {
        let store = RedisStore::open("redis://127.0.0.1:1").unwrap().prefix("p");
        let plan = Plan::new(
            "two",
            [Quota::per_minute("minute", 5), Quota::per_day("day", 100)],
        )
        .unwrap();
        let key = Fingerprint::from_u64(9);
        let evalsha = store.evalsha("check", key, &plan, 2, 3).unwrap();
        let (sha, eval) = (args(&evalsha), args(&with_source(&evalsha)));
        assert_eq!(sha[..2], [&b"EVALSHA"[..], SCRIPT.get_hash().as_bytes()]);
        assert_eq!(eval[..2], [&b"EVAL"[..], SOURCE.as_bytes()]);
        assert_eq!(sha[2..], eval[2..]);
        // Keys first, so a cluster client routes both by the identity's slot.
        assert_eq!(sha[2], b"2");
        assert_eq!(sha[3], store.quota_key(key, &plan, 0).as_bytes());
        assert_eq!(sha[4], store.quota_key(key, &plan, 1).as_bytes());
        assert_eq!(sha[5], b"check");
    }
}
