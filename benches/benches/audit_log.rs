//! `portcullis-audit-log` against `tower-http`'s `TraceLayer` with a JSON `tracing`
//! subscriber, all writing JSON lines to files in a temporary directory.
//!
//! - `request/*`: one request through the layer on a trivial service, per iteration:
//!   the bare service; the [`AuditLayer::production`] preset (`Metadata`, fail-open,
//!   file sink; encoding and I/O on its writer thread) without the hash chain
//!   (`portcullis_audit_file`, the preset before it chained) and as it ships, with the
//!   SHA-256 chain and Ed25519-signed checkpoints every 1,000 records
//!   (`portcullis_audit_chain_file`); and `TraceLayer::new_for_http()`, whose span
//!   and two events a JSON `tracing-subscriber` writes to a file on the request path.
//!   The overhead is the difference to `bare` (the target: under 2 µs). The audit
//!   layer's records of each sample are written before the next sample starts
//!   (untimed), so the queue never holds more than a sample's, while the writer runs
//!   on the other core during the sample; `portcullis_audit_no_sink` is the request
//!   path alone (records built, no queue), to tell it from the cost of the writer
//!   thread. The chain's own cost (SHA-256 of each line, a signature per checkpoint)
//!   is on the writer thread, never on the request path: `throughput/*` shows it.
//! - `throughput/*`: 1,000 requests and then everything on disk, per iteration, in
//!   records per second: the same two presets, each followed by a flush; and
//!   `TraceLayer` with the JSON subscriber (two events per request).
//!
//! Both presets get a queue large enough that no record is dropped: a dropped record
//! costs less than a written one, so a run that dropped fails.

use std::convert::Infallible;
use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{Request, Response};
use portcullis_audit_log::chain::CheckpointSigner;
use portcullis_audit_log::layer::AuditLayer;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_http::trace::TraceLayer;

const BATCH: u64 = 1_000;

fn request() -> Request<String> {
    Request::get("/v1/invoices/42?page=2")
        .header("user-agent", "bench/1.0")
        .header("x-request-id", "bench-request-0001")
        .body(String::new())
        .unwrap()
}

async fn ok<B>(_: Request<B>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::new()))
}

/// The production preset with a queue of `queue` records: with its hash chain and
/// signed checkpoints every 1,000 records, or without the chain.
fn preset(path: &Path, chained: bool, queue: usize) -> AuditLayer {
    let layer = AuditLayer::production(path).unwrap().queue_capacity(queue);
    if chained {
        layer
            .signing_key(CheckpointSigner::generate())
            .checkpoint_every(1_000, Duration::from_secs(60))
    } else {
        layer.hash_chain(false)
    }
}

fn json_subscriber(file: File) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(Mutex::new(file))
        .finish()
}

fn per_request(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("audit_log/request");

    let bare = ServiceBuilder::new().service(service_fn(ok::<String>));
    group.bench_function("bare", |b| {
        b.to_async(&runtime).iter(|| bare.oneshot(request()))
    });

    // The request path alone: records built, no sink to queue them for.
    let unsunk = ServiceBuilder::new()
        .layer(AuditLayer::new())
        .service(service_fn(ok));
    group.bench_function("portcullis_audit_no_sink", |b| {
        b.to_async(&runtime)
            .iter(|| unsunk.clone().oneshot(request()))
    });

    for (name, chained) in [
        ("portcullis_audit_file", false),
        ("portcullis_audit_chain_file", true),
    ] {
        // A directory of its own, removed once measured: the next bench does not
        // run while the kernel writes this one's gigabyte back.
        let own = tempfile::tempdir_in(dir.path()).unwrap();
        let layer = preset(&own.path().join("audit.log"), chained, 1 << 20);
        let handle = layer.handle();
        let audited = ServiceBuilder::new().layer(layer).service(service_fn(ok));
        // Each sample's records are written before the next sample starts (untimed),
        // so the queue holds at most one sample's: the writer runs on the other core
        // during the sample, as it would in a server.
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let audited = audited.clone();
                let handle = handle.clone();
                async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        audited.clone().oneshot(request()).await.unwrap();
                    }
                    let elapsed = start.elapsed();
                    handle.flush().await.unwrap();
                    elapsed
                }
            })
        });
        runtime.block_on(handle.shutdown()).unwrap();
        let metrics = handle.metrics();
        eprintln!(
            "{name}: {} records written, {} dropped on a full queue, {} checkpoints",
            metrics.written(),
            metrics.overflowed(),
            metrics.sinks[0].checkpoints
        );
        // A dropped record costs less than a written one: a run that dropped measured
        // something else.
        assert_eq!(
            metrics.overflowed(),
            0,
            "the latency run must write every record; rerun on a quieter machine"
        );
    }

    let trace_file = File::create(dir.path().join("trace.log")).unwrap();
    let dispatch = tracing::Dispatch::new(json_subscriber(trace_file));
    let traced = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .service(service_fn(ok::<String>));
    tracing::dispatcher::with_default(&dispatch, || {
        group.bench_function("tower_http_trace_json_file", |b| {
            b.to_async(&runtime)
                .iter(|| traced.clone().oneshot(request()))
        });
    });
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("audit_log/throughput");
    group.throughput(Throughput::Elements(2 * BATCH));

    for (name, chained) in [
        ("portcullis_audit_file", false),
        ("portcullis_audit_chain_file", true),
    ] {
        let own = tempfile::tempdir_in(dir.path()).unwrap();
        let layer = preset(&own.path().join("audit.log"), chained, 4 * BATCH as usize);
        let handle = layer.handle();
        let audited = ServiceBuilder::new().layer(layer).service(service_fn(ok));
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let audited = audited.clone();
                let handle = handle.clone();
                async move {
                    for _ in 0..BATCH {
                        audited.clone().oneshot(request()).await.unwrap();
                    }
                    handle.flush().await.unwrap();
                }
            })
        });
        runtime.block_on(handle.shutdown()).unwrap();
        let metrics = handle.metrics();
        eprintln!(
            "{name}: {} records written, {} dropped, {} checkpoints",
            metrics.written(),
            metrics.overflowed(),
            metrics.sinks[0].checkpoints
        );
        assert_eq!(
            metrics.overflowed(),
            0,
            "the throughput run must write every record"
        );
    }

    let trace_file = File::create(dir.path().join("trace.log")).unwrap();
    let dispatch = tracing::Dispatch::new(json_subscriber(trace_file));
    let traced = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .service(service_fn(ok::<String>));
    tracing::dispatcher::with_default(&dispatch, || {
        group.bench_function("tower_http_trace_json_file", |b| {
            b.to_async(&runtime).iter(|| {
                let traced = traced.clone();
                async move {
                    for _ in 0..BATCH {
                        traced.clone().oneshot(request()).await.unwrap();
                    }
                }
            })
        });
    });
    group.finish();
}

criterion_group!(benches, per_request, throughput);
criterion_main!(benches);
