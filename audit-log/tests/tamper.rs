//! Tampering with a real file set, written by the crate's own writer (chained, signed
//! checkpoints, rotated by size, one restart): `portcullis-audit verify` catches each
//! kind with a finding and exit status 1. Every test first checks that the untouched
//! set verifies OK, so a verifier that rejects everything cannot pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::echo;
use http::Request;
use portcullis_audit_log::chain::{Chain, CheckpointSigner, hash_line};
use portcullis_audit_log::delivery::AuditHandle;
use portcullis_audit_log::layer::AuditLayer;
use portcullis_audit_log::sink::FileSink;
use portcullis_audit_log::verify::{FindingKind, VerifyOptions, verify_files};
use serde_json::Value;
use tower::{ServiceBuilder, ServiceExt};

const KEY: [u8; 32] = [7; 32];
/// Requests per run; two runs (a restart between them).
const REQUESTS: usize = 12;

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_bytes(&KEY)
}

fn public_key() -> String {
    signer().public_key_hex()
}

type App = tower::util::BoxCloneService<
    Request<String>,
    http::Response<portcullis_audit_log::body::AuditBody<String>>,
    std::convert::Infallible,
>;

/// A writer on `dir/audit.log`: signed checkpoints every 5 lines, rotation at 5 kB.
fn writer(dir: &Path) -> (App, AuditHandle) {
    let layer = AuditLayer::new()
        .signing_key(signer())
        .checkpoint_every(5, Duration::from_secs(3_600))
        .sink(
            FileSink::open(dir.join("audit.log"))
                .unwrap()
                .max_bytes(5_000),
        );
    let handle = layer.handle();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = tower::util::BoxCloneService::new(
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(move |request| echo(calls.clone(), request)),
    );
    (app, handle)
}

async fn traffic(app: &App, handle: &AuditHandle, run: usize) {
    for n in 0..REQUESTS {
        let request = Request::get(format!("/v1/items/{run}-{n}"))
            .body(String::new())
            .unwrap();
        app.clone().oneshot(request).await.unwrap();
        handle.flush().await.unwrap();
    }
}

/// Two runs of the writer on one path (stopped cleanly in between), so the set has
/// rotated files, a restart, periodic checkpoints and seals. The files in chain
/// order.
async fn write_set(dir: &Path) -> Vec<PathBuf> {
    for run in 0..2 {
        let (app, handle) = writer(dir);
        traffic(&app, &handle, run).await;
        handle.shutdown().await.unwrap();
    }
    let files = chain_order(dir);
    assert!(files.len() >= 3, "{files:?}");
    files
}

/// `audit.log*` in `dir`, by the `seq` of their first line.
fn chain_order(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("audit.log")
        })
        .map(|path| {
            let first = lines(&path)
                .first()
                .map_or(u64::MAX, |line| json(line)["seq"].as_u64().unwrap());
            (first, path)
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, path)| path).collect()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

fn reason(line: &str) -> Option<String> {
    let value = json(line);
    (value["event"]["action"] == "checkpoint")
        .then(|| value["event"]["reason"].as_str().unwrap().to_owned())
}

fn is_record(line: &str) -> bool {
    reason(line).is_none()
}

/// Runs `portcullis-audit verify` with these options; its exit status and output.
fn cli(files: &[PathBuf], options: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis-audit"))
        .arg("verify")
        .args(options)
        .args(files)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

/// The set verifies with its public key: exit 0, the verdict OK.
fn assert_ok(files: &[PathBuf]) -> String {
    let (code, out) = cli(files, &["--public-key", &public_key()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .ends_with(" signature(s) verified: OK"),
        "{out}"
    );
    // Nothing but notes before the summary: no finding.
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|line| line.starts_with("note: ")),
        "{out}"
    );
    out
}

/// The set is reported with a `kind` finding and exit status 1, by the command and
/// the library alike.
fn assert_caught(files: &[PathBuf], kind: FindingKind) -> String {
    let (code, out) = cli(files, &["--public-key", &public_key()]);
    assert_eq!(code, 1, "{out}");
    let prefix = format!("{}: ", kind.as_str());
    assert!(
        out.lines().any(|line| line.starts_with(&prefix)),
        "no {prefix}finding:\n{out}"
    );
    assert!(
        out.lines().last().unwrap().ends_with(" finding(s)"),
        "{out}"
    );
    let report = verify_files(
        files,
        &VerifyOptions::new().public_key(signer().verifying_key()),
    )
    .unwrap();
    assert!(report.count(kind) >= 1, "{:?}", report.findings);
    out
}

