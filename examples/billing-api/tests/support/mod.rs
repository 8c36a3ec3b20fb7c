//! Starts the real `billing-api` binary on a free port and talks HTTP to it.

#![allow(dead_code, unreachable_pub)]

pub mod postgres;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// The admin token the test servers run with.
pub const ADMIN_TOKEN: &str = "adm_test_token_for_the_end_to_end_tests";

/// The environment variables the binary reads; removed so the developer's or CI's
/// (CI exports `DATABASE_URL` and `REDIS_URL`) never leak into a test server.
pub const ENV: [&str; 23] = [
    "LISTEN_ADDR",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_PREFIX",
    "PRESET",
    "ADMIN_TOKEN",
    "STRIPE_WEBHOOK_SECRET",
    "ALLOWED_ORIGINS",
    "TRUSTED_PROXIES",
    "AUDIT_LOG",
    "AUDIT_HMAC_SECRET",
    "AUDIT_SIGNING_KEY",
    "PLANS_FILE",
    "STRIPE_PRICE_STARTER",
    "STRIPE_PRICE_PRO",
    "STRIPE_PRICE_ENTERPRISE",
    "PAST_DUE_GRACE_DAYS",
    "MAX_CONNECTIONS",
    "HEADER_READ_TIMEOUT",
    "IDLE_TIMEOUT",
    "BODY_READ_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "RUST_LOG",
];

/// A command running the binary with a clean environment.
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_billing-api"));
    for name in ENV {
        command.env_remove(name);
    }
    command
}

/// A unique suffix for names of this run (databases, Redis prefixes).
pub fn unique(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{label}_{}_{:x}",
        std::process::id(),
        nanos & 0xffff_ffff_ffff
    )
}

/// How to start a server.
#[derive(Debug, Default)]
pub struct Options {
    args: Vec<String>,
    database_url: Option<String>,
    dir: Option<PathBuf>,
    admin_token: bool,
    env: Vec<(String, String)>,
    fd_limit: Option<u32>,
    capture_stderr: bool,
}

impl Options {
    /// Flags added to the defaults (`--listen 127.0.0.1:0`, a SQLite file and an
    /// audit log in a temporary directory, the test admin token).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    /// Another database than the SQLite file of the temporary directory.
    pub fn database_url(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }

