//! Redis-backed checks per second with 64 concurrent tasks, against `redis-benchmark`
//! on the same server in the same run.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo bench -p portcullis-benches --bench redis_load
//! ```
//!
//! Three numbers, each over the same 1,024 identities and a two-quota plan (minute
//! GCRA + day fixed window, limits high enough that every check is admitted, so every
//! check writes both keys):
//! - `portcullis`: `RedisStore::check` from 64 Tokio tasks over one multiplexed
//!   connection;
//! - `redis-benchmark EVALSHA`: the same script with the same arguments from 64
//!   connections, the server's ceiling for this work;
//! - `redis-benchmark SET`: the cheapest write, the server's ceiling for anything.
//!
//! The ratios are what to quote; absolute numbers depend on the machine.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portcullis_rate_limit::algorithm::Algorithm;
use portcullis_rate_limit::key::Fingerprint;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::store::Store;
use portcullis_rate_limit::store::redis::RedisStore;

const TASKS: usize = 64;
const IDENTITIES: u64 = 1_024;
const RUN: Duration = Duration::from_secs(5);
const REQUESTS: u32 = 200_000;

fn plan() -> Arc<Plan> {
    Arc::new(
        Plan::new(
            "bench",
            [
                Quota::per_minute("minute", 100_000_000),
                Quota::per_day("day", 1_000_000_000).with_algorithm(Algorithm::fixed_window()),
            ],
        )
        .expect("valid plan"),
    )
}

async fn portcullis_checks_per_second(url: &str) -> f64 {
    let store = Arc::new(
        RedisStore::connect(url)
            .await
            .expect("REDIS_URL reachable")
            .prefix("portcullis-bench"),
    );
    let plan = plan();
    let done = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..TASKS as u64)
        .map(|task| {
            let (store, plan) = (store.clone(), plan.clone());
            let (done, checks) = (done.clone(), checks.clone());
            tokio::spawn(async move {
                let mut identity = task;
                while !done.load(Ordering::Relaxed) {
                    identity = (identity + TASKS as u64) % IDENTITIES;
                    let outcome = store
                        .check(Fingerprint::from_u64(identity), &plan, 1, 0)
                        .await
                        .expect("check");
                    assert!(outcome.allowed());
                    checks.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Warm up (script load, connection), then measure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = checks.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(RUN).await;
    let counted = checks.load(Ordering::Relaxed) - before;
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("task");
    }
    counted as f64 / elapsed.as_secs_f64()
}

/// Requests per second `redis-benchmark` reports for `command` from 64 connections.
fn redis_benchmark(host: &str, port: u16, command: &[String]) -> f64 {
    let output = Command::new("redis-benchmark")
        .args(["-h", host, "-p", &port.to_string()])
        .args(["-c", &TASKS.to_string(), "-n", &REQUESTS.to_string()])
        .args(["-r", &IDENTITIES.to_string(), "--csv"])
        .args(command)
        .output()
        .expect("redis-benchmark runs (apt-get install redis-tools)");
    assert!(output.status.success(), "redis-benchmark failed");
    let text = String::from_utf8_lossy(&output.stdout);
    // `"test","rps",...` then one row per test: the last row's second column.
    let row = text.lines().last().expect("redis-benchmark printed a row");
    row.split(',')
        .nth(1)
        .and_then(|rps| rps.trim_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("unexpected redis-benchmark output: {text}"))
}

fn script_command() -> Vec<String> {
    let script = redis::Script::new(include_str!("../../rate-limit/src/store/redis/script.lua"));
    let plan = plan();
    let mut command = vec![
        "EVALSHA".to_owned(),
        script.get_hash().to_owned(),
        "2".to_owned(),
        "portcullis-bench-cli:{__rand_int__}:0".to_owned(),
        "portcullis-bench-cli:{__rand_int__}:1".to_owned(),
    ];
    command.extend(["check", "redis", "0", "0", "1"].map(str::to_owned));
    for (name, quota) in [
        ("gcra", &plan.quotas()[0]),
        ("fixed_utc", &plan.quotas()[1]),
    ] {
        let window = quota.window().as_nanos() as u64;
        let interval = window.div_ceil(quota.limit()).max(1);
        command.extend([
            name.to_owned(),
            quota.limit().to_string(),
            window.to_string(),
            interval.to_string(),
            (interval * quota.burst()).to_string(),
        ]);
    }
    command
}

fn main() {
    // `cargo bench` passes filter arguments; this load run has no parts to filter.
    let Ok(url) = std::env::var("REDIS_URL") else {
        println!("skipped: set REDIS_URL");
        return;
    };
    let info = redis::Client::open(url.as_str())
        .expect("REDIS_URL is a Redis URL")
        .get_connection_info()
        .clone();
    let (host, port) = match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
        other => panic!("redis_load needs a TCP REDIS_URL, not {other:?}"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let portcullis = runtime.block_on(portcullis_checks_per_second(&url));
    // The script is loaded now (by the store), so EVALSHA finds it.
    let evalsha = redis_benchmark(&host, port, &script_command());
    let set = redis_benchmark(&host, port, &["-t".to_owned(), "set".to_owned()]);
    println!("redis_load: {TASKS} concurrent tasks/clients, {IDENTITIES} identities");
    println!("  portcullis RedisStore::check   {portcullis:>10.0} checks/s");
    println!("  redis-benchmark EVALSHA (same) {evalsha:>10.0} requests/s");
    println!("  redis-benchmark SET            {set:>10.0} requests/s");
    println!(
        "  ratio portcullis / EVALSHA {:.2}, portcullis / SET {:.2}",
        portcullis / evalsha,
        portcullis / set
    );
}