/// The index of the first line of `path` that `pick` accepts.
fn find(path: &Path, pick: impl Fn(&str) -> bool) -> usize {
    lines(path).iter().position(|line| pick(line)).unwrap()
}

#[tokio::test]
async fn the_untouched_set_verifies_with_its_public_key_and_only_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    let out = assert_ok(&files);
    assert!(out.contains(&format!("{} file(s)", files.len())), "{out}");

    // What the set holds: a genesis `open`, periodic checkpoints, rotation seals, an
    // `open` at the top of every later file, a `restart`, and a final seal.
    let all: Vec<String> = files.iter().flat_map(|file| lines(file)).collect();
    let reasons: Vec<String> = all.iter().filter_map(|line| reason(line)).collect();
    for expected in ["open", "periodic", "rotation", "restart", "shutdown"] {
        assert!(
            reasons.iter().any(|r| r == expected),
            "no {expected}: {reasons:?}"
        );
    }
    assert_eq!(json(&all[0])["seq"], 0);
    assert_eq!(reason(&all[0]).as_deref(), Some("open"));
    for file in &files[1..] {
        assert_eq!(reason(&lines(file)[0]).as_deref(), Some("open"), "{file:?}");
    }
    for file in &files {
        let last = reason(lines(file).last().unwrap()).unwrap();
        assert!(
            last == "rotation" || last == "shutdown",
            "{file:?} ends with {last}"
        );
    }
    // Every line is chained in one sequence across files and runs.
    let seqs: Vec<u64> = all
        .iter()
        .map(|line| json(line)["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..all.len() as u64).collect::<Vec<_>>());

    // Without a trusted key: never OK, exit 1, and it says why.
    let (code, out) = cli(&files, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines().any(|line| line.starts_with("untrusted: ")),
        "{out}"
    );
    assert!(!out.contains(": OK"), "{out}");
    // Unless integrity only is asked for, and then it says so.
    let (code, out) = cli(&files, &["--integrity-only"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.trim_end()
            .ends_with("OK (integrity only: no trusted key)"),
        "{out}"
    );
    // Another key is not trusted.
    let other = CheckpointSigner::generate().public_key_hex();
    let (code, out) = cli(&files, &["--public-key", &other]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("signed by another key"), "{out}");
}

#[tokio::test]
async fn deleting_the_first_line_or_lines_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    let original = lines(&files[0]);
    for count in [1, 2, 3] {
        write_lines(&files[0], &original[count..]);
        assert_caught(&files, FindingKind::Deleted);
    }
    // The head of a later file, too.
    write_lines(&files[0], &original);
    let second = lines(&files[1]);
    write_lines(&files[1], &second[1..]);
    assert_caught(&files, FindingKind::Deleted);
}

#[tokio::test]
async fn deleting_everything_up_to_the_first_checkpoint_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    let original = lines(&files[0]);
    let periodic = find(&files[0], |line| {
        reason(line).as_deref() == Some("periodic")
    });
    // The periodic checkpoint becomes the first line, then the line after it.
    write_lines(&files[0], &original[periodic..]);
    assert_caught(&files, FindingKind::Deleted);
    write_lines(&files[0], &original[periodic + 1..]);
    assert_caught(&files, FindingKind::Deleted);
}

#[tokio::test]
async fn a_set_whose_oldest_file_was_removed_verifies_and_says_where_it_continues_but_not_the_newest()
 {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    let last_of_first = json(lines(&files[0]).last().unwrap())["seq"]
        .as_u64()
        .unwrap();
    // Retention removed the oldest file: the rest starts at a signed `open`.
    let out = assert_ok(&files[1..]);
    assert!(
        out.contains(&format!("continuing seq {last_of_first} of an older file")),
        "{out}"
    );
    // Removing the newest is caught: the set then ends with a `rotation` seal.
    let out = assert_caught(&files[..files.len() - 1], FindingKind::Truncated);
    assert!(
        out.contains("the files written after it are missing"),
        "{out}"
    );
    // Removing one from the middle is a gap.
    let without: Vec<PathBuf> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, f)| f.clone())
        .collect();
    assert_caught(&without, FindingKind::Gap);
}

