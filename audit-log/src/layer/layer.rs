use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http::HeaderName;
use portcullis_core::client_ip::{ClientIpResolver, TrustedProxies};
use portcullis_core::clock::{Clock, SystemClock};
use serde::Deserialize;
use tower_layer::Layer;

use super::Audit;
use crate::chain::CheckpointSigner;
use crate::context::Enricher;
use crate::delivery::{
    AuditHandle, ChainSettings, FailurePolicy, FailurePolicyFn, Pipeline, SinkOptions,
};
use crate::error::ConfigError;
use crate::level::{Level, LevelFn, OutcomeLevelFn};
use crate::redact::Redactor;
use crate::request_id::X_REQUEST_ID;
use crate::sink::{FileSink, Rotation, Sink, StdoutSink};

/// What the layer does when the inner service panics.
///
/// Either way a `panic` record is written first (with `error.type` `panic`; the panic
/// message is not recorded, since it may hold data the handler was processing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PanicPolicy {
    /// Re-raise the panic, so the server (or a `CatchPanic` layer outside) handles it
    /// as it would without the audit layer.
    #[default]
    Resume,
    /// Answer `500` with an `INTERNAL_ERROR` problem instead.
    Respond,
}

/// Everything but the sinks.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) level: Level,
    pub(crate) level_fn: Option<LevelFn>,
    pub(crate) outcome_fn: Option<OutcomeLevelFn>,
    pub(crate) policy_fn: Option<FailurePolicyFn>,
    pub(crate) redactor: Arc<Redactor>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) resolver: ClientIpResolver,
    pub(crate) body_limit: usize,
    pub(crate) raw_bodies: bool,
    pub(crate) request_id_header: HeaderName,
    pub(crate) echo_request_id: bool,
    pub(crate) enrichers: Vec<Enricher>,
    pub(crate) panic: PanicPolicy,
    pub(crate) chain: Option<ChainSettings>,
    pub(crate) sink_options: SinkOptions,
    pub(crate) report_interval: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("level", &self.level)
            .field("redactor", &self.redactor)
            .field("body_limit", &self.body_limit)
            .field("sink_options", &self.sink_options)
            .field("chain", &self.chain.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            level: Level::Metadata,
            level_fn: None,
            outcome_fn: None,
            policy_fn: None,
            redactor: Arc::new(Redactor::random()),
            clock: Arc::new(SystemClock),
            resolver: ClientIpResolver::default(),
            body_limit: 16 * 1024,
            raw_bodies: false,
            request_id_header: X_REQUEST_ID,
            echo_request_id: true,
            enrichers: Vec::new(),
            panic: PanicPolicy::default(),
            chain: None,
            sink_options: SinkOptions::fail_open(),
            report_interval: Duration::from_secs(10),
        }
    }
}

impl Config {
    #[inline]
    pub(crate) fn level_of(&self, method: &http::Method, uri: &http::Uri) -> Level {
        match self.level_fn {
            Some(rule) => rule(method, uri),
            None => self.level,
        }
    }

    /// The request's own failure policy, if a rule gives one.
    #[inline]
    pub(crate) fn policy_of(
        &self,
        method: &http::Method,
        uri: &http::Uri,
    ) -> Option<FailurePolicy> {
        self.policy_fn.map(|rule| rule(method, uri))
    }
}

type PendingSinks = Vec<(Box<dyn Sink>, Option<SinkOptions>)>;

