//! The servers the Portcullis crates' service-backed tests run against, read from the
//! environment.
//!
//! Those tests are `#[ignore = "needs REDIS_URL"]` (or `needs DATABASE_URL`, `needs
//! REDIS_CLUSTER_URLS`), so a plain `cargo test` lists them as ignored instead of
//! passing them without running. Run with `-- --include-ignored` (as CI does), they
//! call the functions here, which panic with a message that says what to set when the
//! variable is unset or empty: such a test fails, it never passes by skipping. A set
//! but unreachable server fails the test too, when it connects.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 \
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//! REDIS_CLUSTER_URLS=redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002 \
//! cargo test --workspace --all-features -- --include-ignored
//! ```

/// The value of the environment variable `name`; panics with "set `name` to
/// `what`" when it is unset, empty or not Unicode.
///
/// `what` says what the variable names, with an example value, e.g. `"a Redis server,
/// e.g. redis://127.0.0.1:6379"`.
#[track_caller]
pub fn require_env(name: &str, what: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        Ok(_) => panic!("set {name} to {what} (it is empty)"),
        Err(std::env::VarError::NotPresent) => panic!("set {name} to {what}"),
        Err(std::env::VarError::NotUnicode(_)) => panic!("set {name} to {what} (it is not UTF-8)"),
    }
}

/// `REDIS_URL`: the Redis server the Redis tests use. Panics when it is unset.
#[track_caller]
pub fn redis_url() -> String {
    require_env("REDIS_URL", "a Redis server, e.g. redis://127.0.0.1:6379")
}

/// `DATABASE_URL`: the PostgreSQL database the PostgreSQL tests use. Panics when it is
/// unset.
#[track_caller]
pub fn database_url() -> String {
    require_env(
        "DATABASE_URL",
        "a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/test",
    )
}

/// `REDIS_CLUSTER_URLS`, split at commas: the node URLs of the Redis Cluster the
/// cluster tests use (`bash .ci/redis-cluster` starts one on ports 7000-7002). Panics
/// when it is unset or names no node.
#[track_caller]
pub fn redis_cluster_urls() -> Vec<String> {
    const WHAT: &str = "the comma-separated nodes of a Redis Cluster, e.g. \
         redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002 \
         (`bash .ci/redis-cluster` starts one)";
    let urls = require_env("REDIS_CLUSTER_URLS", WHAT);
    let nodes: Vec<String> = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(
        !nodes.is_empty(),
        "set REDIS_CLUSTER_URLS to {WHAT} (REDIS_CLUSTER_URLS={urls:?} names no node)"
    );
    nodes
}

/// Sends `SIGTERM` to `child` (with the `kill` command: no `unsafe`) and waits up to
/// `within` for it to exit; then kills it if it has not. The exit status, or `None`
/// when it was still running at the deadline, and how long the wait took.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
///
/// let mut child = Command::new("sleep").arg("30").spawn().unwrap();
/// let (status, _took) = portcullis_test_support::terminate(&mut child, Duration::from_secs(10));
/// // `sleep` takes the default action of SIGTERM: it is ended by the signal.
/// assert_eq!(status.map(|status| status.code()), Some(None));
/// ```
pub fn terminate(
    child: &mut std::process::Child,
    within: std::time::Duration,
) -> (Option<std::process::ExitStatus>, std::time::Duration) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("the kill command runs");
    assert!(sent.success(), "kill -TERM {} failed", child.id());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break Some(status);
        }
        if start.elapsed() > within {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let took = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    (status, took)
}

/// The files in `dir` whose names start with `prefix`, sorted by name: a log and the
/// files rotated beside it (`audit.log`, `audit.log.1`, `audit.log.20260101T000000Z`).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// for name in ["audit.log.1", "audit.log", "other.log"] {
///     std::fs::write(dir.path().join(name), "").unwrap();
/// }
/// let found = portcullis_test_support::files_starting_with(dir.path(), "audit.log");
/// assert_eq!(found, [dir.path().join("audit.log"), dir.path().join("audit.log.1")]);
/// ```
pub fn files_starting_with(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{} cannot be listed: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "set PORTCULLIS_TEST_SUPPORT_UNSET to something, e.g. x")]
    fn an_unset_variable_fails_saying_what_to_set() {
        require_env("PORTCULLIS_TEST_SUPPORT_UNSET", "something, e.g. x");
    }

    #[test]
    fn a_set_variable_is_returned() {
        // PATH is set wherever `cargo test` runs.
        assert_eq!(
            require_env("PATH", "the search path"),
            std::env::var("PATH").unwrap()
        );
    }
}
