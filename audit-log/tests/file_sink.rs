//! The file sink on real files: rotation, reopening, chain continuity.

mod common;

use std::time::Duration;

use common::{audit_files, echo, file_records};
use http::Request;
use portcullis_audit_log::layer::AuditLayer;
use portcullis_audit_log::sink::{FileSink, Rotation};
use portcullis_audit_log::verify::{FindingKind, VerifyOptions, verify_files};
use portcullis_core::clock::ManualClock;
use tower::{ServiceBuilder, ServiceExt};

/// These chains are not signed: their integrity alone is checked.
fn integrity() -> VerifyOptions {
    VerifyOptions::new().integrity_only(true)
}

fn get(uri: &str) -> Request<String> {
    Request::get(uri).body(String::new()).unwrap()
}

type App = tower::util::BoxCloneService<
    Request<String>,
    http::Response<portcullis_audit_log::body::AuditBody<String>>,
    std::convert::Infallible,
>;

fn app(layer: AuditLayer) -> App {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tower::util::BoxCloneService::new(
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(move |request| echo(calls.clone(), request)),
    )
}

#[tokio::test]
async fn rotates_by_size_and_the_chain_spans_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let layer = AuditLayer::new()
        .hash_chain(true)
        .sink(FileSink::open(&path).unwrap().max_bytes(2_000));
    let handle = layer.handle();
    let app = app(layer);
    for n in 0..30 {
        app.clone()
            .oneshot(get(&format!("/v1/items/{n}")))
            .await
            .unwrap();
        handle.flush().await.unwrap();
    }
    handle.shutdown().await.unwrap();
    let files = audit_files(dir.path());
    assert!(files.len() >= 4, "{files:?}");
    for file in &files {
        let size = std::fs::metadata(file).unwrap().len();
        // At most one batch (two records and a checkpoint) over the limit.
        assert!(size < 4_000, "{file:?} has {size} bytes");
        let text = std::fs::read_to_string(file).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(
            last["event"]["action"], "checkpoint",
            "every file is sealed"
        );
    }
    assert_eq!(file_records(&files).len(), 60);
    let report = verify_files(&files, &integrity()).unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.files, files.len());
}

#[tokio::test]
async fn rotates_on_time_boundaries_of_the_layer_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
    let layer = AuditLayer::new()
        .clock(clock.clone())
        .hash_chain(true)
        .sink(FileSink::open(&path).unwrap().rotate(Rotation::Hourly));
    let handle = layer.handle();
    let app = app(layer);
    for _ in 0..3 {
        app.clone().oneshot(get("/")).await.unwrap();
        handle.flush().await.unwrap();
        clock.advance(Duration::from_secs(3_600));
    }
    handle.shutdown().await.unwrap();
    let files = audit_files(dir.path());
    assert_eq!(files.len(), 3, "{files:?}");
    // Rotated files are named by the time they were rotated, on the layer's clock.
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with("audit.log.20231114T231320Z")),
        "{files:?}"
    );
    assert!(verify_files(&files, &integrity()).unwrap().is_clean());
}

#[tokio::test]
async fn a_deleted_file_is_noticed_and_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let layer = AuditLayer::new().sink(FileSink::open(&path).unwrap().check_every(Duration::ZERO));
    let handle = layer.handle();
    let app = app(layer);
    app.clone().oneshot(get("/before")).await.unwrap();
    handle.flush().await.unwrap();
    std::fs::remove_file(&path).unwrap();
    app.clone().oneshot(get("/after")).await.unwrap();
    handle.flush().await.unwrap();
    let records = file_records(&[&path]);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["url"]["path"], "/after");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_file_renamed_away_is_sealed_and_the_path_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let layer = AuditLayer::new()
        .hash_chain(true)
        .sink(FileSink::open(&path).unwrap().check_every(Duration::ZERO));
    let handle = layer.handle();
    let app = app(layer);
    app.clone().oneshot(get("/one")).await.unwrap();
    handle.flush().await.unwrap();
    let rotated = dir.path().join("audit.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    app.clone().oneshot(get("/two")).await.unwrap();
    handle.shutdown().await.unwrap();
    assert_eq!(file_records(&[&rotated]).len(), 2);
    assert_eq!(file_records(&[&path]).len(), 2);
    let report = verify_files(&[&rotated, &path], &integrity()).unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
}

