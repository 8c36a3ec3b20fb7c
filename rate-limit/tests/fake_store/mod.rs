//! A remote-store stand-in and the request helpers shared by `resilience.rs` and
//! `transition_warnings.rs`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::{pending, ready};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use portcullis_core::body::ResponseBody;
use portcullis_core::client_ip::PeerAddr;
use portcullis_core::clock::ManualClock;
use portcullis_rate_limit::decision::Degraded;
use portcullis_rate_limit::key::{Fingerprint, Key};
use portcullis_rate_limit::outcome::Outcome;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::rate_limit::RateLimitLayer;
use portcullis_rate_limit::resolver::Plans;
use portcullis_rate_limit::store::memory::MemoryStore;
use portcullis_rate_limit::store::resilient::Resilient;
use portcullis_rate_limit::store::{BoxFuture, Store, StoreError};
use tower::{ServiceExt, service_fn};

/// 2023-11-15T00:00:00Z: a UTC day boundary.
pub(crate) const DAY_START: Duration = Duration::from_secs(1_700_006_400);
pub(crate) const MS: Duration = Duration::from_millis(1);
pub(crate) const SECOND: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Answers from memory (after a poll, as a remote store would).
    #[default]
    Healthy,
    /// Answers every call with a connection error.
    Failing,
    /// Never answers.
    Hanging,
}

/// A remote store stand-in: no `check_immediately`, switchable, counting its calls.
#[derive(Clone, Debug, Default)]
pub(crate) struct FakeStore {
    state: Arc<FakeState>,
}

#[derive(Debug, Default)]
pub(crate) struct FakeState {
    mode: Mutex<Mode>,
    hang_refunds: AtomicBool,
    checks: AtomicU64,
    refunds: AtomicU64,
    memory: MemoryStore,
}

impl FakeStore {
    pub(crate) fn new(mode: Mode) -> Self {
        let store = Self::default();
        store.set(mode);
        store
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// Makes every refund hang, whatever the mode.
    pub(crate) fn hang_refunds(&self) {
        self.state.hang_refunds.store(true, Ordering::SeqCst);
    }

    fn mode(&self) -> Mode {
        *self.state.mode.lock().unwrap()
    }

    pub(crate) fn checks(&self) -> u64 {
        self.state.checks.load(Ordering::SeqCst)
    }

    pub(crate) fn refunds(&self) -> u64 {
        self.state.refunds.load(Ordering::SeqCst)
    }
}

pub(crate) fn connection_refused() -> StoreError {
    StoreError::backend(io::Error::other("connection refused"))
}

impl Store for FakeStore {
    type CheckFuture = BoxFuture<'static, Result<Outcome, StoreError>>;
    type RefundFuture = BoxFuture<'static, Result<(), StoreError>>;

    fn check(&self, key: Fingerprint, plan: &Arc<Plan>, cost: u64, now: u64) -> Self::CheckFuture {
        self.state.checks.fetch_add(1, Ordering::SeqCst);
        match self.mode() {
            Mode::Healthy => {
                let memory = self.state.memory.clone();
                let plan = plan.clone();
                Box::pin(async move {
                    tokio::task::yield_now().await;
                    Ok(memory.check_now(key, &plan, cost, now))
                })
            }
            Mode::Failing => Box::pin(ready(Err(connection_refused()))),
            Mode::Hanging => Box::pin(pending()),
        }
    }

    fn refund(&self, key: Fingerprint, plan: &Arc<Plan>, cost: u64, at: u64) -> Self::RefundFuture {
        self.state.refunds.fetch_add(1, Ordering::SeqCst);
        if self.state.hang_refunds.load(Ordering::SeqCst) {
            return Box::pin(pending());
        }
        match self.mode() {
            Mode::Healthy => {
                self.state.memory.refund_now(key, plan, cost, at);
                Box::pin(ready(Ok(())))
            }
            Mode::Failing => Box::pin(ready(Err(connection_refused()))),
            Mode::Hanging => Box::pin(pending()),
        }
    }
}

pub(crate) fn clock() -> ManualClock {
    ManualClock::at_unix(DAY_START)
}

pub(crate) fn per_minute(limit: u64) -> Plan {
    Plan::new("api", [Quota::per_minute("minute", limit)]).unwrap()
}

pub(crate) fn from(peer: &str) -> Request<Body> {
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(PeerAddr(peer.parse().unwrap()));
    request
}

pub(crate) fn client() -> Request<Body> {
    from("203.0.113.9:5000")
}

pub(crate) fn failing_call() -> Request<Body> {
    let mut request = client();
    *request.uri_mut() = "/fail".parse().unwrap();
    request
}

pub(crate) fn grpc() -> Request<Body> {
    let mut request = client();
    request
        .headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    request
}

/// Answers `500` on `/fail`, else `200` with the degraded mode the handler saw.
pub(crate) async fn handler(request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let seen = request
        .extensions()
        .get::<Degraded>()
        .map_or("healthy", Degraded::as_str);
    let mut response = Response::new(Body::from(seen));
    if request.uri().path() == "/fail" {
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    }
    Ok(response)
}

pub(crate) async fn send<St: Store>(
    layer: &RateLimitLayer<Key, Plans, St>,
    request: Request<Body>,
) -> Response<ResponseBody<Body>> {
    tower::Layer::layer(layer, service_fn(handler))
        .oneshot(request)
        .await
        .unwrap()
}

pub(crate) async fn text<B: http_body::Body>(response: Response<B>) -> String
where
    B::Error: std::fmt::Debug,
{
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A layer failing open over `store` guarded by a `Resilient` with the defaults:
/// 50 ms timeout, open after 5 failures for 500 ms (then 1 s after each failed probe).
pub(crate) fn guarded(
    store: &FakeStore,
) -> (
    Resilient<FakeStore>,
    RateLimitLayer<Key, Plans, Resilient<FakeStore>>,
) {
    let resilient = Resilient::new(store.clone());
    let layer = RateLimitLayer::new()
        .plan(per_minute(1_000))
        .clock(clock())
        .store(resilient.clone())
        .degraded_header(true);
    (resilient, layer)
}