/// The files with a periodic checkpoint before their last line, and its index.
fn periodic_checkpoints(files: &[PathBuf]) -> Vec<(PathBuf, usize)> {
    files
        .iter()
        .filter_map(|file| {
            let lines = lines(file);
            let at = lines[..lines.len() - 1]
                .iter()
                .rposition(|line| reason(line).as_deref() == Some("periodic"))?;
            Some((file.clone(), at))
        })
        .collect()
}

#[tokio::test]
async fn truncating_after_a_periodic_checkpoint_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    let periodic = periodic_checkpoints(&files);
    assert!(periodic.len() >= 2, "{periodic:?}");
    // In the last file with one, and in the first.
    for (file, at) in [periodic.last().unwrap().clone(), periodic[0].clone()] {
        let original = lines(&file);
        write_lines(&file, &original[..=at]);
        assert_caught(&files, FindingKind::Truncated);
        // Relabelling the periodic checkpoint as a seal breaks its signature.
        let mut relabelled = original[..=at].to_vec();
        relabelled[at] =
            relabelled[at].replace("\"reason\":\"periodic\"", "\"reason\":\"shutdown\"");
        write_lines(&file, &relabelled);
        assert_caught(&files, FindingKind::BadCheckpoint);
        write_lines(&file, &original);
    }
    assert_ok(&files);
}

#[tokio::test]
async fn truncating_mid_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    let last = files.last().unwrap();
    let original = lines(last);
    // At a line boundary, then in the middle of a line.
    write_lines(last, &original[..original.len() / 2]);
    assert_caught(&files, FindingKind::Truncated);
    let bytes = std::fs::read(last).unwrap();
    std::fs::write(last, &bytes[..bytes.len() - 20]).unwrap();
    assert_caught(&files, FindingKind::Truncated);
    // Only the final seal removed.
    write_lines(last, &original[..original.len() - 1]);
    assert_caught(&files, FindingKind::Truncated);
}

#[tokio::test]
async fn editing_a_field_of_a_record_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    for file in &files {
        let original = lines(file);
        let at = find(file, is_record);
        let mut edited = original.clone();
        edited[at] = edited[at].replacen("\"GET\"", "\"PUT\"", 1);
        assert_ne!(edited[at], original[at]);
        write_lines(file, &edited);
        assert_caught(&files, FindingKind::Modified);
        write_lines(file, &original);
    }
}

#[tokio::test]
async fn editing_any_field_of_a_checkpoint_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    let last = files.last().unwrap().clone();
    let seal = lines(&last).len() - 1;
    let periodic = find(&files[0], |line| {
        reason(line).as_deref() == Some("periodic")
    });
    let restart = files
        .iter()
        .find_map(|file| {
            let at = lines(file)
                .iter()
                .position(|line| reason(line).as_deref() == Some("restart"))?;
            Some((file.clone(), at))
        })
        .unwrap();
    // A periodic checkpoint, the `open` of a file, the `restart`, and the final seal
    // (the set's last line: no later line's prev_hash holds its hash).
    let targets = [
        (files[0].clone(), periodic),
        (files[1].clone(), 0),
        restart,
        (last, seal),
    ];
    for (file, at) in targets {
        let original = lines(&file);
        let line = &original[at];
        let value = json(line);
        let timestamp = value["@timestamp"].as_str().unwrap();
        let edits = [
            (
                format!(
                    "\"reason\":\"{}\"",
                    value["event"]["reason"].as_str().unwrap()
                ),
                "\"reason\":\"rotation\"".to_owned(),
            ),
            (
                format!("\"@timestamp\":\"{timestamp}\""),
                format!("\"@timestamp\":\"{}\"", timestamp.replacen("20", "19", 1)),
            ),
            (
                format!("\"id\":\"{}\"", value["event"]["id"].as_str().unwrap()),
                "\"id\":\"checkpoint:0\"".to_owned(),
            ),
            (
                "\"dataset\":\"portcullis.audit\"".to_owned(),
                "\"dataset\":\"portcullis.audit2\"".to_owned(),
            ),
            (
                "\"kind\":\"event\"".to_owned(),
                "\"kind\":\"state\"".to_owned(),
            ),
        ];
        for (from, to) in edits {
            assert!(line.contains(&from), "{from} in {line}");
            let mut edited = original.clone();
            edited[at] = line.replacen(&from, &to, 1);
            if edited[at] == *line {
                continue;
            }
            write_lines(&file, &edited);
            assert_caught(&files, FindingKind::BadCheckpoint);
        }
        // Its signature, and a member added to it.
        let mut edited = original.clone();
        let signature = value["signature"].as_str().unwrap();
        let flipped: String = signature.chars().rev().collect();
        edited[at] = line.replace(signature, &flipped);
        write_lines(&file, &edited);
        assert_caught(&files, FindingKind::BadCheckpoint);
        edited[at] = line.replacen("{", "{\"note\":\"ok\",", 1);
        write_lines(&file, &edited);
        assert_caught(&files, FindingKind::BadCheckpoint);
        write_lines(&file, &original);
    }
    assert_ok(&files);
}

