//! The key-value store end to end: conformance, the documented overshoot bound for a
//! fleet of instances sharing a lagging store, time-to-live, refunds, malformed values
//! and failures.

use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use portcullis_core::clock::{Clock, ManualClock};
use portcullis_rate_limit::algorithm::{Algorithm, QuotaState};
use portcullis_rate_limit::key::Fingerprint;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::store::kv::{KeyValue, KvError, KvStore, MemoryKeyValue};
use portcullis_rate_limit::store::{Store, StoreError};

/// 2023-11-15T00:00:00Z: a UTC day boundary, so window edges are known.
const EPOCH: Duration = Duration::from_secs(1_700_006_400);
const SECOND: Duration = Duration::from_secs(1);

/// The one identity every test limits.
fn key() -> Fingerprint {
    Fingerprint::from_u64(0x5eed)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap()
}

fn plan(quota: Quota) -> Arc<Plan> {
    Arc::new(Plan::new("edge", [quota]).unwrap())
}

/// A store that keeps nothing: every read finds nothing, as if writes never arrived.
#[derive(Clone, Debug, Default)]
struct BlackHole {
    writes: Arc<AtomicU64>,
}

impl KeyValue for BlackHole {
    type GetFuture = Ready<Result<Option<Bytes>, KvError>>;
    type PutFuture = Ready<Result<(), KvError>>;

    fn get(&self, _key: &str) -> Self::GetFuture {
        ready(Ok(None))
    }

    fn put(&self, _key: &str, _value: Bytes, _ttl: Duration) -> Self::PutFuture {
        self.writes.fetch_add(1, Ordering::Relaxed);
        ready(Ok(()))
    }
}

/// A store that is down: reads fail, or reads work and writes fail.
#[derive(Clone, Copy, Debug)]
struct Down {
    reads_fail: bool,
}

impl KeyValue for Down {
    type GetFuture = Ready<Result<Option<Bytes>, KvError>>;
    type PutFuture = Ready<Result<(), KvError>>;

    fn get(&self, _key: &str) -> Self::GetFuture {
        ready(if self.reads_fail {
            Err(KvError::backend("read timed out"))
        } else {
            Ok(None)
        })
    }

    fn put(&self, _key: &str, _value: Bytes, _ttl: Duration) -> Self::PutFuture {
        ready(Err(KvError::backend("write refused")))
    }
}

#[cfg(feature = "conformance")]
mod conformance {
    use portcullis_rate_limit::store::{BoxStore, conformance};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kv_store_conforms() {
        conformance::run(|| KvStore::new(MemoryKeyValue::new())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn boxed_kv_store_conforms() {
        conformance::run(|| BoxStore::new(KvStore::new(MemoryKeyValue::new()))).await;
    }

    /// With the smallest cache, keys evict each other: the store's value carries them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kv_store_with_the_smallest_cache_conforms() {
        conformance::run(|| KvStore::new(MemoryKeyValue::new()).cache_capacity(0)).await;
    }

    /// An instance alone is exact from its cache, however late the store shows writes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kv_store_conforms_when_the_kv_never_shows_a_write() {
        conformance::run(|| KvStore::new(BlackHole::default())).await;
    }

    /// Writes held back by a write interval are still counted: decisions are the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kv_store_with_a_write_interval_conforms() {
        conformance::run(|| {
            KvStore::new(MemoryKeyValue::new()).write_interval(Duration::from_secs(3600))
        })
        .await;
    }
}

/// How a simulated fleet's store shows writes.
#[derive(Clone, Copy, Debug)]
struct Lag {
    /// How long until a write is visible elsewhere.
    lag: Duration,
    /// Whether the writer's location sees its writes at once.
    read_your_writes: bool,
}

/// Both kinds of edge store, with a 10 s lag.
const LAGS: [Lag; 2] = [
    Lag {
        lag: Duration::from_secs(10),
        read_your_writes: true,
    },
    Lag {
        lag: Duration::from_secs(10),
        read_your_writes: false,
    },
];

