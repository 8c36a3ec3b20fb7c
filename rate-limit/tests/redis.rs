//! The Redis store against the real Redis at `REDIS_URL`: the conformance suite, a
//! randomized comparison with the model where the script's exact arithmetic matters,
//! two instances sharing one limit, TTLs, malformed state. Every test is
//! `#[ignore = "needs REDIS_URL"]`: run them with `-- --include-ignored`.
#![cfg(all(feature = "redis", feature = "conformance"))]

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use std::time::Duration;

use portcullis_rate_limit::algorithm::{Algorithm, QuotaState};
use portcullis_rate_limit::key::Fingerprint;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::store::redis::{RedisStore, TimeSource, UnsupportedQuota};
use portcullis_rate_limit::store::{Store, StoreError, conformance};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use support::{
    SHARED_IDENTITY, admitted_by_two, hour_and_day, redis_connection, stored_count, unique_prefix,
};

const SECOND: u64 = 1_000_000_000;
/// 2023-11-15T00:00:00Z plus an odd number of nanoseconds, so no instant is round.
const START: u64 = 1_700_006_400 * SECOND + 123_456_789;

fn store(connection: &ConnectionManager) -> RedisStore {
    RedisStore::with_connection(connection.clone())
        .prefix(unique_prefix())
        .time_source(TimeSource::Caller)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn redis_store_conforms() {
    let connection = redis_connection().await;
    conformance::run(|| store(&connection)).await;
}

/// Plans whose numbers leave the doubles of Lua behind: products of counts and windows
/// far above 2^53, windows that do not divide a second, sub-second windows.
fn awkward_plans() -> Vec<Arc<Plan>> {
    let plan = |quotas: Vec<Quota>| Arc::new(Plan::new("awkward", quotas).unwrap());
    vec![
        plan(vec![
            Quota::per_day("day", 1_000_000).with_algorithm(Algorithm::sliding_window()),
            Quota::new("odd", 7, Duration::from_nanos(1_300_000_007)).with_burst(3),
        ]),
        plan(vec![
            Quota::new("third", 5, Duration::from_nanos(333_333_333))
                .with_algorithm(Algorithm::sliding_window()),
            Quota::new("aligned", 9, Duration::from_millis(2_500))
                .with_algorithm(Algorithm::fixed_window()),
        ]),
        plan(vec![
            Quota::new("first", 4, Duration::from_nanos(2_500_000_001))
                .with_algorithm(Algorithm::fixed_window_from_first_request()),
            Quota::per_day("gcra-day", 3_000_000_000),
            Quota::new("week", 70_000_000, Duration::from_secs(7 * 86_400))
                .with_algorithm(Algorithm::sliding_window()),
        ]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn redis_decides_like_the_model_on_awkward_plans() {
    let connection = redis_connection().await;
    let store = store(&connection);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (index, plan) in awkward_plans().into_iter().enumerate() {
        let mut model: HashMap<u64, Vec<QuotaState>> = HashMap::new();
        let mut now = START;
        let step_range = plan.quotas()[0].window().as_nanos() as u64 / 3;
        for step in 0..1_500 {
            now += next() % step_range;
            if next() % 4 == 0 {
                // On to the next eighth of the first window, where products divide
                // evenly and a rounded quotient would show. Time only moves forward:
                // Redis expires keys in real time, which runs slower than this test's.
                let eighth = plan.quotas()[0].window().as_nanos() as u64 / 8;
                now += eighth - now % eighth;
            }
            let key = next() % 3;
            // Mostly small costs, some large enough for counts times windows far
            // beyond 2^53, now and then one above every limit of small quotas.
            let cost = match next() % 50 {
                0 => 1 + next() % 2_000_000,
                1..10 => 1 + next() % 50_000,
                _ => 1 + next() % 3,
            };
            let states = model
                .entry(key)
                .or_insert_with(|| vec![QuotaState::default(); plan.quotas().len()]);
            if next() % 10 == 0 {
                let consumed_at = now - next() % step_range;
                plan.refund(states, consumed_at, cost);
                store
                    .refund(Fingerprint::from_u64(key), &plan, cost, consumed_at)
                    .await
                    .unwrap();
                continue;
            }
            let expected = plan.check(states, now, cost);
            let actual = store
                .check(Fingerprint::from_u64(key), &plan, cost, now)
                .await
                .unwrap();
            assert_eq!(actual, expected, "plan {index}, step {step}, cost {cost}");
        }
    }
}

/// Two "servers" (separate connections, separate store values) and many tasks each
/// on one identity with a two-quota plan: exactly the day limit is admitted, and the
/// hour quota (with room) counted only the admitted requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn two_instances_admit_exactly_the_limit() {
    let (first, second) = (redis_connection().await, redis_connection().await);
    let prefix = unique_prefix();
    let plan = hour_and_day();
    let instances = [first, second]
        .map(|connection| Arc::new(RedisStore::with_connection(connection).prefix(prefix.clone())));
    assert_eq!(admitted_by_two(instances.clone(), &plan).await, 700);
    let mut connection = redis_connection().await;
    let hour_key = instances[0].quota_key(SHARED_IDENTITY, &plan, 0);
    let hour: String = connection.get(&hour_key).await.unwrap();
    assert_eq!(
        stored_count(&hour),
        700,
        "denied requests consumed the hour quota: {hour}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn redis_time_decides_on_the_server_clock() {
    let connection = redis_connection().await;
    let store = RedisStore::with_connection(connection).prefix(unique_prefix());
    let plan = Arc::new(Plan::new("p", [Quota::per_minute("minute", 3)]).unwrap());
    // The caller's time is absurd on purpose: the server's clock decides.
    for remaining in (0..3).rev() {
        let outcome = store
            .check(Fingerprint::from_u64(1), &plan, 1, 1)
            .await
            .unwrap();
        assert!(outcome.allowed());
        assert_eq!(outcome.statuses()[0].remaining(), remaining);
    }
    let denied = store
        .check(Fingerprint::from_u64(1), &plan, 1, 1)
        .await
        .unwrap();
    assert!(!denied.allowed());
    let wait = denied.statuses()[0].retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
        "{wait:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn every_key_written_has_a_ttl_no_longer_than_its_state_matters() {
    let connection = redis_connection().await;
    let store = store(&connection);
    let plan = Arc::new(
        Plan::new(
            "ttl",
            [
                Quota::per_minute("gcra", 10),
                Quota::per_hour("sliding", 100).with_algorithm(Algorithm::sliding_window()),
                Quota::per_day("fixed", 1_000).with_algorithm(Algorithm::fixed_window()),
            ],
        )
        .unwrap(),
    );
    for key in 0..20 {
        for step in 0..3 {
            store
                .check(Fingerprint::from_u64(key), &plan, 1, START + step * SECOND)
                .await
                .unwrap();
        }
    }
    let mut connection = connection.clone();
    let keys: Vec<String> = connection
        .keys(format!("{}:*", store.key_prefix()))
        .await
        .unwrap();
    assert_eq!(keys.len(), 20 * 3);
    for key in keys {
        let ttl: i64 = connection.pttl(&key).await.unwrap();
        let bound = if key.ends_with(":0") {
            // GCRA: three emission intervals of 6 s ahead of the last request.
            18_000
        } else if key.ends_with(":1") {
            2 * 3_600_000
        } else {
            86_400_000
        };
        assert!(
            ttl > 0 && ttl <= bound,
            "{key}: TTL {ttl} ms, bound {bound} ms"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn malformed_state_is_an_error_not_a_decision() {
    let connection = redis_connection().await;
    let store = store(&connection);
    let plan = Arc::new(Plan::free());
    let key = store.quota_key(Fingerprint::from_u64(1), &plan, 1);
    let mut raw = connection.clone();
    let _: () = raw.set_ex(&key, "not:a:state", 60).await.unwrap();
    let error = store
        .check(Fingerprint::from_u64(1), &plan, 1, START)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Malformed { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn quotas_beyond_exact_arithmetic_are_refused_before_redis() {
    let connection = redis_connection().await;
    let store = store(&connection);
    let plan = Arc::new(
        Plan::new(
            "season",
            [Quota::new("season", 10, Duration::from_secs(90 * 86_400))],
        )
        .unwrap(),
    );
    let error = store
        .check(Fingerprint::from_u64(1), &plan, 1, START)
        .await
        .unwrap_err();
    let StoreError::Backend { source } = &error else {
        panic!("{error}");
    };
    assert_eq!(
        source.downcast_ref::<UnsupportedQuota>().unwrap().quota(),
        "season"
    );
}

/// The script's exact arithmetic against Rust's u128 on inputs built to defeat
/// doubles: products far above 2^53 with large odd factors, quotients on and beside
/// integers, instants of 2^60 ns modulo odd windows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn the_scripts_arithmetic_is_exact_beyond_2_to_the_53() {
    let mut connection = redis_connection().await;
    let source = include_str!("../src/store/redis/script.lua");
    let functions = source
        .split("-- The request")
        .next()
        .expect("the script marks where its request begins");
    let harness = format!(
        "{functions}\n\
         local out = {{}}\n\
         for i = 1, #ARGV, 6 do\n\
           local a, b, c = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])\n\
           local s, n, w = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])\n\
           out[#out + 1] = muldiv(a, b, c)\n\
           out[#out + 1] = ceil_muldiv(a, b, c)\n\
           out[#out + 1] = modulo(s, n, w)\n\
         end\n\
         return out"
    );
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut cases = Vec::new();
    for case in 0..3_000u64 {
        let (a, b, c) = if case % 2 == 0 {
            // a × b on a multiple of c, or one beside it: c = a × t, b = q × t ± 1.
            let a = (3 + next() % (1 << 20)) | 1;
            let t = ((1 << 20) + next() % ((1 << 52) / a - (1 << 20))) | 1;
            let q = 1 + next() % ((1 << 52) / t).max(1);
            let b = (q * t).min((1 << 52) - 2) + next() % 3 - 1;
            (a, b, a * t)
        } else {
            let c = (1 << 30) + next() % ((1 << 52) - (1 << 30));
            let a = 1 + next() % (1 << 32);
            let b = next() % (1 << 52);
            let a = if u128::from(a) * u128::from(b) / u128::from(c) >= 1 << 52 {
                1 + a % 1_000
            } else {
                a
            };
            (a, b, c)
        };
        // Now and then small numbers, which take the script's fast paths.
        let (a, b, c) = if case % 5 == 4 {
            (a % 40_000, b % 40_000_000, c % 1_000_000_000 + 1)
        } else {
            (a, b, c)
        };
        let s = 1_700_000_000 + next() % 2_000_000_000;
        let n = next() % 1_000_000_000;
        // Windows of whole seconds, divisors of a second, and anything else.
        let w = match case % 4 {
            0 => 1_000_000_000 * (1 + next() % 4_000_000),
            1 => 1_000_000_000 / [1, 2, 4, 5, 8, 10, 100, 1_000][(next() % 8) as usize],
            _ => 1_000_000 + next() % ((1 << 52) - 1_000_000),
        };
        cases.push([a, b, c, s, n, w]);
    }
    let mut eval = redis::cmd("EVAL");
    eval.arg(&harness).arg(0);
    for case in &cases {
        eval.arg(&case[..]);
    }
    let results: Vec<u64> = eval.query_async(&mut connection).await.unwrap();
    assert_eq!(results.len(), 3 * cases.len());
    for (case, got) in cases.iter().zip(results.chunks_exact(3)) {
        let [a, b, c, s, n, w] = case.map(u128::from);
        let floor = a * b / c;
        let ceil = (a * b).div_ceil(c);
        let modulo = (s * 1_000_000_000 + n) % w;
        assert_eq!(
            [u128::from(got[0]), u128::from(got[1]), u128::from(got[2])],
            [floor, ceil, modulo],
            "a={a} b={b} c={c} s={s} n={n} w={w}"
        );
    }
}