#[tokio::test]
async fn the_last_record_of_a_live_file_is_unproven_until_the_file_is_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let (app, handle) = writer(dir.path());
    traffic(&app, &handle, 0).await;
    // Until the live file ends with records after its last checkpoint (one request
    // more at most, unless a checkpoint or rotation fell on the last).
    for n in 0.. {
        let files = chain_order(dir.path());
        if is_record(lines(files.last().unwrap()).last().unwrap()) {
            break;
        }
        assert!(n < 5, "a checkpoint after every request?");
        let request = Request::get(format!("/v1/items/more-{n}"))
            .body(String::new())
            .unwrap();
        app.clone().oneshot(request).await.unwrap();
        handle.flush().await.unwrap();
    }
    let files = chain_order(dir.path());
    let live = files.last().unwrap().clone();
    // Still being written: not sealed, so it verifies only as live, and says which
    // lines nothing signs yet.
    assert_caught(&files, FindingKind::Truncated);
    let key = public_key();
    let (code, out) = cli(&files, &["--public-key", &key, "--live"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("note: live: seq "), "{out}");
    // The documented blind spot: its last record, edited, still verifies live.
    let original = lines(&live);
    let last = original.len() - 1;
    assert!(is_record(&original[last]));
    let mut edited = original.clone();
    edited[last] = edited[last].replacen("\"GET\"", "\"PUT\"", 1);
    write_lines(&live, &edited);
    let (code, out) = cli(&files, &["--public-key", &key, "--live"]);
    assert_eq!(code, 0, "the blind spot the docs describe: {out}");
    // Sealed, the seal signs the chain head the writer holds: the edit is caught.
    handle.shutdown().await.unwrap();
    assert_eq!(
        reason(lines(&live).last().unwrap()).as_deref(),
        Some("shutdown")
    );
    assert_caught(&files, FindingKind::Modified);
    let mut restored = lines(&live);
    restored[last] = original[last].clone();
    write_lines(&live, &restored);
    assert_ok(&files);
}

#[tokio::test]
async fn reordering_two_lines_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    let file = &files[1];
    let original = lines(file);
    let mut swapped = original.clone();
    swapped.swap(1, 2);
    write_lines(file, &swapped);
    assert_caught(&files, FindingKind::Reordered);
    // Two files swapped in content: each file's own order is intact, the chain not.
    write_lines(file, &original);
    let first = lines(&files[0]);
    write_lines(&files[0], &original);
    write_lines(file, &first);
    let (code, out) = cli(&files, &["--public-key", &public_key()]);
    assert_eq!(code, 0, "files are put in order by their seq: {out}");
}

#[tokio::test]
async fn duplicating_a_line_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    for at in [1, 0] {
        let file = &files[1];
        let original = lines(file);
        let mut duplicated = original.clone();
        duplicated.insert(at + 1, original[at].clone());
        write_lines(file, &duplicated);
        assert_caught(&files, FindingKind::Duplicated);
        write_lines(file, &original);
    }
    // A line of one file copied into another.
    let last = files.last().unwrap();
    let original = lines(last);
    let mut with_copy = original.clone();
    with_copy.insert(2, lines(&files[0])[2].clone());
    write_lines(last, &with_copy);
    assert!(
        !cli(&files, &["--public-key", &public_key()])
            .1
            .ends_with(": OK\n")
    );
    assert_eq!(cli(&files, &["--public-key", &public_key()]).0, 1);
}

