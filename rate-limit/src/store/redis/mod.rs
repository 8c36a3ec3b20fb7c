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
//! `time:count:previous` (the [`QuotaState`](crate::algorithm::QuotaState)). The
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
//! [`StoreError`](super::StoreError) naming the quota, never decided approximately.
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
//! The store itself only reports errors ([`StoreError`](super::StoreError)). How long a dead Redis may
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

mod arguments;
mod script;
mod store;
mod time_source;

pub use arguments::UnsupportedQuota;
pub use store::RedisStore;
pub use time_source::TimeSource;