/// The state every clone of a layer and its services share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    sinks: Mutex<PendingSinks>,
    pipeline: OnceLock<Arc<Pipeline>>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("started", &self.pipeline.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn take_sinks(&self) -> PendingSinks {
        std::mem::take(
            &mut *self
                .sinks
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }

    pub(crate) fn pipeline(&self) -> &Arc<Pipeline> {
        self.pipeline.get_or_init(|| {
            let sinks = self
                .take_sinks()
                .into_iter()
                .map(|(sink, options)| {
                    let follows_request = options.is_none();
                    (
                        sink,
                        options.unwrap_or_else(|| self.config.sink_options.clone()),
                        follows_request,
                    )
                })
                .collect();
            Arc::new(Pipeline::start(
                sinks,
                self.config.chain.clone(),
                self.config.clock.clone(),
                self.config.report_interval,
            ))
        })
    }
}

/// Applies [`Audit`] to a service; the layer is also the builder.
///
/// Configure it, then use it: the sinks' writer threads start the first time the
/// layer wraps a service (or [`handle`](Self::handle) is called), and every clone
/// shares them, their queues and their counters.
#[derive(Clone, Debug)]
pub struct AuditLayer {
    shared: Arc<Shared>,
}

impl Default for AuditLayer {
    fn default() -> Self {
        Self::new()
    }
}

/// The size at which the presets' files rotate.
const PRESET_MAX_BYTES: u64 = 100 * 1024 * 1024;

impl AuditLayer {
    /// [`Level::Metadata`], a random HMAC secret, fail-open, no chain (unlike the
    /// [`production`](Self::production) and [`compliance`](Self::compliance) presets),
    /// and no sink: add one with [`sink`](Self::sink).
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                config: Config::default(),
                sinks: Mutex::new(Vec::new()),
                pipeline: OnceLock::new(),
            }),
        }
    }

    /// For local development: [`Level::Metadata`], one human-readable line per record
    /// on standard output, fail-open.
    pub fn development() -> Self {
        Self::new()
            .level(Level::Metadata)
            .failure_policy(FailurePolicy::FailOpen)
            .sink(StdoutSink::human())
    }

    /// For production: [`Level::Metadata`], HMAC redaction, JSON lines in `path`
    /// rotated daily and at 100 MiB, a bounded queue of 65,536 records, fail-open with
    /// the overflow counted and reported, and the SHA-256 [hash chain](crate::chain)
    /// with Ed25519-signed checkpoints every 1,000 records and every minute, so that
    /// `portcullis-audit verify` can prove the file set whole.
    ///
    /// Set the HMAC secret from your secret store with
    /// [`hmac_secret`](Self::hmac_secret): with the default random secret, hashes are
    /// searchable only within one process. Set the signing key too, with
    /// [`signing_key`](Self::signing_key): the default one is random, so each run's
    /// checkpoints verify against another public key
    /// ([`public_key_hex`](Self::public_key_hex)). [`hash_chain(false)`](Self::hash_chain)
    /// turns the chain off.
    ///
    /// ```
    /// use portcullis_audit_log::layer::AuditLayer;
    /// let dir = tempfile::tempdir().unwrap();
    /// let layer = AuditLayer::production(dir.path().join("audit.log"))?;
    /// assert_eq!(layer.public_key_hex().unwrap().len(), 64);
    /// let unchained = AuditLayer::production(dir.path().join("other.log"))?.hash_chain(false);
    /// assert_eq!(unchained.public_key_hex(), None);
    /// # Ok::<(), portcullis_audit_log::ConfigError>(())
    /// ```
    pub fn production(path: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let file = FileSink::open(path)?
            .max_bytes(PRESET_MAX_BYTES)
            .rotate(Rotation::Daily);
        Ok(Self::new()
            .level(Level::Metadata)
            .failure_policy(FailurePolicy::FailOpen)
            .queue_capacity(65_536)
            .hash_chain(true)
            .signing_key(CheckpointSigner::generate())
            .checkpoint_every(1_000, Duration::from_secs(60))
            .sink(file))
    }

    /// For regulated data: [`Level::Request`] (bodies up to 16 KiB), fail-closed
    /// (nothing runs unless its `request` record is on disk, `fsync`ed per batch,
    /// within 5 seconds), the SHA-256 hash chain with Ed25519-signed checkpoints every
    /// 1,000 records and every minute, JSON lines in `path` rotated daily and at 100
    /// MiB.
    ///
    /// The signing key is random unless set with [`signing_key`](Self::signing_key):
    /// keep its public key ([`public_key_hex`](Self::public_key_hex)) for
    /// `portcullis-audit verify --public-key`. Set the HMAC secret and the signing key
    /// as for [`production`](Self::production).
    ///
    /// ```
    /// use portcullis_audit_log::layer::AuditLayer;
    /// let dir = tempfile::tempdir().unwrap();
    /// let layer = AuditLayer::compliance(dir.path().join("audit.log"))?;
    /// assert_eq!(layer.public_key_hex().unwrap().len(), 64);
    /// # Ok::<(), portcullis_audit_log::ConfigError>(())
    /// ```
    pub fn compliance(path: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let file = FileSink::open(path)?
            .max_bytes(PRESET_MAX_BYTES)
            .rotate(Rotation::Daily);
        Ok(Self::new()
            .level(Level::Request)
            .failure_policy(FailurePolicy::FailClosed)
            .fsync_per_batch(true)
            .write_timeout(Duration::from_secs(5))
            .hash_chain(true)
            .signing_key(CheckpointSigner::generate())
            .checkpoint_every(1_000, Duration::from_secs(60))
            .sink(file))
    }

    /// Changes the configuration; a layer already shared gets a copy (its sinks move
    /// along, and a pipeline already started stays shared).
    fn update(mut self, change: impl FnOnce(&mut Config)) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            change(&mut shared.config);
            return self;
        }
        let mut config = self.shared.config.clone();
        change(&mut config);
        let pipeline = OnceLock::new();
        if let Some(started) = self.shared.pipeline.get() {
            let _ = pipeline.set(started.clone());
        }
        Self {
            shared: Arc::new(Shared {
                config,
                sinks: Mutex::new(self.shared.take_sinks()),
                pipeline,
            }),
        }
    }

    fn add_sink(self, sink: Box<dyn Sink>, options: Option<SinkOptions>) -> Self {
        self.shared
            .sinks
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push((sink, options));
        self
    }

    /// Adds a sink with the layer's [default sink options](Self::failure_policy).
    ///
    /// ```
    /// use portcullis_audit_log::layer::AuditLayer;
    /// use portcullis_audit_log::sink::{StdoutSink, TracingSink};
    /// let layer = AuditLayer::new().sink(StdoutSink::json()).sink(TracingSink::new());
    /// assert_eq!(layer.handle().metrics().sinks.len(), 2);
    /// ```
    #[must_use]
    pub fn sink(self, sink: impl Sink) -> Self {
        self.add_sink(Box::new(sink), None)
    }

    /// Adds a sink with its own options (failure policy, queue, timeout, `fsync`).
    ///
    /// ```
    /// use portcullis_audit_log::delivery::SinkOptions;
    /// use portcullis_audit_log::layer::AuditLayer;
    /// use portcullis_audit_log::sink::TracingSink;
    /// let layer = AuditLayer::new().sink_with(TracingSink::new(), SinkOptions::fail_open().name("logs"));
    /// assert_eq!(layer.handle().metrics().sinks[0].name, "logs");
    /// ```
    #[must_use]
    pub fn sink_with(self, sink: impl Sink, options: SinkOptions) -> Self {
        self.add_sink(Box::new(sink), Some(options))
    }

    /// The default level (when no [`level_for`](Self::level_for) rule is set).
    #[must_use]
    pub fn level(self, level: Level) -> Self {
        self.update(|config| config.level = level)
    }

    /// Picks the level of each request by its method and URI (replacing the
    /// default level): audit admin, auth and data routes, skip health checks.
    #[must_use]
    pub fn level_for(self, rule: LevelFn) -> Self {
        self.update(|config| config.level_fn = Some(rule))
    }

    /// Decides again, once the response is known, the level each request is
    /// recorded at: from its [`Outcome`](crate::level::Outcome) (status, the rejection
    /// code of a Portcullis problem, the method, URI and level it came in with). It
    /// may lower the level, never raise it (what was not captured is gone):
    /// [`Level::None`] leaves the request unrecorded (counted in
    /// [`MetricsSnapshot::skipped`](crate::delivery::MetricsSnapshot::skipped)),
    /// [`Level::Metadata`] drops the headers and body captured. So "every admin
    /// request, and of the customer API only what was denied" can be said.
    ///
    /// A request's `request` record then waits until the outcome is known, and is
    /// written with the `response` record. Except for requests that fail closed (see
    /// [`failure_policy_for`](Self::failure_policy_for)): their `request` record must be
    /// written *before* the handler runs, so they are recorded whatever the outcome
    /// and the rule is not asked.
    ///
    /// ```
    /// use http::{Request, Response, StatusCode};
    /// use portcullis_audit_log::layer::AuditLayer;
    /// use portcullis_audit_log::level::{Level, Outcome};
    /// use portcullis_audit_log::sink::ChannelSink;
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    ///
    /// fn denied_only(outcome: &Outcome<'_>) -> Level {
    ///     match outcome.status.map(|status| status.as_u16()) {
    ///         Some(401 | 403 | 429) => outcome.level,
    ///         _ => Level::None,
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (sender, lines) = std::sync::mpsc::sync_channel(16);
    /// let layer = AuditLayer::new().level_after_response(denied_only).sink(ChannelSink::new(sender));
    /// let handle = layer.handle();
    /// let app = ServiceBuilder::new().layer(layer).service(service_fn(|request: Request<_>| async move {
    ///     let status = if request.headers().contains_key("x-api-key") { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
    ///     let mut response = Response::new(String::new());
    ///     *response.status_mut() = status;
    ///     Ok::<_, std::convert::Infallible>(response)
    /// }));
    ///
    /// let allowed = Request::get("/v1/quote").header("x-api-key", "k").body(String::new()).unwrap();
    /// assert_eq!(app.clone().oneshot(allowed).await.unwrap().status(), StatusCode::OK);
    /// let denied = Request::get("/v1/quote").body(String::new()).unwrap();
    /// assert_eq!(app.oneshot(denied).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    ///
    /// handle.shutdown().await.unwrap();
    /// let records: Vec<serde_json::Value> =
    ///     lines.try_iter().map(|line| serde_json::from_str(&line).unwrap()).collect();
    /// // Only the denied request, both of its records.
    /// assert_eq!(records.len(), 2);
    /// assert_eq!(records[0]["event"]["action"], "request");
    /// assert_eq!(records[1]["http"]["response"]["status_code"], 401);
    /// assert_eq!(handle.metrics().skipped, 1);
    /// # }
    /// ```
    #[must_use]
    pub fn level_after_response(self, rule: OutcomeLevelFn) -> Self {
        self.update(|config| config.outcome_fn = Some(rule))
    }

    /// The per-deployment HMAC secret redacted values are keyed by, so that
    /// [`hash_for_search`](Self::hash_for_search) finds a known value across
    /// restarts and instances. Random by default.
    #[must_use]
    pub fn hmac_secret(self, secret: impl AsRef<[u8]>) -> Self {
        self.update(|config| {
            config.redactor = Arc::new((*config.redactor).clone().with_secret(secret));
        })
    }

    /// Replaces the redactor (its secret and deny-lists).
    #[must_use]
    pub fn redactor(self, redactor: Redactor) -> Self {
        self.update(|config| config.redactor = Arc::new(redactor))
    }

    /// `hmac-sha256:<hex>` of `value` under this layer's secret: search the records
    /// for it to find where a known secret appeared.
    ///
    /// ```
    /// use portcullis_audit_log::layer::AuditLayer;
    /// let layer = AuditLayer::new().hmac_secret(b"s");
    /// assert!(layer.hash_for_search("sk_live_123").starts_with("hmac-sha256:"));
    /// ```
    pub fn hash_for_search(&self, value: &str) -> String {
        self.shared.config.redactor.hash_for_search(value)
    }

    /// Trusts these proxies' forwarding headers for `source.ip` (none by default).
    #[must_use]
    pub fn trusted_proxies(self, proxies: TrustedProxies) -> Self {
        self.client_ip(ClientIpResolver::new(proxies))
    }

    /// Resolves `source.ip` with this resolver.
    #[must_use]
    pub fn client_ip(self, resolver: ClientIpResolver) -> Self {
        self.update(|config| config.resolver = resolver)
    }

    /// Reads time from this clock (timestamps, durations, rotation).
    #[must_use]
    pub fn clock(self, clock: impl Clock) -> Self {
        self.update(|config| config.clock = Arc::new(clock))
    }

    /// The most body bytes captured at [`Level::Request`] and above (16 KiB by
    /// default); the rest streams through unrecorded.
    #[must_use]
    pub fn body_limit(self, bytes: usize) -> Self {
        self.update(|config| config.body_limit = bytes)
    }

    /// Records bodies that are neither JSON nor form-encoded as text (card numbers
    /// still hashed) instead of their length and hash. Such bodies can hold any
    /// secret: off by default.
    #[must_use]
    pub fn insecure_record_raw_bodies(self, on: bool) -> Self {
        self.update(|config| config.raw_bodies = on)
    }

    /// The request-id header (`x-request-id` by default).
    #[must_use]
    pub fn request_id_header(self, header: HeaderName) -> Self {
        self.update(|config| config.request_id_header = header)
    }

    /// Whether responses carry the request id (on by default; a handler's own value
    /// is kept).
    #[must_use]
    pub fn echo_request_id(self, on: bool) -> Self {
        self.update(|config| config.echo_request_id = on)
    }

    /// Adds an [`Enricher`]: called with the request extensions before the `request`
    /// record and with the response extensions before the `response` record.
    #[must_use]
    pub fn enrich(self, enricher: Enricher) -> Self {
        self.update(|config| config.enrichers.push(enricher))
    }

    /// An [`EnrichLayer`](crate::context::EnrichLayer) running this layer's
    /// enrichers inside the stack: put it just inside a layer that adds its context to
    /// the request extensions only (an API-key layer), so the closing record carries
    /// that context.
    pub fn enrich_layer(&self) -> crate::context::EnrichLayer {
        crate::context::EnrichLayer::from_enrichers(self.shared.config.enrichers.clone())
    }

    /// What to do when the inner service panics.
    #[must_use]
    pub fn on_panic(self, policy: PanicPolicy) -> Self {
        self.update(|config| config.panic = policy)
    }

    /// The default failure policy of sinks added with [`sink`](Self::sink).
    #[must_use]
    pub fn failure_policy(self, policy: FailurePolicy) -> Self {
        self.update(|config| config.sink_options.policy = policy)
    }

    /// Picks the failure policy of each request by its method and URI, for the sinks
    /// added with [`sink`](Self::sink) (sinks added with [`sink_with`](Self::sink_with)
    /// keep their own for every request): privileged routes fail closed, the rest
    /// stays fail-open.
    ///
    /// A request that fails closed is **written ahead**: its `request` record must be
    /// written (and `fsync`ed with [`fsync_per_batch`](Self::fsync_per_batch)) before
    /// the handler runs, or it is answered `503 AUDIT_UNAVAILABLE` and the handler never
    /// runs, so its side effect cannot happen unrecorded. Its response then waits for
    /// its `response` record too (at most the write timeout); see the
    /// [delivery docs](crate::delivery) for why a `response` record that cannot be
    /// written no longer turns the handler's answer into a 503.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use http::{Request, Response, StatusCode};
    /// use portcullis_audit_log::delivery::FailurePolicy;
    /// use portcullis_audit_log::layer::AuditLayer;
    /// use portcullis_audit_log::sink::{Batch, CallbackSink, SinkError};
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let full_disk = CallbackSink::new(|_: &Batch<'_>| Err(SinkError::other("no space left on device")));
    /// let layer = AuditLayer::new()
    ///     .failure_policy_for(|_, uri| match uri.path().starts_with("/admin/") {
    ///         true => FailurePolicy::FailClosed,
    ///         false => FailurePolicy::FailOpen,
    ///     })
    ///     .sink(full_disk);
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// let counter = ran.clone();
    /// let app = ServiceBuilder::new().layer(layer).service(service_fn(move |_: Request<_>| {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    ///     async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) }
    /// }));
    ///
    /// let admin = Request::post("/admin/keys").body(String::new()).unwrap();
    /// let refused = app.clone().oneshot(admin).await.unwrap();
    /// assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(ran.load(Ordering::SeqCst), 0, "the admin handler never ran");
    ///
    /// let customer = Request::get("/v1/quote").body(String::new()).unwrap();
    /// assert_eq!(app.oneshot(customer).await.unwrap().status(), StatusCode::OK);
    /// assert_eq!(ran.load(Ordering::SeqCst), 1);
    /// # }
    /// ```
    #[must_use]
    pub fn failure_policy_for(self, rule: FailurePolicyFn) -> Self {
        self.update(|config| config.policy_fn = Some(rule))
    }

    /// The default queue capacity of sinks added with [`sink`](Self::sink).
    #[must_use]
    pub fn queue_capacity(self, records: usize) -> Self {
        self.update(|config| config.sink_options.queue_capacity = records.max(1))
    }

    /// The default write timeout of sinks added with [`sink`](Self::sink).
    #[must_use]
    pub fn write_timeout(self, timeout: Duration) -> Self {
        self.update(|config| config.sink_options.write_timeout = timeout)
    }

    /// Whether sinks added with [`sink`](Self::sink) `fsync` each batch.
    #[must_use]
    pub fn fsync_per_batch(self, on: bool) -> Self {
        self.update(|config| config.sink_options.fsync = on)
    }

    /// How often a writer reports dropped records in a `tracing` warning (10 s).
    #[must_use]
    pub fn report_interval(self, interval: Duration) -> Self {
        self.update(|config| config.report_interval = interval)
    }

    fn chain_mut(config: &mut Config) -> &mut ChainSettings {
        config.chain.get_or_insert_with(|| ChainSettings {
            key: None,
            signer: None,
            every_records: 1_000,
            every: Duration::from_secs(60),
        })
    }

    /// Turns the SHA-256 [hash chain](crate::chain) (`seq`, `prev_hash`) on or off;
    /// off drops its chain key, signing key and checkpoint settings too.
    #[must_use]
    pub fn hash_chain(self, on: bool) -> Self {
        self.update(|config| {
            if on {
                Self::chain_mut(config);
            } else {
                config.chain = None;
            }
        })
    }

    /// Keys the chain: HMAC-SHA256 instead of SHA-256 (turns the chain on).
    /// Verifying then needs the key (`--chain-key`).
    #[must_use]
    pub fn chain_key(self, key: impl AsRef<[u8]>) -> Self {
        self.update(|config| Self::chain_mut(config).key = Some(key.as_ref().to_vec()))
    }

    /// Signs checkpoints with this Ed25519 key (turns the chain on).
    #[must_use]
    pub fn signing_key(self, signer: CheckpointSigner) -> Self {
        self.update(|config| Self::chain_mut(config).signer = Some(signer))
    }

    /// Writes a checkpoint after every `records` lines and after `interval` with
    /// unsealed lines (1,000 and one minute by default; turns the chain on).
    #[must_use]
    pub fn checkpoint_every(self, records: u64, interval: Duration) -> Self {
        self.update(|config| {
            let chain = Self::chain_mut(config);
            chain.every_records = records.max(1);
            chain.every = interval;
        })
    }

    /// The checkpoint signing key's public half, in hex, if checkpoints are signed.
    pub fn public_key_hex(&self) -> Option<String> {
        let chain = self.shared.config.chain.as_ref()?;
        chain.signer.as_ref().map(CheckpointSigner::public_key_hex)
    }

    /// The delivery handle: metrics, flush, shutdown. Starts the writers.
    pub fn handle(&self) -> AuditHandle {
        AuditHandle::new(self.shared.pipeline().clone())
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Audit::new(inner, self.clone())
    }
}

impl AuditLayer {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}
