//! [`RateLimitLayer`]: the builder of the [`RateLimit`] service, and its presets.

use std::sync::Arc;

use portcullis_core::clock::Clock;
use tower_layer::Layer;

#[cfg(feature = "memory")]
use super::config::{RateLimitConfig, RateLimitPreset};
use super::failure::FailurePolicy;
#[cfg(feature = "memory")]
use super::fallback::Fallback;
use super::hooks::{CostFn, RefundOn, RefundPredicate};
use super::on_missing_key::OnMissingKey;
use super::service::RateLimit;
use super::shared::{Settings, Shared};
use crate::headers::HeaderMode;
use crate::key::{Key, KeyExtractor};
use crate::metrics::Metrics;
use crate::plan::Plan;
use crate::resolver::{PlanResolver, Plans};
use crate::store::Store;

#[cfg(feature = "memory")]
use crate::{algorithm::Algorithm, quota::Quota, store::memory::MemoryStore};

/// The store a layer uses unless told otherwise: the in-memory store with feature
/// `memory`, else a [`BoxStore`](crate::store::BoxStore).
#[cfg(feature = "memory")]
pub type DefaultStore = MemoryStore;

/// The store a layer uses unless told otherwise: the in-memory store with feature
/// `memory`, else a [`BoxStore`](crate::store::BoxStore).
#[cfg(not(feature = "memory"))]
pub type DefaultStore = crate::store::BoxStore;

/// Applies [`RateLimit`] to a service; the layer is also the builder.
///
/// Type parameters: the key extractor `K`, the plan resolver `P` and the store `St`,
/// by default [`Key`], [`Plans`] and the in-memory store. Clones share one state (the
/// counters, the store): layering the same layer onto many routes limits them
/// together.
#[derive(Debug)]
pub struct RateLimitLayer<K = Key, P = Plans, St = DefaultStore> {
    pub(crate) shared: Arc<Shared<K, P, St>>,
}

impl<K, P, St> Clone for RateLimitLayer<K, P, St> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

#[cfg(feature = "memory")]
impl Default for RateLimitLayer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "memory")]
impl RateLimitLayer {
    /// 100 requests per minute per client IP (trusting no proxy), in memory.
    pub fn new() -> Self {
        Self::preset(
            Key::client_ip(),
            Plans::new(single("default", 100)),
            OnMissingKey::Reject,
            None,
            FailurePolicy::FailOpen,
        )
    }

    /// For local development: 1,000 requests per minute per client IP; requests
    /// without a peer address pass.
    pub fn development() -> Self {
        Self::preset(
            Key::client_ip(),
            Plans::new(single("development", 1_000)),
            OnMissingKey::Allow,
            None,
            FailurePolicy::FailOpen,
        )
    }

    /// For production: 100 requests per minute per client IP, and a strict `login`
    /// plan (5 per minute and 30 per hour per IP) on `/login`, `/signin`,
    /// `/auth/*`, `/oauth/token`, `/password/*`. Behind a load balancer, set the key
    /// to [`Key::client_ip_behind`] your proxies.
    pub fn production() -> Self {
        let login = Arc::new(login_plan("login", 5, 30));
        let mut plans = Plans::new(single("default", 100));
        for route in [
            "/login",
            "/signin",
            "/auth/*",
            "/oauth/token",
            "/password/*",
        ] {
            plans = plans.route(route, login.clone());
        }
        Self::preset(
            Key::client_ip(),
            plans,
            OnMissingKey::Reject,
            None,
            FailurePolicy::FailOpen,
        )
    }

    /// For a multi-tenant API: keyed by the [`TenantId`](crate::request::TenantId) an
    /// authentication layer put into the request, with the free, starter and pro
    /// plans picked by its [`PlanName`](crate::request::PlanName) (free by default).
    /// Requests without a tenant are refused with 400.
    pub fn multi_tenant() -> Self {
        Self::preset(
            Key::tenant(),
            Plans::tiers(),
            OnMissingKey::Reject,
            None,
            FailurePolicy::FailOpen,
        )
    }

