//! The billing API's own audit log proves itself: written by the binary through
//! traffic, a logrotate rotation (rename and `SIGHUP`), a restart and a clean stop
//! (`SIGTERM`), the file set verifies against the public key the banner prints; its
//! signing key comes from `AUDIT_SIGNING_KEY`, a malformed one is refused at start-up
//! without being echoed, and an unset one is generated with a warning.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use portcullis_audit_log::chain::CheckpointSigner;
use portcullis_audit_log::verify::{FindingKind, VerifyOptions, verify_files};
use support::Server;

/// A signing key for the tests, as `openssl rand -hex 32` prints one.
const SIGNING_KEY: &str = "4f1c2b0d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c";

const BOUND: Duration = Duration::from_secs(10);

fn server(dir: &Path) -> Server {
    Server::start_with(
        Server::options()
            .dir(dir)
            .env("AUDIT_SIGNING_KEY", SIGNING_KEY),
    )
}

/// `audit.log` and the files rotated beside it.
fn audit_files(dir: &Path) -> Vec<PathBuf> {
    portcullis_test_support::files_starting_with(dir, "audit.log")
}

fn reasons(path: &Path) -> Vec<String> {
    support::audit_records(path)
        .iter()
        .filter(|record| record["event"]["action"] == "checkpoint")
        .map(|record| record["event"]["reason"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the audit file holds `needle`.
async fn written(path: &Path, needle: &str) {
    let found = support::within(BOUND, || {
        let path = path.to_owned();
        let needle = needle.to_owned();
        async move { std::fs::read_to_string(&path).is_ok_and(|text| text.contains(&needle)) }
    })
    .await;
    assert!(found.is_some(), "{needle} is not in {path:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_verifies_with_its_public_key_across_a_rotation_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let public_key = CheckpointSigner::parse(SIGNING_KEY)
        .unwrap()
        .public_key_hex();

    // First run: traffic, then logrotate's rename and SIGHUP, then more traffic.
    let mut first = server(dir.path());
    let banner = first.stdout.join("\n");
    assert!(
        banner.contains(&format!("audit public key:  {public_key}")),
        "{banner}"
    );
    assert!(
        !banner.contains(SIGNING_KEY),
        "the signing key is printed: {banner}"
    );
    let tenant = first.create_tenant("Before").await;
    let (_, key) = first.create_key(&tenant).await;
    // The customer API is recorded only when refused: admin requests are, always.
    for name in ["Before 1", "Before 2", "Before 3"] {
        first.create_tenant(name).await;
    }
    let audit = first.audit_log();
    written(&audit, "Before 3").await;
    let rotated = dir.path().join("audit.log.1");
    std::fs::rename(&audit, &rotated).unwrap();
    first.signal("HUP");
    // The reopen happens before the next batch once the signal is seen: keep sending
    // until a record lands in the new file.
    let reopened = support::within(BOUND, || {
        let first = &first;
        let audit = audit.clone();
        async move {
            first.create_tenant("Reopened").await;
            std::fs::read_to_string(&audit).is_ok_and(|text| text.contains("Reopened"))
        }
    })
    .await;
    assert!(reopened.is_some(), "no new audit file after SIGHUP");
    assert_eq!(first.stop().code(), Some(0));
    assert_eq!(
        reasons(&rotated).last().map(String::as_str),
        Some("rotation")
    );
    assert_eq!(reasons(&audit).first().map(String::as_str), Some("open"));
    assert_eq!(reasons(&audit).last().map(String::as_str), Some("shutdown"));

    // Second run on the same files: the chain continues, after a `restart`.
    let mut second = server(dir.path());
    second.create_tenant("After").await;
    second.get_with_key("/v1/quote", &key).await;
    assert_eq!(second.stop().code(), Some(0));
    assert!(reasons(&audit).iter().any(|reason| reason == "restart"));

    let files = audit_files(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    let trusted = VerifyOptions::new()
        .public_key(portcullis_audit_log::chain::parse_public_key(&public_key).unwrap());
    let report = verify_files(&files, &trusted).unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert!(report.signed_checkpoints >= 5, "{report:?}");
    assert_eq!(report.seq_range.unwrap().0, 0, "from the genesis");
    // No secret in it: the key, the admin token, the signing key.
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for secret in [key.as_str(), support::ADMIN_TOKEN, SIGNING_KEY] {
            assert!(!text.contains(secret), "a secret is in {file:?}");
        }
    }
    // A record changed is caught with that key.
    let text = std::fs::read_to_string(&rotated).unwrap();
    std::fs::write(&rotated, text.replacen("Before 2", "Before 9", 1)).unwrap();
    let report = verify_files(&files, &trusted).unwrap();
    assert_eq!(
        report.count(FindingKind::Modified),
        1,
        "{:?}",
        report.findings
    );
}

#[test]
fn a_malformed_signing_key_is_refused_with_one_line_that_does_not_echo_it() {
    let not_hex = "zz".repeat(32);
    for bad in ["not-a-key", "abcd", not_hex.as_str(), &SIGNING_KEY[..62]] {
        let dir = tempfile::tempdir().unwrap();
        let output = support::command()
            .args(["--listen", "127.0.0.1:0"])
            .args([
                "--database-url",
                &format!("sqlite://{}", dir.path().join("billing.db").display()),
            ])
            .arg("--audit-log")
            .arg(dir.path().join("audit.log"))
            .args(["--admin-token", support::ADMIN_TOKEN])
            .env("AUDIT_SIGNING_KEY", bad)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("AUDIT_SIGNING_KEY"), "{stderr}");
        assert!(!stderr.contains(bad), "the key is echoed: {stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[tokio::test]
async fn without_a_signing_key_one_is_generated_and_the_banner_says_what_that_means() {
    let mut server = Server::start(&[]);
    let banner = server.stdout.join("\n");
    let line = server
        .stdout
        .iter()
        .find(|line| line.contains("audit public key:"))
        .unwrap_or_else(|| panic!("{banner}"));
    assert!(line.contains("generated for this run"), "{line}");
    let public_key = line.split_whitespace().nth(3).unwrap().to_owned();
    server.create_tenant("Acme").await;
    assert_eq!(server.stop().code(), Some(0));
    // That run's file verifies against that run's key.
    let key = portcullis_audit_log::chain::parse_public_key(&public_key).unwrap();
    let report =
        verify_files(&[server.audit_log()], &VerifyOptions::new().public_key(key)).unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
}
