//! The Redis store (feature `redis`): limits that hold across every instance of a
//! service, in one round trip per request.
//!
//! A check is one `EVALSHA` of a Lua script that reads every quota key of the
//! identity, runs the same decision functions as [`algorithm`](crate::algorithm) on
//! them and, only when every quota allows, writes them all back: all or nothing,
//! atomically, however many quotas the plan has. The reply carries what the headers
//! need, so nothing else is asked. A server that lost the script (a restart, a
//! failover, a `SCRIPT FLUSH`) answers `NOSCRIPT`; the same call then goes to it again
//! as `EVAL` with the script's source, which caches it there for the next `EVALSHA`.
//!
//! # Keys
//!
//! One string key per quota, `{prefix}:{<identity>}:<plan id>:<quota index>`, holding
//! `time:count:previous` (the [`QuotaState`]). The
//! identity is in a hash tag, so every key of one identity lives in the same Redis
//! Cluster slot (a prefix must not contain `{`, or its own tag would put every identity
//! in one slot). Every write sets a TTL: the moment the state stops mattering (GCRA:
//! its theoretical arrival time; fixed window: its end; sliding window: the end of the
//! following window), so nothing outlives its use. Refunds keep the TTL.
//!
//! # Whose clock
//!
//! By default the script reads the time from Redis (`TIME`): every instance then
//! decides on one clock, and a skewed instance neither admits extra requests (a GCRA
//! limiter whose clock runs ahead by `d` sees every bucket `d` emptier) nor starves.
//! [`TimeSource::Caller`] uses the time the layer passes (its [`Clock`]), for tests
//! that drive the clock, such as the conformance suite, and for single-writer setups.
//! A refund always uses the time of the consumption the layer gives it, so with
//! `TimeSource::Redis` a refund within a clock skew of a window boundary may miss its
//! window (the request then stays counted: the error is on the strict side).
//!
//! [`Clock`]: portcullis_core::clock::Clock
//!
//! # Redis Cluster
//!
//! With feature `redis-cluster`, `RedisStore::connect_cluster` runs the store on a
//! cluster. An identity's keys share one slot (see [Keys](#keys)), so its check is one
//! script on the master of that slot, on that master's clock, while identities spread
//! over all masters. A master that lost the script gets it back alone (`EVAL`; never a
//! keyless `SCRIPT LOAD`, which a cluster client sends to every node, so one slow or
//! unreachable node would hold up every check). Keep the nodes' clocks in sync (NTP): a
//! slot that moves (failover, resharding) carries its identities to another clock.
//! The crate's `tests/redis_cluster*.rs` run the conformance suite and these properties
//! on a real three-master cluster.
//!
//! # Limits of the script's arithmetic
//!
//! Lua numbers are doubles, exact to 2^53. The script keeps instants as (seconds,
//! nanoseconds) pairs and multiplies exactly where a count times a window can exceed
//! 2^53, so its decisions equal the Rust functions bit for bit (the conformance suite
//! and a randomized comparison against the model check it). Windows, GCRA tolerances
//! and limits must stay below 2^52 (a window of about 52 days; a limit of 4.5 × 10^15)
//! and windows must be at least 1 ms: a plan beyond that is refused with a
//! [`StoreError`] naming the quota, never decided approximately.
//!
//! # Redis commands per request
//!
//! | Request                                      | Commands | Round trips |
//! |----------------------------------------------|----------|-------------|
//! | allowed (any number of quotas)               | 1 `EVALSHA` | 1        |
//! | denied                                       | 1 `EVALSHA` | 1        |
//! | denied, identity in a local negative cache   | 0        | 0           |
//! | first request after a `SCRIPT FLUSH`/restart | `EVALSHA`, `EVAL` | 2   |
//! | refund (e.g. of a 5xx, when enabled)         | 1 `EVALSHA` | 1        |
//!
//! Inside the script a check costs one `GET` per quota and, when admitted, one
//! `SET … PX` per quota (plus one `TIME`).
//!
//! # Failures
//!
//! The store itself only reports errors ([`StoreError`]). How long a dead Redis may
//! cost is the [`Resilient`](super::resilient::Resilient) wrapper's (a 50 ms timeout
//! and a circuit breaker; the `redis` feature enables it), what a request then gets is
//! the layer's [`FailurePolicy`](crate::rate_limit::FailurePolicy), and a
//! [`NegativeCache`](super::negative_cache::NegativeCache) in front spares Redis the
//! traffic of blocked clients. The connection ([`redis::aio::ConnectionManager`]) is
//! multiplexed and reconnects by itself.
//!
//! | Redis is… | cost per request | `FailOpen` (default) | `FailClosed` | `Fallback` |
//! |---|---|---|---|---|
//! | healthy | one round trip | – | – | – |
//! | refusing connections (down, wrong port) | the refusal, ≤ the timeout; nothing once the circuit opens | passes, no rate-limit headers | `503` problem+json (`RATE_LIMIT_UNAVAILABLE`; gRPC `UNAVAILABLE`) | decided by a local [`MemoryStore`](super::memory::MemoryStore) with each limit ÷ the expected instances; `429`s and headers as usual |
//! | hung or paused | the timeout (50 ms) until the circuit opens, then nothing | as above | as above | as above |
//! | back | one probe after `open_for` (500 ms, then every 1 s while it keeps failing) closes the circuit; Redis decides again | | | |
//!
//! Every degraded answer counts in the layer's [`metrics`](crate::metrics), logs one
//! `tracing` warning per transition (degraded, recovered), and with
//! [`degraded_header`](crate::rate_limit::RateLimitLayer::degraded_header) carries
//! `x-ratelimit-degraded: fail-open | fail-closed | fallback`.
//!
//! # Example
//!
//! The production stack: denials cached locally, Redis guarded by a timeout and a
//! circuit breaker, a local fallback while it is away. (`no_run`: it needs a Redis
//! server; the crate's `tests/` run the store against a real one.)
//!
//! ```no_run
//! use std::time::Duration;
//! use portcullis_rate_limit::{FailurePolicy, Fallback, RateLimitLayer};
//! use portcullis_rate_limit::store::negative_cache::NegativeCache;
//! use portcullis_rate_limit::store::redis::RedisStore;
//! use portcullis_rate_limit::store::resilient::Resilient;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisStore::open("redis://127.0.0.1:6379")?.prefix("api:rl");
//! let store = NegativeCache::new(Resilient::new(redis).timeout(Duration::from_millis(50)));
//! let layer = RateLimitLayer::multi_tenant()
//!     .store(store)
//!     .on_store_error(FailurePolicy::Fallback(Fallback::local().instances(4)))
//!     .degraded_header(true);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::{Arc, LazyLock};

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Arg, Cmd, ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind};
use smallvec::SmallVec;

