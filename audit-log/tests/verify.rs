//! `verify` on real rotated files: each kind of tampering is found, and reported
//! apart from the others; the CLI exits non-zero.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{audit_files, echo};
use http::Request;
use portcullis_audit_log::chain::{CheckpointSigner, parse_public_key};
use portcullis_audit_log::layer::AuditLayer;
use portcullis_audit_log::sink::FileSink;
use portcullis_audit_log::verify::{FindingKind, VerifyOptions, verify_files};
use tower::{ServiceBuilder, ServiceExt};

const SIGNING_KEY: [u8; 32] = [42; 32];

/// A rotated, signed audit log of 40 requests in `dir`.
async fn write_log(dir: &Path) -> Vec<PathBuf> {
    let layer = AuditLayer::new()
        .signing_key(CheckpointSigner::from_bytes(&SIGNING_KEY))
        .checkpoint_every(7, std::time::Duration::from_secs(60))
        .sink(
            FileSink::open(dir.join("audit.log"))
                .unwrap()
                .max_bytes(6_000),
        );
    let handle = layer.handle();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(calls.clone(), request));
    for n in 0..40 {
        let request = Request::get(format!("/v1/items/{n}"))
            .body(String::new())
            .unwrap();
        app.clone().oneshot(request).await.unwrap();
        handle.flush().await.unwrap();
    }
    handle.shutdown().await.unwrap();
    let files = audit_files(dir);
    assert!(files.len() >= 4, "{files:?}");
    files
}

fn options() -> VerifyOptions {
    VerifyOptions::new().public_key(CheckpointSigner::from_bytes(&SIGNING_KEY).verifying_key())
}

fn kinds(files: &[PathBuf]) -> Vec<FindingKind> {
    let report = verify_files(files, &options()).unwrap();
    report
        .findings
        .iter()
        .map(|finding| finding.kind())
        .collect()
}

