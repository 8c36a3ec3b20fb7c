//! `SIGHUP` makes the file sink reopen its path (logrotate's rename and signal).
#![cfg(all(unix, feature = "sighup"))]

mod common;

use std::time::{Duration, Instant};

use common::{echo, file_records};
use http::Request;
use portcullis_audit_log::chain::CheckpointSigner;
use portcullis_audit_log::layer::AuditLayer;
use portcullis_audit_log::sink::{FileSink, reopen_on_sighup};
use portcullis_audit_log::verify::{VerifyOptions, verify_files};
use tower::{ServiceBuilder, ServiceExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    // Path checks effectively off: only the signal can make it reopen.
    let sink = FileSink::open(&path)
        .unwrap()
        .check_every(Duration::from_secs(3_600));
    let reopen = sink.reopen_handle();
    reopen_on_sighup([reopen.clone()]).unwrap();
    let signer = CheckpointSigner::generate();
    let layer = AuditLayer::new().signing_key(signer.clone()).sink(sink);
    let handle = layer.handle();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(calls.clone(), request));
    let get = |uri: &str| Request::get(uri).body(String::new()).unwrap();

    app.clone().oneshot(get("/one")).await.unwrap();
    handle.flush().await.unwrap();
    let rotated = dir.path().join("audit.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    app.clone().oneshot(get("/two")).await.unwrap();
    handle.flush().await.unwrap();
    assert!(!path.exists(), "still writing to the renamed file");
    assert_eq!(file_records(&[&rotated]).len(), 4);

    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while reopen.requests() == 0 {
        assert!(Instant::now() < deadline, "SIGHUP not seen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.clone().oneshot(get("/three")).await.unwrap();
    handle.shutdown().await.unwrap();
    let records = file_records(&[&path]);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["url"]["path"], "/three");
    assert_eq!(file_records(&[&rotated]).len(), 4);
    // The renamed file was sealed before the reopen, and the new one continues its
    // chain: the two verify as one set.
    let trusted = VerifyOptions::new().public_key(signer.verifying_key());
    let report = verify_files(&[&rotated, &path], &trusted).unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.seq_range.map(|(first, _)| first), Some(0));
}