    /// The directory of the SQLite file and the audit log.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_owned());
        self
    }

    /// An environment variable for the server (set after the clean-up of [`ENV`]).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs the server under `ulimit -n limit` (through `sh`), as a service manager
    /// would.
    pub fn fd_limit(mut self, limit: u32) -> Self {
        self.fd_limit = Some(limit);
        self
    }

    /// Keeps the server's stderr (its log) for [`Server::stderr`] and
    /// [`Server::output`], still echoing it.
    pub fn capture_stderr(mut self) -> Self {
        self.capture_stderr = true;
        self
    }

    /// Without `--admin-token`: the server generates one.
    pub fn generated_admin_token(mut self) -> Self {
        self.admin_token = false;
        self
    }
}

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub stdout: Vec<String>,
    /// The temporary directory of its SQLite file and audit log (unless given).
    pub temp: Option<tempfile::TempDir>,
    pub dir: PathBuf,
    /// Its stderr lines so far, with [`Options::capture_stderr`].
    stderr: Arc<Mutex<Vec<String>>>,
    /// Standard output after the banner, and standard error when captured
    /// ([`Options::capture_stderr`]), line by line.
    output: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary with these flags on top of the defaults.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(Self::options().args(args))
    }

    /// Options with the defaults.
    pub fn options() -> Options {
        Options {
            admin_token: true,
            ..Options::default()
        }
    }

    /// Starts the binary and waits for it to print its address.
    pub fn start_with(options: Options) -> Self {
        let (temp, dir) = match options.dir {
            Some(dir) => (None, dir),
            None => {
                let temp = tempfile::tempdir().expect("a temporary directory");
                let dir = temp.path().to_owned();
                (Some(temp), dir)
            }
        };
        let database_url = options
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("billing.db").display()));
        let mut command = match options.fd_limit {
            None => command(),
            Some(limit) => {
                let mut command = Command::new("sh");
                command.args([
                    "-c",
                    &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
                    env!("CARGO_BIN_EXE_billing-api"),
                ]);
                for name in ENV {
                    command.env_remove(name);
                }
                command
            }
        };
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(["--database-url", &database_url])
            .arg("--audit-log")
            .arg(dir.join("audit.log"));
        if options.admin_token {
            command.args(["--admin-token", ADMIN_TOKEN]);
        }
        for (name, value) in &options.env {
            command.env(name, value);
        }
        command.env("RUST_LOG", "warn");
        for (name, value) in options.env.iter().filter(|(name, _)| name == "RUST_LOG") {
            command.env(name, value);
        }
        let mut child = command
            .args(&options.args)
            .stdout(Stdio::piped())
            .stderr(if options.capture_stderr {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("the billing-api binary starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let output: Arc<Mutex<Vec<String>>> = Default::default();
        if let Some(pipe) = child.stderr.take() {
            let stderr = stderr.clone();
            let kept = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    eprintln!("{line}");
                    kept.lock().expect("not poisoned").push(line.clone());
                    stderr.lock().expect("not poisoned").push(line);
                }
            });
        }
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut seen: Vec<String> = Vec::new();
        let addr = loop {
            let Some(line) = lines.next() else {
                let status = child.wait().ok();
                panic!("the server exited ({status:?}) before printing its address: {seen:?}");
            };
            let line = line.expect("stdout is UTF-8");
            seen.push(line.clone());
            if let Some(rest) = line.split("http://").nth(1) {
                let addr = rest.split(['/', ' ']).next().unwrap_or_default();
                if let Ok(addr) = addr.parse() {
                    break addr;
                }
            }
        };
        // The banner follows the address: read it to its end.
        for line in lines.by_ref() {
            let line = line.expect("stdout is UTF-8");
            let last = line.starts_with("then open");
            seen.push(line);
            if last {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        let kept = output.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            addr,
            stdout: seen,
            temp,
            dir,
            stderr,
            output,
        }
    }

    /// Its stderr lines so far (none without [`Options::capture_stderr`]).
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().expect("not poisoned").clone()
    }

    /// Everything the server printed so far: the banner, the rest of standard output,
    /// and standard error when captured.
    pub fn output(&self) -> String {
        let mut text = self.stdout.join("\n");
        for line in self.output.lock().unwrap().iter() {
            text.push('\n');
            text.push_str(line);
        }
        text
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The audit log's path.
    pub fn audit_log(&self) -> PathBuf {
        self.dir.join("audit.log")
    }

    /// The records of the audit log and of the files it was rotated to
    /// (`audit.log.<UTC time>`): the daily rotation happens at midnight UTC, which
    /// may fall in the middle of a test.
    pub fn audit_records_with_rotated(&self) -> Vec<Value> {
        let paths = portcullis_test_support::files_starting_with(&self.dir, "audit.log");
        paths.iter().flat_map(|path| audit_records(path)).collect()
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request (its URI is a path on this server).
    pub async fn send(&self, request: Request<Full<Bytes>>) -> (Response<()>, Bytes) {
        let (mut parts, body) = request.into_parts();
        parts.uri = self.url(&parts.uri.to_string()).parse().expect("valid URL");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            client.request(Request::from_parts(parts, body)),
        )
        .await
        .expect("the server answers within 10 s")
        .expect("the request succeeds");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body reads").to_bytes();
        (Response::from_parts(parts, ()), bytes)
    }

    /// A GET of `path`.
    pub async fn get(&self, path: &str) -> (Response<()>, Bytes) {
        self.send(Request::get(path).body(Full::default()).unwrap())
            .await
    }

    /// A GET of `path` with an API key.
    pub async fn get_with_key(&self, path: &str, key: &str) -> (Response<()>, Value) {
        let (response, body) = self
            .send(
                Request::get(path)
                    .header("x-api-key", key)
                    .body(Full::default())
                    .unwrap(),
            )
            .await;
        (response, json(&body))
    }

    /// An admin request with a JSON body (or none).
    pub async fn admin(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Value>,
    ) -> (Response<()>, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"));
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Full::new(Bytes::from(body.to_string()))
            }
            None => Full::default(),
        };
        let (response, body) = self.send(request.body(body).unwrap()).await;
        (response, json(&body))
    }

    /// Creates a tenant; its id.
    pub async fn create_tenant(&self, name: &str) -> String {
        let (response, tenant) = self
            .admin(
                http::Method::POST,
                "/admin/tenants",
                Some(serde_json::json!({ "name": name, "email": "ops@example.com" })),
            )
            .await;
        assert_eq!(response.status(), http::StatusCode::CREATED, "{tenant}");
        tenant["id"].as_str().expect("an id").to_owned()
    }

    /// Creates a key for `tenant`; its id and plaintext.
    pub async fn create_key(&self, tenant: &str) -> (String, String) {
        let (response, key) = self
            .admin(
                http::Method::POST,
                &format!("/admin/tenants/{tenant}/keys"),
                Some(serde_json::json!({ "name": "tests" })),
            )
            .await;
        assert_eq!(response.status(), http::StatusCode::CREATED, "{key}");
        (
            key["id"].as_str().expect("an id").to_owned(),
            key["key"].as_str().expect("a key").to_owned(),
        )
    }

    /// Runs `billing-api stripe-trigger` against this server.
    pub fn trigger(&self, event: &str, tenant: &str, extra: &[&str]) -> std::process::Output {
        command()
            .args(["stripe-trigger", event, "--tenant", tenant])
            .args(["--url", &self.url("/webhooks/stripe")])
            .args(extra)
            .env("RUST_LOG", "warn")
            .output()
            .expect("stripe-trigger runs")
    }

    /// Sends `signal` (`TERM`, `HUP`, …) to the server with `kill`.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} {pid}");
    }

    /// Its exit status once it exits within `limit`, else `None` (it keeps running).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("the server can be waited for") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks the server to stop (SIGTERM) and waits for it: its audit log is flushed
    /// once this returns (and stays, with the SQLite file, until this is dropped).
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("the server can be waited for") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server stops within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A body as JSON (`Null` when it is not JSON).
pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// The audit log's records.
pub fn audit_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the audit log exists")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every audit line is JSON"))
        .collect()
}

/// Polls `check` every 20 ms until it holds; how long that took, or `None` after
/// `limit`.
pub async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