use super::{BoxFuture, Store, StoreError};
use crate::algorithm::{Algorithm, Check, QuotaState, WindowAlignment};
use crate::key::Fingerprint;
use crate::outcome::{MAX_QUOTAS, Outcome};
use crate::plan::Plan;
use crate::quota::Quota;

/// The script's source, sent (`EVAL`) only to a node that does not have it yet.
const SOURCE: &str = include_str!("script.lua");
static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SOURCE));

/// The largest window, tolerance, limit or cost the script computes with exactly.
const MAX_EXACT: u64 = 1 << 52;
/// The shortest window the script accepts.
const MIN_WINDOW_NS: u64 = 1_000_000;
const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// The error code of the script's reply for a state it cannot read.
const MALFORMED: &str = "PORTCULLIS_MALFORMED";

/// Where a check's time comes from. See the [module docs](self#whose-clock).
///
/// ```
/// use portcullis_rate_limit::store::redis::TimeSource;
/// assert_eq!(TimeSource::default(), TimeSource::Redis);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeSource {
    /// Redis's `TIME`: one clock for every instance.
    #[default]
    Redis,
    /// The time the layer passes from its clock.
    Caller,
}

impl TimeSource {
    fn as_arg(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Caller => "caller",
        }
    }
}

/// A quota the Redis script cannot decide exactly (see the
/// [module docs](self#limits-of-the-scripts-arithmetic)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("quota `{quota}` is beyond the Redis store's exact arithmetic: {reason}")]
pub struct UnsupportedQuota {
    quota: String,
    reason: &'static str,
}

impl UnsupportedQuota {
    /// The quota's name.
    pub fn quota(&self) -> &str {
        &self.quota
    }
}

/// The Redis store. Clones share the connection. See the [module docs](self).
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

/// The GCRA interval and tolerance of `quota`, if the script computes it exactly.
fn exact_parameters(quota: &Quota) -> Result<(u64, u64), StoreError> {
    let unsupported = |reason| {
        StoreError::backend(UnsupportedQuota {
            quota: quota.name().to_owned(),
            reason,
        })
    };
    let window = quota.window_ns();
    if window < MIN_WINDOW_NS {
        return Err(unsupported("its window is shorter than 1 ms"));
    }
    if window >= MAX_EXACT {
        return Err(unsupported(
            "its window is 2^52 ns (about 52 days) or longer",
        ));
    }
    if quota.limit() >= MAX_EXACT {
        return Err(unsupported("its limit is 2^52 or more"));
    }
    let (interval, tolerance) = (quota.interval_ns(), quota.tolerance_ns());
    if matches!(quota.algorithm(), Algorithm::Gcra { .. })
        && (interval >= MAX_EXACT || tolerance >= MAX_EXACT)
    {
        return Err(unsupported(
            "its burst spans 2^52 ns (about 52 days) or more",
        ));
    }
    Ok((interval, tolerance))
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Gcra { .. } => "gcra",
        Algorithm::SlidingWindow => "sliding",
        Algorithm::FixedWindow {
            alignment: WindowAlignment::Utc,
        } => "fixed_utc",
        Algorithm::FixedWindow { .. } => "fixed",
    }
}

