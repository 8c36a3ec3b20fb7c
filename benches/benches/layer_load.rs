//! Requests per second through the rate-limit layer on a multi-threaded Tokio runtime,
//! against `tower_governor`'s layer and the bare route, in the same run.
//!
//! ```text
//! cargo bench -p portcullis-benches --bench layer_load
//! ```
//!
//! The criterion bench (`rate_limit`) measures one request at a time on one thread;
//! this run measures what a server sees: several tasks on every worker thread, so the
//! layers' shared state (store shards, reference counts, counters) is touched from
//! several cores at once. Each app serves the same axum route to the same 1,024 client
//! addresses, with limits high enough that every request passes; apps take turns, each
//! turn the best of a few rounds, so a neighbour's burst on this shared machine hits
//! them alike. Workers: 1, then every core (`std::thread::available_parallelism`).
//!
//! The ratios are what to quote; absolute numbers depend on the machine.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http::{Request, StatusCode};
use portcullis_rate_limit::key::Key;
use portcullis_rate_limit::layer::RateLimitLayer;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use tower::ServiceExt;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;

const ADDRESSES: usize = 1_024;
const TASKS_PER_WORKER: usize = 2;
const REQUESTS: usize = 200_000;
const ROUNDS: usize = 3;
const TURNS: usize = 3;

fn request(address: usize) -> Request<Body> {
    let ip = IpAddr::V4(Ipv4Addr::new(10, 1, (address >> 8) as u8, address as u8));
    let mut request = Request::get("/")
        .body(Body::empty())
        .expect("valid request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
    request
}

fn apps() -> [(&'static str, Router); 3] {
    let route = || Router::new().route("/", get(|| async { "ok" }));
    let plan = Plan::new("bench", [Quota::per_minute("minute", 1_000_000_000)]).expect("plan");
    let governor = Arc::new(
        GovernorConfigBuilder::default()
            .per_nanosecond(1)
            .burst_size(1_000_000_000)
            .use_headers()
            .finish()
            .expect("governor config"),
    );
    [
        ("axum_bare", route()),
        (
            "tower_governor",
            route().layer(GovernorLayer::new(governor)),
        ),
        (
            "portcullis_one_quota",
            route().layer(RateLimitLayer::new().key(Key::client_ip()).plan(plan)),
        ),
    ]
}

/// Requests per second of `tasks` tasks sending `REQUESTS` requests in all.
fn requests_per_second(runtime: &tokio::runtime::Runtime, app: &Router, tasks: usize) -> f64 {
    let start = Instant::now();
    runtime.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|task| {
                let app = app.clone();
                tokio::spawn(async move {
                    for i in 0..REQUESTS / tasks {
                        let address = (i * 7 + task * 131) % ADDRESSES;
                        let response = app.clone().oneshot(request(address)).await;
                        let status = response.map(|response| response.status());
                        assert_eq!(status, Ok(StatusCode::OK));
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("task finished");
        }
    });
    REQUESTS as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let mut worker_counts = vec![1];
    if cores > 1 {
        worker_counts.push(cores);
    }
    println!(
        "layer_load: axum route, {ADDRESSES} client addresses, {TASKS_PER_WORKER} tasks per worker"
    );
    for workers in worker_counts {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .build()
            .expect("runtime");
        let apps = apps();
        let mut best = [0.0_f64; 3];
        for _ in 0..TURNS {
            for (index, (_, app)) in apps.iter().enumerate() {
                for _ in 0..ROUNDS {
                    let rate = requests_per_second(&runtime, app, workers * TASKS_PER_WORKER);
                    best[index] = best[index].max(rate);
                }
            }
        }
        println!("  {workers} worker(s):");
        for ((name, _), rate) in apps.iter().zip(best) {
            println!("    {name:22} {rate:>10.0} requests/s");
        }
        let (governor, ours) = (best[1], best[2]);
        println!(
            "    time per request, portcullis / tower_governor: {:.2}",
            governor / ours
        );
    }
}
