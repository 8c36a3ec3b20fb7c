//! PostgreSQL stopped and started again under traffic, three ways: a crash
//! (`pg_ctl stop -m immediate`, then `start`), a fast shutdown (`stop -m fast`, then
//! `start`) and a fast restart (`pg_ctl restart -m fast`). Four clients of one address
//! loop over `/v1` with keys warmed in the cache, five more of the same address try
//! keys the cache has not seen while PostgreSQL is down, and an admin client of
//! another address creates tenants and reads one.
//!
//! - Keys in the API-key cache keep answering `200` while the database is down, for
//!   the cache's positive TTL (10 s, `ApiKeyLayer::strict`): a cache hit needs no
//!   store, and the brute-force limiter does not hold it up behind the same address's
//!   requests waiting on the database.
//! - Requests that need the database (a key not cached yet, every admin request) wait
//!   for a connection up to the pool's 5 s acquire timeout: through the 2 s crash they
//!   are only delayed, through the 6 s fast stop they answer `503` problem+json,
//!   `API_KEY_UNAVAILABLE` or `SERVICE_UNAVAILABLE`; never anything else and never a
//!   hang: no request waits past ten times that timeout.
//! - A `503` only for a request that was in flight while PostgreSQL was down; nothing
//!   panics, the server keeps serving, and once PostgreSQL accepts connections again
//!   the pool reconnects by itself: a new tenant, a new key and a request with it work
//!   within 10 s.
//! - The audit trail has no hole: every answered request (each `503` included) has
//!   exactly one `request` and one `response` record, found by its `X-Request-Id`,
//!   with the status the client got.
//!
//! The test creates a PostgreSQL cluster of its own (`initdb` in a temporary
//! directory, a free port of 127.0.0.1) and stops only that one; the shared server of
//! `DATABASE_URL` is never touched. It needs the PostgreSQL server binaries (and, as
//! root, the `postgres` user to run them as), so it is
//! `#[ignore = "needs the PostgreSQL server binaries …"]`: run it with
//! `-- --include-ignored` (CI does, as root); without the binaries it fails saying so.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use support::postgres::Cluster;
use support::{ADMIN_TOKEN, Server};

/// The pool's acquire timeout (`CONNECT_TIMEOUT` in `src/db.rs`): while PostgreSQL is
/// down, the longest a request waits for a connection before its `503`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Ten times the longest configured wait: no request may take longer, even on a
/// loaded machine.
const LATENCY_BOUND: Duration = Duration::from_secs(ACQUIRE_TIMEOUT.as_secs() * 10);
/// `ApiKeyLayer::strict`'s positive TTL: a key loaded at `t` is answered from the
/// cache until `t + 10 s`, whatever the store does.
const POSITIVE_TTL: Duration = Duration::from_secs(10);
/// The part of the TTL in which a cached key must answer `2xx`: the server checks the
/// entry a little after the client sent the request.
const CACHED_WINDOW: Duration = Duration::from_secs(POSITIVE_TTL.as_secs() - 2);
/// Ten times the pool's longest connect backoff (a fifth of the acquire timeout):
/// admin actions and new keys work again within this of PostgreSQL accepting
/// connections.
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
/// Ten times the key-invalidation subscriber's longest reconnect backoff (5 s).
const RESUBSCRIBE_BOUND: Duration = Duration::from_secs(50);
/// What the server logs when its invalidation subscription is made again after a
/// failure (and it clears its key cache).
const RESUBSCRIBED: &str = "key invalidations may have been missed";
/// Clients looping over `/v1`, one warm key each.
const CLIENTS: usize = 4;
/// Clients of the same address trying a key the cache has not seen while PostgreSQL
/// is down: as many as the brute-force budget of an address (5 failures a minute),
/// which a request holds while it is in flight.
const COLD_CLIENTS: usize = 5;
/// The customer's address: the `/v1` clients.
const CUSTOMER: [u8; 4] = [127, 0, 0, 1];
/// The operator's address: the admin and recovery requests.
const OPERATOR: [u8; 4] = [127, 0, 0, 2];
/// No client sends more than this many requests, whatever happens.
const MAX_REQUESTS_PER_CLIENT: usize = 20_000;

