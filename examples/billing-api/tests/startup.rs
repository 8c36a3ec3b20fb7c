//! A bad flag, or a database or Redis that cannot be reached at start-up: one line
//! naming the problem, exit code 2, no panic.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `command` to its end, or kills it after 30 s and fails: a server that starts
/// when it should have refused would otherwise hang the test.
fn output_within_30_s(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after 30 s (it started): {}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn fails_with_one_line(args: &[&str], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let database = format!("sqlite://{}", dir.path().join("billing.db").display());
    let output = output_within_30_s(
        support::command()
            .args(["--listen", "127.0.0.1:0", "--audit-log"])
            .arg(&audit)
            .args(["--database-url", &database])
            .args(args),
    );
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.contains(expected), "{args:?}: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "{args:?}: nothing is printed as started"
    );
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    for (args, expected) in [
        (
            &["--trusted-proxies", "10.0.0.0/33"][..],
            "--trusted-proxies",
        ),
        (
            &["--allowed-origins", "https://*.com"][..],
            "--allowed-origins",
        ),
        (&["--listen", "not-an-address"][..], "error"),
        (&["--no-such-flag"][..], "error"),
        (&["--preset", "loose"][..], "error"),
        (
            &["--database-url", "mysql://localhost/db"][..],
            "--database-url",
        ),
        (&["--plans", "/nonexistent/plans.toml"][..], "--plans"),
        (
            &["--audit-log", "/nonexistent/dir/audit.log"][..],
            "--audit-log",
        ),
        // Guessable admin tokens: too short, or long but of too few characters.
        (&["--admin-token", "ab"][..], "--admin-token"),
        (
            &["--admin-token", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"][..],
            "--admin-token",
        ),
        (
            &["--admin-token", "abababababababababababab"][..],
            "--admin-token",
        ),
    ] {
        fails_with_one_line(args, expected);
    }
}

#[test]
fn a_guessable_admin_token_is_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("billing.db").display());
    let output = output_within_30_s(
        support::command()
            .args(["--listen", "127.0.0.1:0", "--admin-token", "hunter2hunter2"])
            .args(["--database-url", &database])
            .arg("--audit-log")
            .arg(dir.path().join("audit.log")),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn exactly_one_line_when_the_database_cannot_be_reached() {
    let output = support::command()
        .args(["--listen", "127.0.0.1:0"])
        .args([
            "--database-url",
            "postgres://postgres:secret@127.0.0.1:1/billing",
        ])
        .arg("--audit-log")
        .arg(tempfile::tempdir().unwrap().path().join("audit.log"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--database-url"), "{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(
        !stderr.contains("secret"),
        "no password in messages: {stderr}"
    );
}

#[test]
fn exactly_one_line_when_redis_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    let output = support::command()
        .args(["--listen", "127.0.0.1:0"])
        .args(["--redis-url", "redis://127.0.0.1:1"])
        .arg("--audit-log")
        .arg(dir.path().join("audit.log"))
        .arg("--database-url")
        .arg(format!(
            "sqlite://{}",
            dir.path().join("billing.db").display()
        ))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--redis-url"), "{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
}

#[test]
fn help_documents_every_flag_and_its_environment_variable() {
    let output = support::command().arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    for (flag, env) in [
        ("--listen", "LISTEN_ADDR"),
        ("--database-url", "DATABASE_URL"),
        ("--redis-url", "REDIS_URL"),
        ("--preset", "PRESET"),
        ("--admin-token", "ADMIN_TOKEN"),
        ("--stripe-webhook-secret", "STRIPE_WEBHOOK_SECRET"),
        ("--allowed-origins", "ALLOWED_ORIGINS"),
        ("--trusted-proxies", "TRUSTED_PROXIES"),
        ("--audit-log", "AUDIT_LOG"),
        ("--audit-signing-key", "AUDIT_SIGNING_KEY"),
        ("--plans", "PLANS_FILE"),
        ("--stripe-price-starter", "STRIPE_PRICE_STARTER"),
        ("--stripe-price-pro", "STRIPE_PRICE_PRO"),
        ("--stripe-price-enterprise", "STRIPE_PRICE_ENTERPRISE"),
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
        assert!(help.contains(&format!("env: {env}")), "{env}: {help}");
    }
    assert!(help.contains("stripe-trigger"), "{help}");
}