    /// Against password guessing on a login route: per client IP, 5 attempts per
    /// minute and 20 per hour; successful (2xx) attempts are refunded, so only
    /// failures count, once answered: an attempt in flight holds its unit (see
    /// [`refund_if`](Self::refund_if)).
    ///
    /// When the store fails (a shared store such as Redis is down), attempts are
    /// still limited, by a local [`Fallback`] with the same limits in each instance:
    /// failing open would let guessing run unlimited, failing closed would lock every
    /// user out of logging in. Set [`Fallback::instances`] to your instance count to
    /// keep the total where it was, or choose [`FailurePolicy::FailClosed`].
    ///
    /// ```
    /// use axum::{Router, body::Body, routing::post};
    /// use http::{Request, StatusCode};
    /// use portcullis_core::client_ip::PeerAddr;
    /// use portcullis_rate_limit::RateLimitLayer;
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// // A password check that accepts only "hunter2".
    /// let app = Router::new()
    ///     .route("/login", post(|body: String| async move {
    ///         if body == "hunter2" { StatusCode::OK } else { StatusCode::UNAUTHORIZED }
    ///     }))
    ///     .route_layer(RateLimitLayer::auth_bruteforce());
    /// let login = |password: &'static str| {
    ///     let mut request = Request::post("/login").body(Body::from(password)).unwrap();
    ///     request.extensions_mut().insert(PeerAddr("203.0.113.9:5000".parse().unwrap()));
    ///     app.clone().oneshot(request)
    /// };
    ///
    /// // Successful logins are refunded: they never use up the 5 attempts.
    /// for _ in 0..10 {
    ///     assert_eq!(login("hunter2").await.unwrap().status(), StatusCode::OK);
    /// }
    /// // Five failures do.
    /// for _ in 0..5 {
    ///     assert_eq!(login("guess").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    /// }
    /// assert_eq!(login("hunter2").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    /// # });
    /// ```
    pub fn auth_bruteforce() -> Self {
        Self::preset(
            Key::client_ip(),
            Plans::new(login_plan("auth", 5, 20)),
            OnMissingKey::Reject,
            Some(Arc::new(RefundOn::Success)),
            FailurePolicy::Fallback(Fallback::local()),
        )
    }

    /// The layer `config` describes: its preset, with the settings it gives; see
    /// [`RateLimitConfig`].
    pub fn from_config(config: RateLimitConfig) -> Self {
        let RateLimitConfig {
            preset,
            plans,
            headers,
            shadow,
            on_missing_key,
            on_store_error,
            degraded_header,
            refund,
        } = config;
        let mut layer = match preset {
            RateLimitPreset::Default => Self::new(),
            RateLimitPreset::Development => Self::development(),
            RateLimitPreset::Production => Self::production(),
            RateLimitPreset::MultiTenant => Self::multi_tenant(),
            RateLimitPreset::AuthBruteforce => Self::auth_bruteforce(),
        };
        let shared = layer.shared_mut();
        if let Some(plans) = plans {
            shared.plans = plans;
        }
        let settings = &mut shared.settings;
        if let Some(headers) = headers {
            settings.headers = headers;
        }
        if let Some(shadow) = shadow {
            settings.shadow = shadow;
        }
        if let Some(on_missing_key) = on_missing_key {
            settings.on_missing_key = on_missing_key;
        }
        if let Some(on_store_error) = on_store_error {
            settings.on_store_error = on_store_error;
        }
        if let Some(degraded_header) = degraded_header {
            settings.degraded_header = degraded_header;
        }
        if let Some(refund) = refund {
            settings.refund_if = Some(Arc::new(refund));
        }
        layer
    }