/// `instances` stores sharing one lagging store, each at its own location. Every
/// second for `seconds` seconds (a `ManualClock` drives the store and the checks
/// alike), each instance runs `tasks` concurrent tasks of `checks` checks on one
/// identity. Returns how many were admitted.
async fn fleet(
    instances: usize,
    plan: &Arc<Plan>,
    lag: Lag,
    seconds: u32,
    tasks: usize,
    checks: usize,
) -> u64 {
    let clock = ManualClock::at_unix(EPOCH);
    let kv = MemoryKeyValue::new()
        .clock(clock.clone())
        .visibility_lag(lag.lag)
        .read_your_writes(lag.read_your_writes);
    let stores: Vec<_> = (0..instances)
        .map(|_| KvStore::new(kv.location()))
        .collect();
    let mut admitted = 0;
    for _ in 0..seconds {
        let now = clock.unix_nanos();
        let running: Vec<_> = stores
            .iter()
            .flat_map(|store| (0..tasks).map(move |_| store.clone()))
            .map(|store| {
                let plan = plan.clone();
                tokio::spawn(async move {
                    let mut admitted = 0u64;
                    for _ in 0..checks {
                        let outcome = store.check(key(), &plan, 1, now).await.unwrap();
                        admitted += u64::from(outcome.allowed());
                    }
                    admitted
                })
            })
            .collect();
        for task in running {
            admitted += task.await.unwrap();
        }
        clock.advance(SECOND);
    }
    admitted
}

/// What one exact store admits of one instance's requests in [`fleet`].
fn exact(plan: &Plan, seconds: u32, requests_per_second: usize) -> u64 {
    let mut states = vec![QuotaState::default(); plan.quotas().len()];
    let mut admitted = 0;
    for second in 0..seconds {
        let now = nanos(EPOCH + second * SECOND);
        for _ in 0..requests_per_second {
            admitted += u64::from(plan.check(&mut states, now, 1).allowed());
        }
    }
    admitted
}