/// The rotated files in chain order (rotated names sort by time, the live file last).
fn chain_order(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut rotated: Vec<PathBuf> = files
        .iter()
        .filter(|f| !f.ends_with("audit.log"))
        .cloned()
        .collect();
    rotated.sort();
    rotated.extend(files.iter().filter(|f| f.ends_with("audit.log")).cloned());
    rotated
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn is_record(line: &str) -> bool {
    !line.contains(r#""action":"checkpoint""#)
}

fn cli(files: &[PathBuf], extra: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis-audit"))
        .arg("verify")
        .args(extra)
        .args(files)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[tokio::test]
async fn each_kind_of_tampering_is_reported_apart() {
    let dir = tempfile::tempdir().unwrap();
    let files = chain_order(&write_log(dir.path()).await);
    let public_key = CheckpointSigner::from_bytes(&SIGNING_KEY).public_key_hex();

    // Untouched: clean, exit 0.
    assert_eq!(kinds(&files), []);
    let (code, out) = cli(&files, &["--public-key", &public_key]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK"), "{out}");

    let middle = files[1].clone();
    let original = lines(&middle);
    let records: Vec<usize> = (1..original.len() - 1)
        .filter(|&i| is_record(&original[i]) && is_record(&original[i + 1]))
        .collect();
    let at = records[0];

    // Modify one byte of a record (a digit of its path).
    let mut modified = original.clone();
    let line = &modified[at];
    let digit = line.find("/v1/items/").unwrap() + "/v1/items/".len();
    let replacement = if &line[digit..digit + 1] == "9" {
        "8"
    } else {
        "9"
    };
    modified[at].replace_range(digit..digit + 1, replacement);
    write_lines(&middle, &modified);
    assert_eq!(kinds(&files), [FindingKind::Modified]);
    let (code, out) = cli(&files, &["--public-key", &public_key]);
    assert_eq!(code, 1);
    assert!(
        out.lines().next().unwrap().starts_with("modified: "),
        "{out}"
    );

    // Delete a line.
    let mut deleted = original.clone();
    deleted.remove(at);
    write_lines(&middle, &deleted);
    assert_eq!(kinds(&files), [FindingKind::Deleted]);
    let (code, out) = cli(&files, &[]);
    assert_eq!(code, 1);
    assert!(out.starts_with("deleted: "), "{out}");

    // Swap two lines.
    let mut swapped = original.clone();
    swapped.swap(at, at + 1);
    write_lines(&middle, &swapped);
    assert_eq!(kinds(&files), [FindingKind::Reordered]);
    assert!(cli(&files, &[]).1.starts_with("reordered: "));
    write_lines(&middle, &original);
    assert_eq!(kinds(&files), []);

    // Truncate the last file in the middle of a line.
    let last = files.last().unwrap().clone();
    let full = std::fs::read(&last).unwrap();
    std::fs::write(&last, &full[..full.len() - 25]).unwrap();
    assert_eq!(kinds(&files), [FindingKind::Truncated]);
    let (code, out) = cli(&files, &[]);
    assert_eq!(code, 1);
    assert!(out.starts_with("truncated: "), "{out}");
    // Cut at a line boundary: the seal is gone, also truncated.
    let mut cut = lines(&last);
    cut.truncate(cut.len() - 3);
    write_lines(&last, &cut);
    assert_eq!(kinds(&files), [FindingKind::Truncated]);
    std::fs::write(&last, &full).unwrap();
    assert_eq!(kinds(&files), []);

    // Remove a rotated file from the middle of the set.
    let without: Vec<PathBuf> = files.iter().filter(|f| **f != middle).cloned().collect();
    std::fs::remove_file(&middle).unwrap();
    assert_eq!(kinds(&without), [FindingKind::Gap]);
    let (code, out) = cli(&without, &[]);
    assert_eq!(code, 1);
    assert!(out.starts_with("gap: "), "{out}");
}

#[tokio::test]
async fn checkpoints_must_be_signed_by_the_trusted_key() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_log(dir.path()).await;
    let other = CheckpointSigner::generate();
    let report = verify_files(
        &files,
        &VerifyOptions::new().public_key(other.verifying_key()),
    )
    .unwrap();
    assert!(report.count(FindingKind::BadCheckpoint) > 0);
    // Each checkpoint, and that none is signed by the trusted key.
    assert_eq!(report.count(FindingKind::Untrusted), 1);
    assert_eq!(
        report.count(FindingKind::BadCheckpoint) + 1,
        report.findings.len()
    );
    // A forged checkpoint (its head changed) fails its signature.
    let last = files.iter().find(|f| f.ends_with("audit.log")).unwrap();
    let text = std::fs::read_to_string(last).unwrap();
    let forged = text.replacen(r#""head_seq":"#, r#""head_seq":1"#, 1);
    std::fs::write(last, forged).unwrap();
    let report = verify_files(&files, &options()).unwrap();
    assert!(
        report.count(FindingKind::BadCheckpoint) >= 1,
        "{:?}",
        report.findings
    );
    let (code, _) = cli(&files, &["--public-key", "not-a-key"]);
    assert_eq!(code, 2);
    assert!(parse_public_key(&other.public_key_hex()).is_some());
}

#[tokio::test]
async fn a_keyed_chain_needs_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let layer = AuditLayer::new()
        .chain_key(b"chain key")
        .sink(FileSink::open(&path).unwrap());
    let handle = layer.handle();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |request| echo(calls.clone(), request));
    app.oneshot(Request::get("/").body(String::new()).unwrap())
        .await
        .unwrap();
    handle.shutdown().await.unwrap();
    assert!(verify_files(&[&path], &VerifyOptions::new()).is_err());
    // Unsigned: its integrity only, under the chain key.
    let keyed = VerifyOptions::new()
        .chain_key(b"chain key")
        .integrity_only(true);
    assert!(verify_files(&[&path], &keyed).unwrap().is_clean());
    let wrong = VerifyOptions::new()
        .chain_key(b"guess")
        .integrity_only(true);
    assert!(!verify_files(&[&path], &wrong).unwrap().is_clean());
    let (code, out) = cli(
        std::slice::from_ref(&path),
        &["--chain-key", "636861696e206b6579", "--integrity-only"],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = cli(
        std::slice::from_ref(&path),
        &["--chain-key", "636861696e206b6579"],
    );
    assert_eq!(code, 1, "no trusted key: {out}");
}