    fn preset(
        key: Key,
        plans: Plans,
        on_missing_key: OnMissingKey,
        refund_if: Option<Arc<dyn RefundPredicate>>,
        on_store_error: FailurePolicy,
    ) -> Self {
        Self::from_parts(
            key,
            plans,
            MemoryStore::new(),
            Settings {
                on_missing_key,
                refund_if,
                on_store_error,
                ..Settings::default()
            },
        )
    }
}

#[cfg(feature = "memory")]
fn single(name: &'static str, per_minute: u64) -> Plan {
    Plan::from_valid(name.into(), vec![Quota::per_minute("minute", per_minute)])
}

#[cfg(feature = "memory")]
fn login_plan(name: &'static str, per_minute: u64, per_hour: u64) -> Plan {
    Plan::from_valid(
        name.into(),
        vec![
            Quota::per_minute("minute", per_minute),
            Quota::per_hour("hour", per_hour).with_algorithm(Algorithm::sliding_window()),
        ],
    )
}

impl<K, P, St> RateLimitLayer<K, P, St> {
    fn from_parts(key: K, plans: P, store: St, settings: Settings) -> Self {
        Self {
            shared: Arc::new(Shared {
                key,
                plans,
                store,
                settings,
            }),
        }
    }

    /// The counters of this layer's decisions, shared by every clone.
    ///
    /// ```
    /// let layer = portcullis_rate_limit::RateLimitLayer::new();
    /// assert_eq!(layer.metrics().snapshot().allowed, 0);
    /// ```
    pub fn metrics(&self) -> &Metrics {
        &self.shared.settings.metrics
    }

    /// The store.
    ///
    /// ```
    /// let layer = portcullis_rate_limit::RateLimitLayer::new();
    /// assert!(layer.store_ref().is_empty());
    /// ```
    pub fn store_ref(&self) -> &St {
        &self.shared.store
    }
}

impl<St: Store> RateLimitLayer<Key, Plans, St> {
    /// 100 requests per minute per client IP, in `store`.
    pub fn with_store(store: St) -> Self {
        Self::from_parts(
            Key::client_ip(),
            Plans::new(Plan::from_valid(
                "default".into(),
                vec![crate::quota::Quota::per_minute("minute", 100)],
            )),
            store,
            Settings::default(),
        )
    }
}

/// Changing a layer's configuration: copy on write of the shared state. A layer whose
/// state no clone shares changes it in place; otherwise it changes a copy, and the
/// clones keep what they had.
impl<K: Clone, P: Clone, St: Clone> RateLimitLayer<K, P, St> {
    /// The state, to change a part of it ([`Arc::make_mut`]).
    fn shared_mut(&mut self) -> &mut Shared<K, P, St> {
        Arc::make_mut(&mut self.shared)
    }

    /// The state, to rebuild the layer with a part of another type
    /// ([`Arc::unwrap_or_clone`]).
    fn into_shared(self) -> Shared<K, P, St> {
        Arc::unwrap_or_clone(self.shared)
    }

    fn with_settings(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(&mut self.shared_mut().settings);
        self
    }

    /// Keys requests with `key`: see [`crate::key`].
    #[must_use]
    pub fn key<K2: KeyExtractor>(self, key: K2) -> RateLimitLayer<K2, P, St> {
        let shared = self.into_shared();
        RateLimitLayer::from_parts(key, shared.plans, shared.store, shared.settings)
    }

    /// Picks plans with `plans`: see [`crate::resolver`].
    #[must_use]
    pub fn plans<P2: PlanResolver>(self, plans: P2) -> RateLimitLayer<K, P2, St> {
        let shared = self.into_shared();
        RateLimitLayer::from_parts(shared.key, plans, shared.store, shared.settings)
    }

    /// Keeps state in `store`.
    #[must_use]
    pub fn store<St2: Store>(self, store: St2) -> RateLimitLayer<K, P, St2> {
        let shared = self.into_shared();
        RateLimitLayer::from_parts(shared.key, shared.plans, store, shared.settings)
    }