/// The script's reply as an [`Outcome`]: `[allowed, (allowed, remaining, reset,
/// retry_after) per quota]`.
fn outcome(reply: &[i64], quotas: usize, cost: u64) -> Result<Outcome, StoreError> {
    let malformed = || StoreError::Malformed {
        reason: format!(
            "the rate-limit script answered {} numbers for {quotas} quotas",
            reply.len()
        ),
    };
    if reply.len() != 1 + 4 * quotas || quotas > MAX_QUOTAS {
        return Err(malformed());
    }
    let number = |value: i64| u64::try_from(value).map_err(|_| malformed());
    let checks = reply[1..]
        .chunks_exact(4)
        .map(|status| {
            Ok(Check {
                allowed: status[0] == 1,
                state: QuotaState::default(),
                remaining: number(status[1])?,
                reset: number(status[2])?,
                retry_after: number(status[3])?,
                expires_at: 0,
            })
        })
        .collect::<Result<SmallVec<[Check; MAX_QUOTAS]>, StoreError>>()?;
    let outcome = Outcome::from_checks(&checks, cost);
    if outcome.allowed() != (reply[0] == 1) {
        return Err(malformed());
    }
    Ok(outcome)
}

/// Runs `evalsha`; on a node that lost the script (a restart, a failover, a `SCRIPT
/// FLUSH`: `NOSCRIPT`), runs the same call as `EVAL` with the source, which also caches
/// the script there again. Not `SCRIPT LOAD`: it names no key, so a cluster client sends
/// it to every node, and the check would wait on the slowest node of the cluster, or
/// fail while any of them is unreachable.
async fn evaluate<T: FromRedisValue>(
    connection: &mut impl ConnectionLike,
    evalsha: Cmd,
) -> RedisResult<T> {
    match evalsha.query_async(connection).await {
        Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            with_source(&evalsha).query_async(connection).await
        }
        result => result,
    }
}

/// `EVALSHA <sha> <keys and arguments>` as `EVAL <source> <keys and arguments>`.
fn with_source(evalsha: &Cmd) -> Cmd {
    let mut eval = redis::cmd("EVAL");
    eval.arg(SOURCE);
    // A script call has plain arguments only (no cursor).
    for arg in evalsha.args_iter().skip(2) {
        if let Arg::Simple(bytes) = arg {
            eval.arg(bytes);
        }
    }
    eval
}

fn script_error(error: redis::RedisError) -> StoreError {
    match (error.code(), error.detail()) {
        (Some(MALFORMED), Some(detail)) => StoreError::Malformed {
            reason: detail.to_owned(),
        },
        _ => StoreError::backend(error),
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
            outcome(&reply, quotas, cost)
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
    use super::*;
    use std::time::Duration;

    fn statuses(reply: &[i64]) -> Result<Outcome, StoreError> {
        outcome(reply, 2, 1)
    }

    #[test]
    fn a_denial_reports_the_untouched_quota_before_this_request() {
        let outcome = statuses(&[0, 0, 0, 5, 5, 1, 9, 3, 0]).unwrap();
        assert!(!outcome.allowed());
        assert_eq!(
            outcome.statuses()[0].retry_after(),
            Some(Duration::from_nanos(5))
        );
        // Nothing was consumed, so the day quota still has this request's unit.
        assert_eq!(outcome.statuses()[1].remaining(), 10);
    }

    #[test]
    fn replies_of_the_wrong_shape_are_malformed_not_panics() {
        for reply in [
            &[][..],
            &[1, 1, 2, 3][..],
            &[1, 1, -2, 3, 4, 1, 2, 3, 4][..],
        ] {
            assert!(matches!(statuses(reply), Err(StoreError::Malformed { .. })));
        }
        // The overall verdict must agree with the quotas'.
        assert!(matches!(
            statuses(&[1, 0, 0, 5, 5, 1, 9, 3, 0]),
            Err(StoreError::Malformed { .. })
        ));
    }

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

    #[test]
    fn quotas_beyond_exact_arithmetic_are_refused_by_name() {
        let too_short = Quota::new("blink", 10, Duration::from_micros(10));
        let too_long = Quota::new("season", 10, Duration::from_secs(60 * 86_400));
        let fine = Quota::per_day("day", 1_000_000_000);
        for quota in [&too_short, &too_long] {
            let Err(StoreError::Backend { source }) = exact_parameters(quota) else {
                panic!("{} accepted", quota.name());
            };
            let unsupported = source.downcast_ref::<UnsupportedQuota>().unwrap();
            assert_eq!(unsupported.quota(), quota.name());
        }
        assert!(exact_parameters(&fine).is_ok());
    }
}