#[tokio::test]
async fn inserting_a_forged_line_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    let file = &files[1];
    let original = lines(file);
    let at = find(file, is_record);
    // A forged record chained onto the line before it, as an attacker can compute
    // (SHA-256 of a known line), with the seq after it.
    let mut value = json(&original[at]);
    let seq = value["seq"].as_u64().unwrap();
    value["url"]["path"] = "/v1/forged".into();
    value["prev_hash"] = hash_line(original[at].as_bytes(), None).into();
    value["seq"] = (seq + 1).into();
    let mut forged = original.clone();
    forged.insert(at + 1, serde_json::to_string(&value).unwrap());
    write_lines(file, &forged);
    let (code, out) = cli(&files, &["--public-key", &public_key()]);
    assert_eq!(code, 1, "{out}");
    // Appended after the final seal instead.
    write_lines(file, &original);
    let last = files.last().unwrap();
    let sealed = lines(last);
    let end = sealed.last().unwrap();
    let mut value = json(&sealed[sealed.len() - 2]);
    value["seq"] = (json(end)["seq"].as_u64().unwrap() + 1).into();
    value["prev_hash"] = hash_line(end.as_bytes(), None).into();
    let mut appended = sealed.clone();
    appended.push(serde_json::to_string(&value).unwrap());
    write_lines(last, &appended);
    assert_caught(&files, FindingKind::Truncated);
}

/// Rewrites every file: a record changed, every line re-chained, every checkpoint
/// re-signed with `forger` (its public key written in it), as whoever can write the
/// files but lacks the signing key would.
fn rewrite(files: &[PathBuf], forger: &CheckpointSigner) {
    let mut chain = Chain::sha256();
    for file in files {
        let mut out = Vec::new();
        for line in lines(file) {
            let mut value = json(&line);
            let object = value.as_object_mut().unwrap();
            for member in ["seq", "prev_hash", "signature"] {
                object.remove(member);
            }
            if value["url"]["path"]
                .as_str()
                .is_some_and(|path| path.ends_with("-3"))
            {
                value["url"]["path"] = "/v1/forged".into();
            }
            let checkpoint = value["event"]["action"] == "checkpoint";
            if checkpoint {
                let head = chain.head().clone();
                if head.next_seq > 0 {
                    value["checkpoint"]["head_seq"] = (head.next_seq - 1).into();
                    value["checkpoint"]["head_hash"] = head.hash.clone().into();
                }
                value["checkpoint"]["public_key"] = forger.public_key_hex().into();
            }
            let mut bytes = serde_json::to_vec(&value).unwrap();
            chain.link(&mut bytes);
            if checkpoint {
                forger.sign_line(&mut bytes);
            }
            chain.commit(&bytes);
            out.push(String::from_utf8(bytes).unwrap());
        }
        write_lines(file, &out);
    }
}

#[tokio::test]
async fn a_full_rewrite_signed_with_another_key_is_caught_with_the_public_key_and_not_ok_without() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_set(dir.path()).await;
    assert_ok(&files);
    let forger = CheckpointSigner::generate();
    rewrite(&files, &forger);
    let out = assert_caught(&files, FindingKind::BadCheckpoint);
    assert!(
        out.contains("signed by another key than the trusted ones"),
        "{out}"
    );
    // The forgery did change a record.
    assert!(files.iter().any(|file| {
        std::fs::read_to_string(file)
            .unwrap()
            .contains("/v1/forged")
    }));
    // Without a trusted key the forgery is consistent, and so never called OK.
    let (code, out) = cli(&files, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines().any(|line| line.starts_with("untrusted: ")),
        "{out}"
    );
    assert!(!out.contains(": OK"), "{out}");
    // With the forger's key it verifies: what a trusted key, kept apart, is for.
    let (code, out) = cli(&files, &["--public-key", &forger.public_key_hex()]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn lines_cut_while_the_writer_was_stopped_are_caught_at_its_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (app, handle) = writer(dir.path());
    traffic(&app, &handle, 0).await;
    handle.shutdown().await.unwrap();
    // While it is stopped, the live file loses its tail up to its last checkpoint
    // before the seal (a crash leaves the same: records after a checkpoint, no
    // seal).
    let files = chain_order(dir.path());
    let live = files.last().unwrap();
    let original = lines(live);
    let at = original[..original.len() - 1]
        .iter()
        .rposition(|line| reason(line).is_some())
        .unwrap();
    write_lines(live, &original[..=at]);
    // The next run continues the chain from the line it finds, with a `restart`.
    let (app, handle) = writer(dir.path());
    traffic(&app, &handle, 1).await;
    handle.shutdown().await.unwrap();
    let files = chain_order(dir.path());
    let out = assert_caught(&files, FindingKind::Truncated);
    assert!(
        out.contains("restarted on this file after this line"),
        "{out}"
    );
}