/// Plans no test traffic reaches the limits of: the test is about the database.
const PLANS: &str = r#"
default = "free"
[[plans]]
name = "free"
quotas = [{ name = "minute", limit = 1000000, window = "1m" }]
[[plans]]
name = "starter"
quotas = [{ name = "minute", limit = 1000000, window = "1m" }]
[[plans]]
name = "pro"
quotas = [{ name = "minute", limit = 1000000, window = "1m" }]
[[plans]]
name = "enterprise"
quotas = [{ name = "minute", limit = 1000000, window = "1m" }]
"#;

/// How PostgreSQL goes away and comes back.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `pg_ctl stop -m immediate` (every process quits at once, as in a crash), wait,
    /// `pg_ctl start`.
    Crash,
    /// `pg_ctl stop -m fast` (sessions are terminated first), wait, `pg_ctl start`.
    FastStop,
    /// `pg_ctl restart -m fast`: down only while it restarts.
    FastRestart,
}

impl Fault {
    /// How long PostgreSQL stays down between `stop` and `start`: a crash shorter
    /// than the acquire timeout (requests that need the database wait for it to come
    /// back), a fast stop longer (they answer 503).
    fn outage(self) -> Duration {
        match self {
            Self::Crash => Duration::from_secs(2),
            Self::FastStop => Duration::from_secs(6),
            Self::FastRestart => Duration::ZERO,
        }
    }
}

/// What a request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Creating tenants and keys, and warming keys, while PostgreSQL is up.
    Setup,
    /// `/v1` with a key warmed in the cache before cycle `n`'s fault.
    Cached(usize),
    /// `/v1` with a key used for the first time during cycle `n`'s fault.
    Cold(usize),
    /// The admin client's requests.
    Admin,
    /// After a fault: a new tenant, a new key and a request with it.
    Recovery,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Cached(_) => "cached key",
            Self::Cold(_) => "uncached key",
            Self::Admin => "admin",
            Self::Recovery => "recovery",
        }
    }
}

/// One request and what came back.
#[derive(Clone, Debug)]
struct Answer {
    kind: Kind,
    /// When it was sent, from the start of the test.
    at: Duration,
    method: Method,
    path: String,
    started: Instant,
    elapsed: Duration,
    /// `None`: no answer within [`LATENCY_BOUND`], or the connection failed.
    status: Option<StatusCode>,
    error: Option<String>,
    content_type: String,
    request_id: Option<String>,
    body: Value,
}

impl Answer {
    fn code(&self) -> Option<&str> {
        self.body["code"].as_str()
    }

    fn ended(&self) -> Instant {
        self.started + self.elapsed
    }
}

/// An HTTP client of the server that keeps every answer.
#[derive(Clone)]
struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    epoch: Instant,
    answers: Arc<Mutex<Vec<Answer>>>,
}

/// A client connecting from `address` (any of 127.0.0.0/8 is loopback).
fn client_from(address: [u8; 4]) -> Client<HttpConnector, Full<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(address.into()));
    Client::builder(TokioExecutor::new()).build(connector)
}

impl Http {
    fn new(server: &Server) -> Self {
        Self {
            client: client_from(OPERATOR),
            base: server.url(""),
            epoch: Instant::now(),
            answers: Arc::default(),
        }
    }

    /// The same answers, another connection pool from `address` (one per client
    /// task).
    fn from(&self, address: [u8; 4]) -> Self {
        Self {
            client: client_from(address),
            ..self.clone()
        }
    }