    /// Reads time from `clock` (a [`ManualClock`](portcullis_core::clock::ManualClock)
    /// in tests).
    #[must_use]
    pub fn clock(self, clock: impl Clock) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        self.with_settings(|settings| settings.clock = clock)
    }

    /// Which rate-limit headers to send (both sets by default); see
    /// [`crate::headers`].
    #[must_use]
    pub fn headers(self, mode: HeaderMode) -> Self {
        self.with_settings(|settings| settings.headers = mode)
    }

    /// Shadow (dry-run) mode: decide, send headers, record and count, but never
    /// refuse. For trying limits out in production.
    ///
    /// ```
    /// use axum::{Router, body::Body, routing::get};
    /// use http::{Request, StatusCode};
    /// use portcullis_rate_limit::{RateLimitLayer, request::TenantId};
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// // Free tenants get 10 requests per minute; in shadow mode the 11th passes too.
    /// let layer = RateLimitLayer::multi_tenant().shadow(true);
    /// let app = Router::new().route("/", get(|| async { "hi" })).layer(layer.clone());
    /// for _ in 0..11 {
    ///     let mut request = Request::get("/").body(Body::empty()).unwrap();
    ///     request.extensions_mut().insert(TenantId::new("acme"));
    ///     let response = app.clone().oneshot(request).await.unwrap();
    ///     assert_eq!(response.status(), StatusCode::OK);
    /// }
    /// // The would-be denial is still counted.
    /// assert_eq!(layer.metrics().snapshot().allowed, 10);
    /// # });
    /// ```
    #[must_use]
    pub fn shadow(self, shadow: bool) -> Self {
        self.with_settings(|settings| settings.shadow = shadow)
    }

    /// What to do when a request's key cannot be extracted (refuse with 400 by
    /// default).
    #[must_use]
    pub fn on_missing_key(self, policy: OnMissingKey) -> Self {
        self.with_settings(|settings| settings.on_missing_key = policy)
    }

    /// What to do when the store cannot answer: fail open (the default), fail closed,
    /// or decide with a local [`Fallback`]; see [`FailurePolicy`]. Fail-open is the
    /// default because a limiter protects an API, and an outage of its store should
    /// not take the API down with it.
    ///
    /// Pair a remote store with [`Resilient`](crate::store::resilient) so that a dead
    /// store costs at most a timeout, and usually nothing.
    #[must_use]
    pub fn on_store_error(self, policy: impl Into<FailurePolicy>) -> Self {
        let policy = policy.into();
        self.with_settings(|settings| settings.on_store_error = policy)
    }

    /// Adds `x-ratelimit-degraded` to the responses of requests limited while the
    /// store could not answer (off by default), with the
    /// [`Degraded`](crate::decision::Degraded) mode as value: `fail-open`,
    /// `fail-closed` or `fallback`. Whatever the header mode: it tells clients and
    /// dashboards that the limits they see are not the usual ones.
    #[must_use]
    pub fn degraded_header(self, enabled: bool) -> Self {
        self.with_settings(|settings| settings.degraded_header = enabled)
    }

    /// Gives the cost back after the response when `refund_if` says so for its status:
    /// a [`RefundOn`], or a closure `Fn(StatusCode) -> bool` (see
    /// [`RefundPredicate`]).
    ///
    /// The cost is taken when the request arrives, so a request holds it while in
    /// flight: at most `limit` requests of one key are under way at once, however they
    /// will be answered. [`auth_bruteforce`](Self::auth_bruteforce) refuses a sixth
    /// login in flight from one address even if all five before it succeed. A request
    /// that cannot be a guess (a credential already verified) is better exempted, by a
    /// [plan resolver](crate::resolver::PlanResolver) that gives it no plan.
    ///
    /// ```
    /// use http::{Request, Response, StatusCode};
    /// use portcullis_core::client_ip::PeerAddr;
    /// use portcullis_rate_limit::RateLimitLayer;
    /// use tower::{Layer, Service, ServiceExt, service_fn};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// // A login that is still working on its answer.
    /// let slow = service_fn(|_: Request<()>| {
    ///     std::future::pending::<Result<Response<()>, std::convert::Infallible>>()
    /// });
    /// let mut login = RateLimitLayer::auth_bruteforce().layer(slow);
    /// let attempt = || {
    ///     let mut request = Request::post("/login").body(()).unwrap();
    ///     request.extensions_mut().insert(PeerAddr("203.0.113.9:5000".parse().unwrap()));
    ///     request
    /// };
    /// let mut in_flight = Vec::new();
    /// for _ in 0..5 {
    ///     in_flight.push(login.ready().await.unwrap().call(attempt()));
    /// }
    /// let sixth = login.ready().await.unwrap().call(attempt()).await.unwrap();
    /// assert_eq!(sixth.status(), StatusCode::TOO_MANY_REQUESTS);
    /// # });
    /// ```
    #[must_use]
    pub fn refund_if(self, refund_if: impl RefundPredicate) -> Self {
        let refund_if: Arc<dyn RefundPredicate> = Arc::new(refund_if);
        self.with_settings(|settings| settings.refund_if = Some(refund_if))
    }

    /// Does not count requests answered with a 5xx ([`RefundOn::ServerErrors`]).
    #[must_use]
    pub fn refund_server_errors(self) -> Self {
        self.refund_if(RefundOn::ServerErrors)
    }

    /// Computes a request's cost (1 by default) with `cost`: a closure
    /// `Fn(&RequestHead<'_>) -> u64`, which may capture its configuration (see
    /// [`CostFn`]). A [`RequestCost`](crate::request::RequestCost) in the request
    /// extensions wins.
    ///
    /// ```
    /// use axum::{Router, body::Body, routing::post};
    /// use http::Request;
    /// use portcullis_core::client_ip::PeerAddr;
    /// use portcullis_rate_limit::{RateLimitLayer, request::RequestHead};
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// // Batch calls cost 10 of the 100 requests a minute.
    /// let layer = RateLimitLayer::new()
    ///     .cost(|head: &RequestHead<'_>| if head.uri().path().starts_with("/batch") { 10 } else { 1 });
    /// let app = Router::new().route("/batch", post(|| async { "done" })).layer(layer);
    /// let mut request = Request::post("/batch").body(Body::empty()).unwrap();
    /// request.extensions_mut().insert(PeerAddr("203.0.113.9:5000".parse().unwrap()));
    /// let response = app.oneshot(request).await.unwrap();
    /// assert_eq!(response.headers()["x-ratelimit-remaining"], "90");
    /// # });
    /// ```
    #[must_use]
    pub fn cost(self, cost: impl CostFn) -> Self {
        let cost: Arc<dyn CostFn> = Arc::new(cost);
        self.with_settings(|settings| settings.cost = Some(cost))
    }

    /// Keys fingerprints with this secret instead of the public default, so nobody
    /// can precompute them. Every process sharing a store needs the same secret.
    #[must_use]
    pub fn key_secret(self, secret: [u8; 16]) -> Self {
        self.with_settings(|settings| settings.secret = secret)
    }
}

impl<K: Clone, St: Clone> RateLimitLayer<K, Plans, St> {
    /// Limits by this one plan (sets the [`Plans`] default).
    #[must_use]
    pub fn plan(mut self, plan: impl Into<Arc<Plan>>) -> Self {
        let shared = self.shared_mut();
        shared.plans = std::mem::take(&mut shared.plans).default_plan(plan);
        self
    }
}

impl<S, K, P, St> Layer<S> for RateLimitLayer<K, P, St> {
    type Service = RateLimit<S, K, P, St>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::from_shared(inner, self.shared.clone())
    }
}