#[tokio::test]
async fn the_chain_continues_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    for _ in 0..2 {
        let layer = AuditLayer::new()
            .hash_chain(true)
            .sink(FileSink::open(&path).unwrap());
        let handle = layer.handle();
        let app = app(layer);
        app.clone().oneshot(get("/")).await.unwrap();
        handle.shutdown().await.unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let seqs: Vec<u64> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // Each run: its start (`open` on the new file, `restart` after), a request and a
    // response record, and the seal.
    assert_eq!(seqs, [0, 1, 2, 3, 4, 5, 6, 7]);
    let reasons: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let value = serde_json::from_str::<serde_json::Value>(line).unwrap();
            Some(value["event"]["reason"].as_str()?.to_owned())
        })
        .collect();
    assert_eq!(reasons, ["open", "shutdown", "restart", "shutdown"]);
    assert!(verify_files(&[&path], &integrity()).unwrap().is_clean());
}

#[tokio::test]
async fn a_restart_on_a_new_file_continues_from_the_newest_rotated_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let run = |uri: &'static str| {
        let path = path.clone();
        async move {
            let layer = AuditLayer::new()
                .hash_chain(true)
                .sink(FileSink::open(&path).unwrap());
            let handle = layer.handle();
            app(layer).oneshot(get(uri)).await.unwrap();
            handle.shutdown().await.unwrap();
        }
    };
    run("/one").await;
    // Renamed away while the process was stopped (logrotate), twice over: the newest
    // rotated file holds the chain's end.
    std::fs::rename(&path, dir.path().join("audit.log.2")).unwrap();
    run("/two").await;
    std::fs::rename(&path, dir.path().join("audit.log.1")).unwrap();
    let older = dir.path().join("audit.log.2");
    let newer = dir.path().join("audit.log.1");
    run("/three").await;
    let text = std::fs::read_to_string(&path).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"]["reason"], "open");
    assert_eq!(first["seq"], 8);
    let files = [older, newer, path];
    let report = verify_files(&files, &integrity()).unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.seq_range, Some((0, 11)));
}

#[tokio::test]
async fn after_a_line_cut_short_by_a_crash_the_chain_continues_from_the_last_whole_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let layer = AuditLayer::new()
        .hash_chain(true)
        .sink(FileSink::open(&path).unwrap());
    let handle = layer.handle();
    app(layer).oneshot(get("/one")).await.unwrap();
    handle.shutdown().await.unwrap();
    // A crash in the middle of a write: half a line, no newline.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"@timestamp":"2025-01-01T00:00:00.000000Z","event":{"ac"#);
    std::fs::write(&path, &text).unwrap();

    let layer = AuditLayer::new()
        .hash_chain(true)
        .sink(FileSink::open(&path).unwrap());
    let handle = layer.handle();
    app(layer).oneshot(get("/two")).await.unwrap();
    handle.shutdown().await.unwrap();
    let report = verify_files(&[&path], &integrity()).unwrap();
    // The half line is reported; the chain itself is whole (seq 0 to 7, no hole).
    assert_eq!(
        report.count(FindingKind::Malformed),
        1,
        "{:?}",
        report.findings
    );
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.seq_range, Some((0, 7)));
}

/// A log path that is a device never ending (`/dev/zero` reads zeros forever, as
/// `/dev/full` does) has no line to continue the chain from: start-up must not read
/// it to its end.
#[test]
fn a_device_as_the_log_path_has_no_last_line_and_is_not_read_forever() {
    use portcullis_audit_log::sink::Sink;
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sink = FileSink::open("/dev/zero").expect("a device opens for writing");
        let _ = done.send((sink.last_line(), sink.previous_last_line()));
    });
    let (last, previous) = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the last line of a device is looked for in bounded time");
    assert_eq!(last, None);
    assert_eq!(previous, None);
}