    async fn send(
        &self,
        kind: Kind,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base));
        request = match key {
            Some(key) => request.header("x-api-key", key),
            None => request.header("authorization", format!("Bearer {ADMIN_TOKEN}")),
        };
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Full::new(Bytes::from(body.to_string()))
            }
            None => Full::default(),
        };
        let request = request.body(body).expect("a valid request");
        let started = Instant::now();
        let result = tokio::time::timeout(LATENCY_BOUND, async {
            let response = self.client.request(request).await?;
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((parts, bytes))
        })
        .await;
        let elapsed = started.elapsed();
        let mut answer = Answer {
            kind,
            at: started - self.epoch,
            method,
            path: path.to_owned(),
            started,
            elapsed,
            status: None,
            error: None,
            content_type: String::new(),
            request_id: None,
            body: Value::Null,
        };
        match result {
            Ok(Ok((parts, bytes))) => {
                let header = |name: &str| {
                    parts
                        .headers
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned)
                };
                answer.status = Some(parts.status);
                answer.content_type = header("content-type").unwrap_or_default();
                answer.request_id = header("x-request-id");
                answer.body = support::json(&bytes);
            }
            Ok(Err(error)) => answer.error = Some(error.to_string()),
            Err(_) => answer.error = Some(format!("no answer within {LATENCY_BOUND:?}")),
        }
        self.answers
            .lock()
            .expect("not poisoned")
            .push(answer.clone());
        answer
    }

    fn answers(&self) -> Vec<Answer> {
        self.answers.lock().expect("not poisoned").clone()
    }

    /// A new tenant (`None` unless `201`).
    async fn create_tenant(&self, kind: Kind, name: &str) -> Option<String> {
        let answer = self
            .send(
                kind,
                Method::POST,
                "/admin/tenants",
                None,
                Some(json!({ "name": name, "email": "ops@example.com" })),
            )
            .await;
        (answer.status == Some(StatusCode::CREATED))
            .then(|| answer.body["id"].as_str().map(str::to_owned))
            .flatten()
    }

    /// A new key's plaintext (`None` unless `201`).
    async fn create_key(&self, kind: Kind, tenant: &str) -> Option<String> {
        let answer = self
            .send(
                kind,
                Method::POST,
                &format!("/admin/tenants/{tenant}/keys"),
                None,
                Some(json!({ "name": "restart test" })),
            )
            .await;
        (answer.status == Some(StatusCode::CREATED))
            .then(|| answer.body["key"].as_str().map(str::to_owned))
            .flatten()
    }
}

/// One fault, as it happened.
#[derive(Debug)]
struct Cycle {
    fault: Fault,
    /// Before the first warming request of this cycle's keys.
    warmed: Instant,
    /// `pg_ctl stop` (or `restart`) called.
    down: Instant,
    /// `pg_ctl stop` returned (for a restart: `restart` called).
    stopped: Instant,
    /// `pg_ctl start` (or `restart`) returned: PostgreSQL accepts connections.
    up: Instant,
    /// A new tenant, key and request with it all worked, this long after `up`.
    recovered: Duration,
    /// The invalidation subscription was made again at most this long after `up`
    /// (when the server log said so).
    resubscribed: Duration,
}

impl Cycle {
    /// Whether `answer` was under way at some point while PostgreSQL was down.
    fn overlaps(&self, answer: &Answer) -> bool {
        answer.started < self.up && answer.ended() > self.down
    }
}

/// Runs `f` on a blocking thread (the `pg_ctl` calls) and waits for it.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("the blocking call completes")
}