/// The documented bound for every algorithm: one instance is exact; `N` instances
/// admit at most `N` times what one exact store admits, and more than it with lag.
/// Returns what the fleets admitted with each of [`LAGS`].
async fn assert_fleet_bound(quota: Quota, seconds: u32) -> Vec<u64> {
    const INSTANCES: usize = 4;
    const TASKS: usize = 8;
    const CHECKS: usize = 2;
    let plan = plan(quota);
    let algorithm = plan.quotas()[0].algorithm().name();
    let one_store = exact(&plan, seconds, TASKS * CHECKS);
    let mut admitted = Vec::new();
    for lag in LAGS {
        let alone = fleet(1, &plan, lag, seconds, TASKS, CHECKS).await;
        assert_eq!(
            alone, one_store,
            "{algorithm}, {lag:?}: one instance is exact"
        );
        let together = fleet(INSTANCES, &plan, lag, seconds, TASKS, CHECKS).await;
        assert!(
            together <= INSTANCES as u64 * one_store,
            "{algorithm}, {lag:?}: {together} admitted, above {INSTANCES} × {one_store}"
        );
        assert!(
            together > one_store,
            "{algorithm}, {lag:?}: {together} admitted, no overshoot: a vacuous bound"
        );
        admitted.push(together);
    }
    admitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_admits_at_most_n_times_the_limit_of_a_fixed_window() {
    // 600 per minute; each instance sees 16 requests a second for a whole minute, so
    // it reaches the limit well after the lag.
    let quota = Quota::per_minute("minute", 600).with_algorithm(Algorithm::fixed_window());
    // Steady, even concurrent traffic reaches the bound: an instance reads its own
    // latest value, or another's from the lag ago, never above its own count.
    assert_eq!(assert_fleet_bound(quota, 60).await, [2_400, 2_400]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_admits_at_most_n_times_an_exact_gcra() {
    // 30 per minute, bursts of 30, over two minutes.
    assert_fleet_bound(Quota::per_minute("minute", 30), 120).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_admits_at_most_n_times_an_exact_sliding_window() {
    // 50 per 20 s, over a minute: three windows.
    let quota = Quota::new("twenty", 50, 20 * SECOND).with_algorithm(Algorithm::sliding_window());
    assert_fleet_bound(quota, 60).await;
}

/// A serves one request a second from 0 s to 59 s, then B floods at `b_starts`: how
/// many the two admit of a limit of 100 per hour, with a 10 s lag.
async fn handover(b_starts: Duration) -> (u64, u64) {
    let clock = ManualClock::at_unix(EPOCH);
    let kv = MemoryKeyValue::new()
        .clock(clock.clone())
        .visibility_lag(10 * SECOND);
    let (a, b) = (KvStore::new(kv.location()), KvStore::new(kv.location()));
    let plan = plan(Quota::per_hour("hour", 100).with_algorithm(Algorithm::fixed_window()));
    let mut by_a = 0;
    for _ in 0..60 {
        let outcome = a.check(key(), &plan, 1, clock.unix_nanos()).await.unwrap();
        by_a += u64::from(outcome.allowed());
        clock.advance(SECOND);
    }
    clock.set(std::time::UNIX_EPOCH + EPOCH + b_starts);
    let mut by_b = 0;
    for _ in 0..200 {
        let outcome = b.check(key(), &plan, 1, clock.unix_nanos()).await.unwrap();
        by_b += u64::from(outcome.allowed());
    }
    (by_a, by_b)
}

#[tokio::test]
async fn a_handover_overshoots_by_at_most_what_the_lag_hid() {
    // B starts at 60 s and sees A's writes up to 50 s: A's nine admissions at 51 s to
    // 59 s are hidden from it.
    let (by_a, by_b) = handover(60 * SECOND).await;
    assert_eq!(by_a, 60);
    let hidden = 9;
    assert!(by_a + by_b <= 100 + hidden, "{by_a} + {by_b}");
    assert!(by_a + by_b > 100, "no overshoot: {by_a} + {by_b}");
    // Once A's last write is visible, the handover is exact.
    let (by_a, by_b) = handover(69 * SECOND).await;
    assert_eq!(by_a + by_b, 100);
}

#[tokio::test]
async fn sequential_handovers_after_the_lag_are_exact() {
    // Three instances take turns every 10 s, each seeing the last turn's write (the lag
    // is 5 s) and holding an older state of its own in its cache: every answer is the
    // exact store's, for every algorithm.
    let quotas = [
        Quota::per_minute("minute", 10),
        Quota::per_minute("minute", 10).with_algorithm(Algorithm::fixed_window()),
        Quota::per_minute("minute", 10).with_algorithm(Algorithm::sliding_window()),
    ];
    for quota in quotas {
        let clock = ManualClock::at_unix(EPOCH);
        let kv = MemoryKeyValue::new()
            .clock(clock.clone())
            .visibility_lag(5 * SECOND);
        let instances: Vec<_> = (0..3).map(|_| KvStore::new(kv.location())).collect();
        let plan = plan(quota);
        let mut model = vec![QuotaState::default(); 1];
        for turn in 0..30 {
            let store = &instances[turn % instances.len()];
            let now = clock.unix_nanos();
            for request in 0..4 {
                let expected = plan.check(&mut model, now, 1);
                let actual = store.check(key(), &plan, 1, now).await.unwrap();
                let algorithm = plan.quotas()[0].algorithm().name();
                assert_eq!(
                    actual, expected,
                    "{algorithm}: turn {turn}, request {request}"
                );
            }
            clock.advance(10 * SECOND);
        }
    }
}

#[tokio::test]
async fn every_key_gets_a_ttl_no_longer_than_needed_and_expired_keys_are_gone() {
    let clock = ManualClock::at_unix(EPOCH);
    let kv = MemoryKeyValue::new().clock(clock.clone());
    let store = KvStore::new(kv.clone());
    let plans = [
        // GCRA: until the bucket is empty again, 6 s per request.
        plan(Quota::per_minute("minute", 10)),
        // A fixed window ending 0.5 s from now: the 1 s minimum.
        plan(Quota::per_minute("minute", 10).with_algorithm(Algorithm::fixed_window())),
        // A sliding window: until the end of the next window.
        plan(Quota::per_minute("minute", 10).with_algorithm(Algorithm::sliding_window())),
        // Free: 10 per minute and 100 per UTC day: until midnight.
        Arc::new(Plan::free()),
    ];
    let now = EPOCH + 59 * SECOND + SECOND / 2;
    clock.set(std::time::UNIX_EPOCH + now);
    let expected = [
        Duration::from_secs(6),
        Duration::from_secs(1),
        Duration::from_secs(61),
        Duration::from_secs(86_400 - 59),
    ];
    for (plan, expected) in plans.iter().zip(expected) {
        store.check(key(), plan, 1, nanos(now)).await.unwrap();
        let mut states = vec![QuotaState::default(); plan.quotas().len()];
        plan.check(&mut states, nanos(now), 1);
        let needed = Duration::from_nanos(plan.expires_at(&states) - nanos(now));
        let ttl = kv.time_to_live(&store.storage_key(key(), plan)).unwrap();
        assert_eq!(ttl, expected, "{}", plan.quotas()[0].algorithm().name());
        assert!(ttl >= needed, "{ttl:?} shorter than the {needed:?} needed");
        assert!(
            ttl < needed + SECOND || ttl == SECOND,
            "{ttl:?} for {needed:?}"
        );
    }
    assert_eq!(kv.len(), plans.len());

    // A second request pushes the GCRA key's expiry on; a denial writes nothing.
    store.check(key(), &plans[0], 1, nanos(now)).await.unwrap();
    let gcra_key = store.storage_key(key(), &plans[0]);
    assert_eq!(kv.time_to_live(&gcra_key), Some(12 * SECOND));
    assert!(
        !store
            .check(key(), &plans[0], 9, nanos(now))
            .await
            .unwrap()
            .allowed()
    );
    assert_eq!(kv.time_to_live(&gcra_key), Some(12 * SECOND));

    // Past every time-to-live, nothing is left, and the key starts afresh.
    clock.set(std::time::UNIX_EPOCH + EPOCH + 86_401 * SECOND);
    assert!(kv.is_empty());
    assert!(kv.keys().is_empty());
    for plan in &plans {
        assert_eq!(kv.time_to_live(&store.storage_key(key(), plan)), None);
        assert_eq!(kv.get(&store.storage_key(key(), plan)).await.unwrap(), None);
    }
    kv.purge_expired();
    assert_eq!(kv.stored_versions(), 0);
    let later = nanos(EPOCH + 86_401 * SECOND);
    let fresh = store.check(key(), &plans[3], 1, later).await.unwrap();
    assert_eq!(fresh.statuses()[0].remaining(), 9);
    assert_eq!(fresh.statuses()[1].remaining(), 99);
}

#[tokio::test]
async fn the_minimum_ttl_meets_an_edge_store_that_requires_one() {
    let kv = MemoryKeyValue::new()
        .clock(ManualClock::at_unix(EPOCH))
        .min_ttl(60 * SECOND);
    let plan = plan(Quota::per_minute("minute", 10));
    let now = nanos(EPOCH);
    let refused = KvStore::new(kv.clone()).check(key(), &plan, 1, now).await;
    let Err(StoreError::Backend { source }) = refused else {
        panic!("a refused write is not a backend error: {refused:?}");
    };
    assert!(matches!(
        source.downcast_ref::<KvError>(),
        Some(KvError::TtlTooShort { .. })
    ));
    let store = KvStore::new(kv.clone()).min_ttl(60 * SECOND);
    assert!(store.check(key(), &plan, 1, now).await.unwrap().allowed());
    assert_eq!(
        kv.time_to_live(&store.storage_key(key(), &plan)),
        Some(60 * SECOND)
    );
}

#[tokio::test]
async fn refunds_stick_while_the_store_still_shows_the_value_before_them() {
    // Every reader, the writer too, sees a write only after the lag.
    let clock = ManualClock::at_unix(EPOCH);
    let kv = MemoryKeyValue::new()
        .clock(clock.clone())
        .visibility_lag(10 * SECOND)
        .read_your_writes(false);
    let store = KvStore::new(kv.clone());
    let plan = plan(Quota::per_hour("hour", 10).with_algorithm(Algorithm::fixed_window()));
    let at = |seconds: u64| nanos(EPOCH + Duration::from_secs(seconds));
    for _ in 0..10 {
        assert!(store.check(key(), &plan, 1, at(0)).await.unwrap().allowed());
    }
    clock.advance(10 * SECOND);
    store.refund(key(), &plan, 3, at(0)).await.unwrap();
    clock.advance(SECOND);
    // The store shows the value of 0 s (10 used); the refund's is still on its way.
    let storage_key = store.storage_key(key(), &plan);
    let shown = kv.get(&storage_key).await.unwrap().unwrap();
    assert_eq!(shown[18..26], 10u64.to_le_bytes()); // the count
    for _ in 0..3 {
        assert!(
            store
                .check(key(), &plan, 1, at(11))
                .await
                .unwrap()
                .allowed()
        );
    }
    assert!(
        !store
            .check(key(), &plan, 1, at(11))
            .await
            .unwrap()
            .allowed()
    );
}

#[tokio::test]
async fn a_refund_reaches_other_instances() {
    let clock = ManualClock::at_unix(EPOCH);
    let kv = MemoryKeyValue::new()
        .clock(clock.clone())
        .visibility_lag(10 * SECOND);
    let (a, b) = (KvStore::new(kv.location()), KvStore::new(kv.location()));
    let plan = plan(Quota::per_hour("hour", 10).with_algorithm(Algorithm::fixed_window()));
    let at = |seconds: u64| nanos(EPOCH + Duration::from_secs(seconds));
    for _ in 0..10 {
        assert!(a.check(key(), &plan, 1, at(0)).await.unwrap().allowed());
    }
    a.refund(key(), &plan, 4, at(0)).await.unwrap();
    clock.advance(10 * SECOND);
    let mut by_b = 0;
    for _ in 0..10 {
        by_b += u64::from(b.check(key(), &plan, 1, at(10)).await.unwrap().allowed());
    }
    assert_eq!(by_b, 4);
}

#[tokio::test]
async fn malformed_values_are_store_errors_not_panics() {
    let kv = MemoryKeyValue::new();
    let store = KvStore::new(kv.clone());
    let plan = Arc::new(Plan::free());
    let storage_key = store.storage_key(key(), &plan);
    let one_quota = {
        let other = KvStore::new(kv.clone());
        let single = self::plan(Quota::per_minute("minute", 10));
        other.check(key(), &single, 1, nanos(EPOCH)).await.unwrap();
        kv.get(&other.storage_key(key(), &single))
            .await
            .unwrap()
            .unwrap()
    };
    let values = [
        Bytes::new(),
        Bytes::from_static(b"{\"minute\":3}"),
        Bytes::from_static(&[1, 0, 0]),
        Bytes::from(vec![0xff; 58]),
        one_quota,
    ];
    for value in values {
        kv.put(&storage_key, value.clone(), 60 * SECOND)
            .await
            .unwrap();
        let checked = store.check(key(), &plan, 1, nanos(EPOCH)).await;
        assert!(
            matches!(checked, Err(StoreError::Malformed { .. })),
            "{value:?}: {checked:?}"
        );
        let refunded = store.refund(key(), &plan, 1, nanos(EPOCH)).await;
        assert!(
            matches!(refunded, Err(StoreError::Malformed { .. })),
            "{value:?}: {refunded:?}"
        );
        // Nothing was written over it.
        assert_eq!(kv.get(&storage_key).await.unwrap(), Some(value));
    }
}

#[tokio::test]
async fn kv_failures_are_backend_errors() {
    let plan = Arc::new(Plan::free());
    let now = nanos(EPOCH);
    for (reads_fail, message) in [(true, "read timed out"), (false, "write refused")] {
        let store = KvStore::new(Down { reads_fail });
        let checked = store.check(key(), &plan, 1, now).await;
        let Err(error @ StoreError::Backend { .. }) = checked else {
            panic!("not a backend error: {checked:?}");
        };
        assert_eq!(
            error.to_string(),
            format!("rate-limit store failed: key-value store failed: {message}")
        );
        let refunded = store.refund(key(), &plan, 1, now).await;
        if reads_fail {
            assert!(matches!(refunded, Err(StoreError::Backend { .. })));
        }
    }
    // A refund of nothing writes nothing, so a store refusing writes does not fail it.
    let refunded = KvStore::new(Down { reads_fail: false })
        .refund(key(), &plan, 1, now)
        .await;
    assert!(refunded.is_ok(), "{refunded:?}");
}

#[tokio::test]
async fn denials_write_nothing() {
    let kv = BlackHole::default();
    let store = KvStore::new(kv.clone());
    let plan = plan(Quota::per_minute("minute", 3));
    for _ in 0..10 {
        store.check(key(), &plan, 1, nanos(EPOCH)).await.unwrap();
    }
    assert_eq!(kv.writes.load(Ordering::Relaxed), 3);
}

/// A store whose writes fail while `failing` is set; it counts the writes it took.
#[derive(Clone, Debug, Default)]
struct Unsteady {
    kv: MemoryKeyValue,
    failing: Arc<std::sync::atomic::AtomicBool>,
    writes: Arc<AtomicU64>,
}

impl KeyValue for Unsteady {
    type GetFuture = <MemoryKeyValue as KeyValue>::GetFuture;
    type PutFuture = Ready<Result<(), KvError>>;

    fn get(&self, key: &str) -> Self::GetFuture {
        self.kv.get(key)
    }

    fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Self::PutFuture {
        if self.failing.load(Ordering::Relaxed) {
            return ready(Err(KvError::backend("write refused")));
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        // The in-memory store answers at once.
        let _ = futures_now(self.kv.put(key, value, ttl));
        ready(Ok(()))
    }
}

/// The output of a future that is ready at once.
fn futures_now<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the in-memory store answers at once"),
    }
}

#[tokio::test]
async fn a_write_interval_writes_each_key_at_most_once_per_interval() {
    let kv = Unsteady::default();
    let store = KvStore::new(kv.clone()).write_interval(SECOND);
    let plan = plan(Quota::per_minute("minute", 10_000).with_algorithm(Algorithm::fixed_window()));
    let start = nanos(EPOCH);
    let millis = 1_000_000;
    // 200 admissions 5 ms apart, all within the first second: one write.
    for i in 0..200 {
        let outcome = store
            .check(key(), &plan, 1, start + i * 5 * millis)
            .await
            .unwrap();
        assert!(outcome.allowed());
    }
    assert_eq!(kv.writes.load(Ordering::Relaxed), 1);
    // The first admission a second after the last write writes, with everything held
    // back: the store then shows all 201.
    store
        .check(key(), &plan, 1, start + 1_000 * millis)
        .await
        .unwrap();
    assert_eq!(kv.writes.load(Ordering::Relaxed), 2);
    let other = KvStore::new(kv.clone());
    let outcome = other
        .check(key(), &plan, 1, start + 1_000 * millis)
        .await
        .unwrap();
    assert_eq!(outcome.statuses()[0].remaining(), 10_000 - 202);
    // Another key has its own interval.
    store
        .check(Fingerprint::from_u64(1), &plan, 1, start + 1_001 * millis)
        .await
        .unwrap();
    assert_eq!(kv.writes.load(Ordering::Relaxed), 4);
    // Nothing is held back now.
    assert_eq!(store.flush().await.unwrap(), 0);
}

/// Instance A admits 50 of an hourly 100 with writes held back, then B takes over;
/// returns how many B admits.
async fn handover_after_held_back_writes(flush: bool) -> u64 {
    let clock = ManualClock::at_unix(EPOCH);
    let kv = MemoryKeyValue::new().clock(clock.clone());
    let a = KvStore::new(kv.location()).write_interval(Duration::from_secs(60));
    let b = KvStore::new(kv.location());
    let plan = plan(Quota::per_hour("hour", 100).with_algorithm(Algorithm::fixed_window()));
    for _ in 0..50 {
        assert!(
            a.check(key(), &plan, 1, clock.unix_nanos())
                .await
                .unwrap()
                .allowed()
        );
    }
    if flush {
        assert_eq!(a.flush().await.unwrap(), 1);
        assert_eq!(a.flush().await.unwrap(), 0);
    }
    let mut by_b = 0;
    for _ in 0..200 {
        by_b += u64::from(
            b.check(key(), &plan, 1, clock.unix_nanos())
                .await
                .unwrap()
                .allowed(),
        );
    }
    by_b
}

#[tokio::test]
async fn a_flush_shows_held_back_consumption_to_other_instances() {
    // Unflushed, B sees only A's first admission: 149 in all, within the bound of two
    // instances (200). Flushed, the handover is exact.
    assert_eq!(handover_after_held_back_writes(false).await, 99);
    assert_eq!(handover_after_held_back_writes(true).await, 50);
}

#[tokio::test]
async fn a_failed_flush_keeps_the_key_held_back() {
    let kv = Unsteady::default();
    let store = KvStore::new(kv.clone()).write_interval(Duration::from_secs(60));
    let plan = plan(Quota::per_minute("minute", 100));
    for _ in 0..3 {
        store.check(key(), &plan, 1, nanos(EPOCH)).await.unwrap();
    }
    kv.failing.store(true, Ordering::Relaxed);
    assert!(matches!(
        store.flush().await,
        Err(StoreError::Backend { .. })
    ));
    kv.failing.store(false, Ordering::Relaxed);
    // A flush can run as a task of its own (its future is `Send`).
    let flushing = store.clone();
    let flushed = tokio::spawn(async move { flushing.flush().await })
        .await
        .unwrap();
    assert_eq!(flushed.unwrap(), 1);
    let other = KvStore::new(kv.clone());
    let outcome = other.check(key(), &plan, 1, nanos(EPOCH)).await.unwrap();
    assert_eq!(outcome.statuses()[0].remaining(), 100 - 4);
}

#[cfg(feature = "memory")]
mod layer {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::{Request, StatusCode};
    use portcullis_rate_limit::key::Key;
    use portcullis_rate_limit::rate_limit::{FailurePolicy, RateLimitLayer};
    use tower::ServiceExt;

    use super::*;

    fn app<T: KeyValue>(clock: &ManualClock, store: KvStore<T>) -> Router {
        let layer = RateLimitLayer::new()
            .key(Key::global())
            .plan(plan(Quota::per_minute("minute", 2)))
            .clock(clock.clone())
            .refund_server_errors()
            .store(store);
        Router::new()
            .route("/", get(|| async { "ok" }))
            .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .layer(layer)
    }

    async fn status(app: &Router, path: &str) -> StatusCode {
        let request = Request::get(path).body(Body::empty()).unwrap();
        app.clone().oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn the_layer_limits_and_refunds_through_a_kv_store() {
        let clock = ManualClock::at_unix(EPOCH);
        let kv = MemoryKeyValue::new().clock(clock.clone());
        let app = app(&clock, KvStore::new(kv.clone()));
        // A 5xx is refunded: it does not count.
        assert_eq!(
            status(&app, "/fail").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(status(&app, "/").await, StatusCode::OK);
        assert_eq!(status(&app, "/").await, StatusCode::OK);
        assert_eq!(status(&app, "/").await, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(kv.len(), 1);
        clock.advance(30 * SECOND);
        assert_eq!(status(&app, "/").await, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_failing_kv_gets_the_layers_store_failure_policy() {
        let clock = ManualClock::at_unix(EPOCH);
        let down = || KvStore::new(Down { reads_fail: true });
        let open = app(&clock, down());
        assert_eq!(status(&open, "/").await, StatusCode::OK);
        let layer = RateLimitLayer::new()
            .key(Key::global())
            .clock(clock.clone())
            .on_store_error(FailurePolicy::FailClosed)
            .store(down());
        let closed = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(layer);
        assert_eq!(status(&closed, "/").await, StatusCode::SERVICE_UNAVAILABLE);
    }
}