/// How many times the server has logged that its subscription was made again.
fn resubscriptions(server: &Server) -> usize {
    server
        .stderr()
        .iter()
        .filter(|line| line.contains(RESUBSCRIBED))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the PostgreSQL server binaries (initdb, pg_ctl; run as root they run as user postgres): starts its own cluster on a free port"]
async fn cached_keys_answer_through_postgres_restarts_and_the_audit_trail_has_no_hole() {
    let cluster = Arc::new(blocking(Cluster::start).await);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plans = dir.path().join("plans.toml");
    std::fs::write(&plans, PLANS).expect("the plans file is written");
    let plans = plans.display().to_string();
    let mut server = Server::start_with(
        Server::options()
            .database_url(&cluster.url())
            .dir(dir.path())
            .args(&["--plans", &plans])
            .capture_stderr(),
    );
    let http = Http::new(&server);

    // Every key is created now, while PostgreSQL is up, and first used in its cycle:
    // per cycle one warm key per client and the keys first used during the fault.
    let faults = [Fault::Crash, Fault::FastStop, Fault::FastRestart];
    let tenant = http
        .create_tenant(Kind::Setup, "Restarts")
        .await
        .expect("a tenant");
    let mut warm_keys: Vec<Vec<String>> = Vec::new();
    let mut cold_keys: Vec<Vec<String>> = Vec::new();
    for _ in faults {
        let mut keys = Vec::new();
        for _ in 0..CLIENTS {
            keys.push(http.create_key(Kind::Setup, &tenant).await.expect("a key"));
        }
        warm_keys.push(keys);
        let mut keys = Vec::new();
        for _ in 0..COLD_CLIENTS {
            keys.push(http.create_key(Kind::Setup, &tenant).await.expect("a key"));
        }
        cold_keys.push(keys);
    }
    let all_keys: Vec<String> = warm_keys
        .iter()
        .chain(&cold_keys)
        .flatten()
        .cloned()
        .collect();
    let customer = http.from(CUSTOMER);

    // Steady, bounded traffic: each customer client uses its key of the current
    // cycle, from warming until PostgreSQL comes back; the admin client creates
    // tenants and reads the first, all test long. The customer clients then pause
    // until the next cycle's keys are warm: once PostgreSQL is back, the invalidation
    // subscription is made again and clears the key cache, and the clients' keys,
    // uncached, would meet the brute-force limiter with the uncached-key clients'
    // five requests still in flight from the same address: more than five such
    // requests in flight are refused with 429 (documented in `src/app.rs`).
    let running = Arc::new(AtomicBool::new(true));
    // 0: pause; n: use the keys of cycle n - 1.
    let cycle_now = Arc::new(AtomicUsize::new(0));
    let mut traffic = Vec::new();
    for client in 0..CLIENTS {
        let (http, running, cycle_now) =
            (customer.from(CUSTOMER), running.clone(), cycle_now.clone());
        let keys: Vec<String> = warm_keys.iter().map(|keys| keys[client].clone()).collect();
        traffic.push(tokio::spawn(async move {
            let mut sent = 0;
            while running.load(Ordering::Relaxed) && sent < MAX_REQUESTS_PER_CLIENT {
                let Some(cycle) = cycle_now.load(Ordering::Relaxed).checked_sub(1) else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let path = if sent % 2 == 0 {
                    "/v1/quote"
                } else {
                    "/v1/whoami"
                };
                http.send(
                    Kind::Cached(cycle),
                    Method::GET,
                    path,
                    Some(&keys[cycle]),
                    None,
                )
                .await;
                sent += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    traffic.push(tokio::spawn({
        let (http, running, tenant) = (http.from(OPERATOR), running.clone(), tenant.clone());
        async move {
            for sent in 0..MAX_REQUESTS_PER_CLIENT {
                if !running.load(Ordering::Relaxed) {
                    break;
                }
                if sent % 2 == 0 {
                    let body = json!({ "name": format!("Admin {sent}"), "email": "a@example.com" });
                    http.send(
                        Kind::Admin,
                        Method::POST,
                        "/admin/tenants",
                        None,
                        Some(body),
                    )
                    .await;
                } else {
                    let path = format!("/admin/tenants/{tenant}");
                    http.send(Kind::Admin, Method::GET, &path, None, None).await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }));

    let mut cycles: Vec<Cycle> = Vec::new();
    for (index, fault) in faults.into_iter().enumerate() {
        // Warm this cycle's keys (a first use loads them into the cache), then let
        // the clients use them.
        let warmed = Instant::now();
        for key in &warm_keys[index] {
            let answer = customer
                .send(Kind::Setup, Method::GET, "/v1/whoami", Some(key), None)
                .await;
            assert_eq!(answer.status, Some(StatusCode::OK), "warming: {answer:?}");
        }
        cycle_now.store(index + 1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(300)).await;

        let down = Instant::now();
        let (stopped, cold) = match fault {
            Fault::Crash | Fault::FastStop => {
                let mode = if matches!(fault, Fault::Crash) {
                    "immediate"
                } else {
                    "fast"
                };
                let stopping = cluster.clone();
                blocking(move || stopping.stop(mode)).await;
                let stopped = Instant::now();
                // Keys the cache has never seen need the store: each is tried every
                // 50 ms until it works, by clients of the customer's address.
                let cold: Vec<_> = cold_keys[index]
                    .iter()
                    .map(|key| {
                        let (http, key) = (customer.from(CUSTOMER), key.clone());
                        tokio::spawn(async move {
                            for _ in 0..1_000 {
                                let answer = http
                                    .send(
                                        Kind::Cold(index),
                                        Method::GET,
                                        "/v1/whoami",
                                        Some(&key),
                                        None,
                                    )
                                    .await;
                                if answer.status == Some(StatusCode::OK) {
                                    return true;
                                }
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            false
                        })
                    })
                    .collect();
                tokio::time::sleep(fault.outage()).await;
                // The customer clients pause before PostgreSQL is back (see above).
                cycle_now.store(0, Ordering::Relaxed);
                let starting = cluster.clone();
                blocking(move || starting.restart_stopped()).await;
                (stopped, cold)
            }
            Fault::FastRestart => {
                let restarting = cluster.clone();
                blocking(move || restarting.restart("fast")).await;
                (down, Vec::new())
            }
        };
        let up = Instant::now();
        cycle_now.store(0, Ordering::Relaxed);

        // The pool reconnects by itself: a new tenant, a new key, a request with it.
        let recovered = support::within(RECOVERY_BOUND, || async {
            let Some(tenant) = http.create_tenant(Kind::Recovery, "Recovered").await else {
                return false;
            };
            let Some(key) = http.create_key(Kind::Recovery, &tenant).await else {
                return false;
            };
            let answer = http
                .send(Kind::Recovery, Method::GET, "/v1/whoami", Some(&key), None)
                .await;
            answer.status == Some(StatusCode::OK)
        })
        .await
        .unwrap_or_else(|| {
            panic!("{fault:?}: no new tenant, key and request with it within {RECOVERY_BOUND:?} of PostgreSQL being back")
        });
        for cold in cold {
            assert!(
                cold.await.expect("an uncached-key client ends"),
                "{fault:?}: an uncached key never worked after PostgreSQL was back"
            );
        }
        // Before the next fault, the subscription is made again (which clears the key
        // cache): from then on, the next cycle's warm keys stay cached.
        let resubscribed = support::within(RESUBSCRIBE_BOUND, || async {
            resubscriptions(&server) > index
        })
        .await
        .map(|_| up.elapsed())
        .unwrap_or_else(|| {
            panic!("{fault:?}: the key-invalidation subscription was not made again within {RESUBSCRIBE_BOUND:?}")
        });
        cycles.push(Cycle {
            fault,
            warmed,
            down,
            stopped,
            up,
            recovered,
            resubscribed,
        });
    }

    running.store(false, Ordering::Relaxed);
    for task in traffic {
        task.await.expect("a client task ends without panicking");
    }
    let health = http
        .send(Kind::Setup, Method::GET, "/health", None, None)
        .await;
    assert_eq!(health.status, Some(StatusCode::OK), "{health:?}");
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "the server exited during the test"
    );
    // SIGTERM: the drain flushes the audit log.
    let status = tokio::task::block_in_place(|| server.stop());
    assert_eq!(status.code(), Some(0), "the server stops cleanly");
    let answers = http.answers();

    // The figures.
    for (index, cycle) in cycles.iter().enumerate() {
        let during: Vec<&Answer> = answers
            .iter()
            .filter(|answer| cycle.overlaps(answer))
            .collect();
        let mut statuses: BTreeMap<(&str, u16), usize> = BTreeMap::new();
        let mut latency: BTreeMap<&str, Duration> = BTreeMap::new();
        for answer in &during {
            let status = answer.status.map_or(0, |status| status.as_u16());
            *statuses.entry((answer.kind.label(), status)).or_default() += 1;
            let max = latency.entry(answer.kind.label()).or_default();
            *max = (*max).max(answer.elapsed);
        }
        println!(
            "cycle {index} {:?} at {:?}: stop took {:?}, down for {:?} (warm keys loaded {:?} before), \
             answers under way while down {statuses:?}, max latency {latency:?}, \
             recovered {:?} after PostgreSQL was back, resubscribed after {:?}",
            cycle.fault,
            cycle.down - http.epoch,
            cycle.stopped - cycle.down,
            cycle.up - cycle.down,
            cycle.down - cycle.warmed,
            cycle.recovered,
            cycle.resubscribed,
        );
    }
    let max = answers
        .iter()
        .max_by_key(|answer| answer.elapsed)
        .expect("answers");
    let mut totals: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    for answer in &answers {
        let status = answer.status.map_or(0, |status| status.as_u16());
        *totals.entry((answer.kind.label(), status)).or_default() += 1;
    }
    println!(
        "{} requests, statuses {totals:?}; max latency {:?} ({} {} {} at {:?}), bound \
         {LATENCY_BOUND:?}",
        answers.len(),
        max.elapsed,
        max.kind.label(),
        max.method,
        max.path,
        max.at,
    );

    // Every request was answered, within the bound.
    for answer in &answers {
        assert!(
            answer.status.is_some() && answer.elapsed <= LATENCY_BOUND,
            "a request was not answered within {LATENCY_BOUND:?}: {answer:?}"
        );
    }
    for (index, cycle) in cycles.iter().enumerate() {
        // Cached keys answered throughout, the whole outage long.
        let cached: Vec<&Answer> = answers
            .iter()
            .filter(|answer| {
                answer.kind == Kind::Cached(index) && answer.started < cycle.warmed + CACHED_WINDOW
            })
            .collect();
        for answer in &cached {
            assert!(
                answer.status.is_some_and(|status| status.is_success()),
                "{:?}: a cached key failed within its TTL: {answer:?}",
                cycle.fault
            );
        }
        if matches!(cycle.fault, Fault::Crash | Fault::FastStop) {
            let while_down = cached
                .iter()
                .filter(|answer| answer.started >= cycle.stopped && answer.ended() <= cycle.up)
                .count();
            assert!(
                while_down >= 10,
                "{:?}: only {while_down} cached-key requests while PostgreSQL was down",
                cycle.fault
            );
        }
        if matches!(cycle.fault, Fault::FastStop) {
            // Down longer than the acquire timeout: what needed the database failed.
            for kind in [Kind::Admin, Kind::Cold(index)] {
                assert!(
                    answers.iter().any(|answer| answer.kind == kind
                        && cycle.overlaps(answer)
                        && answer.status == Some(StatusCode::SERVICE_UNAVAILABLE)),
                    "{:?}: no 503 for {kind:?} while PostgreSQL was down",
                    cycle.fault
                );
            }
        }
    }

    // Success, or the documented 503 while the database was down; nothing else.
    for answer in &answers {
        let status = answer.status.expect("answered");
        if status.is_success() {
            continue;
        }
        let expected = if answer.path.starts_with("/v1/") {
            "API_KEY_UNAVAILABLE"
        } else {
            "SERVICE_UNAVAILABLE"
        };
        assert!(
            status == StatusCode::SERVICE_UNAVAILABLE
                && answer.content_type == "application/problem+json"
                && answer.code() == Some(expected),
            "neither a success nor a 503 {expected} problem: {answer:?}"
        );
        assert!(
            cycles.iter().any(|cycle| cycle.overlaps(answer)),
            "a 503 for a request that was not under way during an outage: {answer:?}"
        );
    }
    // Nothing panicked, and no key reached the log.
    let stderr = server.stderr().join("\n");
    assert!(
        !stderr.contains("panicked"),
        "the server panicked:\n{stderr}"
    );
    for key in &all_keys {
        assert!(!stderr.contains(key.as_str()), "a key in the server log");
    }

    // The audit trail: one request and one response record per audited answer,
    // with the status the client got; no record of a request that was not sent.
    let records: Vec<Value> = server
        .audit_records_with_rotated()
        .into_iter()
        .filter(|record| record["event"]["action"] != "checkpoint")
        .collect();
    let mut by_id: HashMap<&str, Vec<&Value>> = HashMap::new();
    for record in &records {
        let id = record["http"]["request"]["id"]
            .as_str()
            .expect("every record has a request id");
        by_id.entry(id).or_default().push(record);
    }
    // The customer API is recorded when refused or failed (every 503 among them),
    // the admin API always.
    let audited: Vec<&Answer> = answers
        .iter()
        .filter(|answer| answer.path != "/health")
        .filter(|answer| {
            !answer.path.starts_with("/v1/")
                || answer.status.is_none_or(|status| !status.is_success())
        })
        .collect();
    let mut missing = 0;
    for answer in &audited {
        let id = answer
            .request_id
            .as_deref()
            .unwrap_or_else(|| panic!("no X-Request-Id: {answer:?}"));
        let records = by_id.get(id).map(Vec::as_slice).unwrap_or_default();
        let phases: Vec<&str> = records
            .iter()
            .map(|record| record["event"]["action"].as_str().unwrap_or_default())
            .collect();
        if phases != ["request", "response"] {
            missing += 1;
            eprintln!("audit records {phases:?} for {answer:?}");
            continue;
        }
        let response = records[1];
        assert_eq!(
            response["http"]["response"]["status_code"],
            answer.status.expect("answered").as_u16(),
            "{answer:?}: {response}"
        );
        if let Some(code) = answer.code() {
            assert_eq!(
                response["portcullis"]["rejection"]["code"], code,
                "{answer:?}: {response}"
            );
        }
    }
    let unavailable = audited
        .iter()
        .filter(|answer| answer.status == Some(StatusCode::SERVICE_UNAVAILABLE))
        .count();
    println!(
        "audit log: {} records for {} answered requests ({unavailable} of them 503), \
         {missing} without exactly one request and one response record",
        records.len(),
        audited.len()
    );
    assert_eq!(missing, 0, "the audit trail has holes");
    assert_eq!(
        records.len(),
        2 * audited.len(),
        "records of requests the clients never got an answer for"
    );
}
