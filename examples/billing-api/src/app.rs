//! The routes and the layers around them.
//!
//! ```text
//! AuditLayer                      every admin request (fail-closed), webhooks, denied /v1 requests
//! ├─ SecurityHeadersLayer         strict (nonce'd CSP) ─ GET /
//! │  └─ CorsLayer                 --allowed-origins
//! └─ SecurityHeadersLayer         api ─ everything else:
//!    └─ CorsLayer                 --allowed-origins
//!       ├─ /health, /ready        the audit log's state
//!       ├─ /csp-reports           RateLimitLayer (30 a minute per client) → CspReportCollector
//!       ├─ /admin/*               RateLimitLayer::auth_bruteforce → admin token (constant time), 64 KiB bodies
//!       ├─ /webhooks/stripe       portcullis-stripe-webhook
//!       └─ /v1/*                  RateLimitLayer::auth_bruteforce → ApiKeyLayer
//!                                 → EnrichLayer (audit) → RateLimitLayer (plans)
//! ```
//!
//! CORS sits inside the security headers: a preflight it answers, or refuses with
//! `403 CORS_PREFLIGHT_REJECTED`, is a response like any other and gets the headers
//! (`nosniff`, framing, HSTS over HTTPS) on its way out. Outside them, its own answers
//! would leave without any.
//!
//! The brute-force limiter counts only authentication failures (401s) per client IP,
//! one budget for `/admin` and `/v1` together: 5 a minute and 20 an hour; every other
//! answer is refunded, so callers with a valid credential never use it up. A request
//! holds its unit while in flight, though, so a request with an API key the key cache
//! holds as active skips the limiter: it cannot be a guess and needs no store, and a
//! client's cached keys keep working while its other requests wait (on a database
//! that is down, say). Admin requests and uncached keys are limited: more than five of
//! them in flight at once from one address are refused with 429.
//!
//! The audit log is evidence for the privileged actions: an admin request (tenant
//! changes, key creation, rotation, revocation) fails closed and is written ahead, its
//! `request` record on disk before the handler runs, or it is refused with `503
//! AUDIT_UNAVAILABLE` and nothing happens. The customer API fails open (a full disk
//! never stops it) and only its refused or failed requests are recorded (`401`,
//! `403`, `429`, `5xx`), decided once the response is known. `/health` reports the audit log's state
//! (always `200`), `/ready` answers `503 AUDIT_UNAVAILABLE` while it fails.

use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::{Extensions, Method, StatusCode, Uri};
use portcullis_api_keys::layer::{ApiKeyContext, ApiKeyLayer};
use portcullis_audit_log::chain::CheckpointSigner;
use portcullis_audit_log::delivery::{AuditHandle, FailurePolicy, SinkStatus};
use portcullis_audit_log::layer::AuditLayer;
use portcullis_audit_log::level::{Level, Outcome};
use portcullis_audit_log::record::Record;
use portcullis_audit_log::sink::{FileSink, ReopenHandle, Rotation};
use portcullis_core::client_ip::TrustedProxies;
use portcullis_core::problem::Problem;
use portcullis_rate_limit::algorithm::Algorithm;
use portcullis_rate_limit::headers::HeaderMode;
use portcullis_rate_limit::key::Key;
use portcullis_rate_limit::layer::RateLimitLayer;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::request::RequestHead;
use portcullis_rate_limit::resolver::{PlanResolver, Plans, Resolved};
use portcullis_rate_limit::store::BoxStore;
use portcullis_security_headers::ConfigError;
use portcullis_security_headers::cors::CorsLayer;
use portcullis_security_headers::csp::Policy;
use portcullis_security_headers::headers::SecurityHeadersLayer;
use portcullis_security_headers::report::CspReportCollector;
use serde_json::json;
use tower::ServiceBuilder;

use crate::config::Preset;
use crate::keys::TenantPlanStore;
use crate::state::AppState;
use crate::{admin, api, error, page};

/// Where browsers send CSP violation reports.
const CSP_REPORT_PATH: &str = "/csp-reports";
const CSP_REPORT_ENDPOINT: &str = "csp-endpoint";
/// Report requests a client may post a minute: a browser sends a few per page view
/// with a violation, batched.
const CSP_REPORTS_PER_MINUTE: u64 = 30;

/// A configuration value the layers refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    #[error("--trusted-proxies: {0}")]
    TrustedProxies(#[source] portcullis_core::client_ip::ConfigError),
    #[error("--allowed-origins: {0}")]
    AllowedOrigins(#[source] ConfigError),
    #[error("security headers: {0}")]
    SecurityHeaders(#[source] ConfigError),
}

/// The HTTP-facing configuration, checked before anything connects.
#[derive(Debug)]
pub(crate) struct Edge {
    pub(crate) trusted: TrustedProxies,
    json_headers: SecurityHeadersLayer,
    page_headers: SecurityHeadersLayer,
    cors: CorsLayer,
}

impl Edge {
    /// Checks `--preset`, `--trusted-proxies` and `--allowed-origins`.
    pub(crate) fn new(
        preset: Preset,
        trusted_proxies: &str,
        allowed_origins: &str,
    ) -> Result<Self, AppError> {
        let trusted: TrustedProxies = trusted_proxies.parse().map_err(AppError::TrustedProxies)?;

        let (json_headers, page_headers) = match preset {
            Preset::Api => (
                SecurityHeadersLayer::api(),
                page_headers(SecurityHeadersLayer::strict())?,
            ),
            Preset::Strict => (
                SecurityHeadersLayer::strict(),
                page_headers(SecurityHeadersLayer::strict())?,
            ),
            Preset::Development => (
                SecurityHeadersLayer::development(),
                page_headers(SecurityHeadersLayer::development())?,
            ),
        };
        let json_headers = json_headers.trusted_proxies(trusted.clone());
        let page_headers = page_headers.trusted_proxies(trusted.clone());

        let cors = match preset {
            Preset::Development => CorsLayer::development(),
            Preset::Api | Preset::Strict => CorsLayer::api(),
        };
        let cors = if allowed_origins.trim().is_empty() {
            cors
        } else {
            cors.allow_origins_list(allowed_origins)
                .map_err(AppError::AllowedOrigins)?
        };
        Ok(Self {
            trusted,
            json_headers,
            page_headers,
            cors,
        })
    }
}

/// Everything the router wires together.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) edge: Edge,
    pub(crate) state: AppState,
    pub(crate) api_keys: ApiKeyLayer<TenantPlanStore>,
    pub(crate) rate_limit: RateLimitLayer<Key, Plans, BoxStore>,
    pub(crate) audit: AuditLayer,
    /// `POST /webhooks/stripe`.
    pub(crate) webhook: Router,
}

/// The whole application.
pub(crate) fn router(parts: Parts) -> Router {
    let Parts {
        edge,
        state,
        api_keys,
        rate_limit,
        audit,
        webhook,
    } = parts;

    // One failure budget per client IP for the admin token and API keys together.
    // No rate-limit headers but `Retry-After` on its 429: on `/v1` the plan's headers
    // are the ones a customer reads.
    let auth_failures = RateLimitLayer::auth_bruteforce()
        .key(Key::client_ip_behind(edge.trusted.clone()))
        .plans(AuthFailurePlans::new(api_keys.clone()))
        .refund_if(not_an_authentication_failure)
        .headers(HeaderMode::None);
    let csp_reports = ServiceBuilder::new()
        .layer(csp_report_limit(&edge))
        .service(CspReportCollector::new());

    let customer_api = api::routes().route_layer(
        ServiceBuilder::new()
            .layer(auth_failures.clone())
            .layer(api_keys)
            .layer(audit.enrich_layer())
            .layer(rate_limit),
    );
    let audit_health = audit.handle();
    let json = Router::new()
        .merge(health_routes(audit_health))
        .route_service(CSP_REPORT_PATH, csp_reports)
        .merge(customer_api)
        .merge(admin::routes(state).route_layer(auth_failures))
        .merge(webhook)
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::not_found)
        .layer(edge.cors.clone())
        .layer(edge.json_headers);
    let page = Router::new()
        .route("/", get(page::usage_page))
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(edge.cors)
        .layer(edge.page_headers);

    page.merge(json).layer(audit)
}

/// Only a 401 (a missing or wrong credential) uses up the brute-force budget.
fn not_an_authentication_failure(status: StatusCode) -> bool {
    status != StatusCode::UNAUTHORIZED
}

/// The brute-force limiter's plan (`auth_bruteforce`'s: 5 failures a minute, 20 an
/// hour), for every request but one that presents an API key the key cache holds as
/// active.
///
/// The limiter takes its unit when a request arrives and gives it back with any
/// answer but a 401, so a request holds a unit while it is in flight: with five
/// requests of one address under way (waiting on a slow or dead database), that
/// address's next requests were refused with 429, valid cached keys included. A key
/// the cache knows is no guess (it hashes to a stored key) and its request needs no
/// store lookup, the two things the limiter is there for: it is not limited.
#[derive(Clone, Debug)]
struct AuthFailurePlans {
    plans: Plans,
    api_keys: ApiKeyLayer<TenantPlanStore>,
}

impl AuthFailurePlans {
    fn new(api_keys: ApiKeyLayer<TenantPlanStore>) -> Self {
        let plan = Plan::new(
            "auth",
            [
                Quota::per_minute("minute", 5),
                Quota::per_hour("hour", 20).with_algorithm(Algorithm::sliding_window()),
            ],
        )
        .expect("a valid constant plan");
        Self {
            plans: Plans::new(plan),
            api_keys,
        }
    }

    fn lookup(&self, request: &RequestHead<'_>) -> Option<Arc<Plan>> {
        if self
            .api_keys
            .admits_from_cache(request.headers(), request.uri())
        {
            return None;
        }
        self.plans.lookup(request)
    }
}

impl PlanResolver for AuthFailurePlans {
    type Future = std::future::Ready<Option<Arc<Plan>>>;

    fn resolve(&self, request: &RequestHead<'_>) -> Self::Future {
        std::future::ready(self.lookup(request))
    }

    fn resolve_immediately(&self, request: &RequestHead<'_>) -> Option<Resolved> {
        Some(self.lookup(request).into())
    }
}

/// The collector is unauthenticated: each client may post so many reports a minute.
fn csp_report_limit(edge: &Edge) -> RateLimitLayer {
    let plan = Plan::new(
        "csp-reports",
        [Quota::per_minute("minute", CSP_REPORTS_PER_MINUTE)],
    )
    .expect("a valid constant plan");
    RateLimitLayer::new()
        .key(Key::client_ip_behind(edge.trusted.clone()))
        .plan(plan)
}

/// The audit layer: JSON lines in `path`, for the admin routes (fail-closed), the
/// webhook and the denied customer API requests (with their rejection code), with
/// the API key's id and tenant on every record of a verified request.
pub(crate) fn audit_layer(
    path: &std::path::Path,
    trusted: TrustedProxies,
    hmac_secret: Option<&str>,
    signer: CheckpointSigner,
) -> Result<(AuditLayer, ReopenHandle), portcullis_audit_log::ConfigError> {
    // `AuditLayer::production(path)` with its signing key, spelled out to keep the
    // file's reopen handle: `SIGHUP` (logrotate's `postrotate`) reopens the file
    // instead of ending the process.
    let file = FileSink::open(path)?
        .max_bytes(100 * 1024 * 1024)
        .rotate(Rotation::Daily);
    let reopen = file.reopen_handle();
    let layer = AuditLayer::new()
        .failure_policy(FailurePolicy::FailOpen)
        .failure_policy_for(audit_policy)
        .queue_capacity(65_536)
        // The hash chain, its checkpoints signed: `portcullis-audit verify`.
        .signing_key(signer)
        .checkpoint_every(1_000, std::time::Duration::from_secs(60))
        .sink(file)
        .level_for(audit_level)
        .level_after_response(audit_outcome)
        .trusted_proxies(trusted)
        .enrich(api_key_principal);
    let layer = match hmac_secret {
        Some(secret) => layer.hmac_secret(secret),
        None => layer,
    };
    Ok((layer, reopen))
}

/// What is audited: admin requests with their (redacted) headers and bodies, webhook
/// and customer API requests as metadata, nothing else.
fn audit_level(_method: &Method, uri: &Uri) -> Level {
    let path = uri.path();
    if is_admin(path) {
        Level::Request
    } else if path.starts_with("/webhooks/") || path.starts_with("/v1/") {
        Level::Metadata
    } else {
        Level::None
    }
}

fn is_admin(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// Admin requests fail closed: no tenant change, key creation, rotation or revocation
/// happens unless its record is written first. Everything else fails open.
fn audit_policy(_method: &Method, uri: &Uri) -> FailurePolicy {
    if is_admin(uri.path()) {
        FailurePolicy::FailClosed
    } else {
        FailurePolicy::FailOpen
    }
}

/// Once the response is known: every admin and webhook request; of the customer
/// API, only the denied ones (no key or a bad one, a missing scope, a quota), so that
/// the busiest routes write a record only when something is refused.
fn audit_outcome(outcome: &Outcome<'_>) -> Level {
    let customer_api = outcome.uri.path().starts_with("/v1/");
    let denied = matches!(
        outcome.status,
        Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS)
    );
    // A request the server failed (a store down, say) is evidence too.
    let failed = outcome.status.is_none_or(|status| status.is_server_error());
    if customer_api && !denied && !failed {
        Level::None
    } else {
        outcome.level
    }
}

/// `/health`: up, and the audit log's state (`200` whatever it is, for liveness);
/// `/ready`: `503 AUDIT_UNAVAILABLE` while the audit log cannot be written (admin
/// requests are refused then), for a load balancer to send them elsewhere.
fn health_routes(audit: AuditHandle) -> Router {
    let ready_audit = audit.clone();
    Router::new()
        .route(
            "/health",
            get(move || {
                let state = audit_state(&audit);
                let status = if state == "ok" { "ok" } else { "degraded" };
                async move { axum::Json(json!({ "status": status, "audit": state })) }
            }),
        )
        .route(
            "/ready",
            get(move || {
                let state = audit_state(&ready_audit);
                async move {
                    if state == "ok" {
                        axum::Json(json!({ "status": "ready", "audit": state })).into_response()
                    } else {
                        let problem = Problem::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "AUDIT_UNAVAILABLE",
                            "Audit unavailable",
                        )
                        .with_detail(format!(
                            "The audit log is {state}: admin requests are refused until it can be written."
                        ));
                        IntoResponse::into_response(problem)
                    }
                }
            }),
        )
}

/// `ok`, or the state of the first audit sink that is not (`failing`, `stalled`,
/// `stopped`). The error itself (it names the file) goes to the server log only.
fn audit_state(audit: &AuditHandle) -> &'static str {
    audit
        .health()
        .sinks
        .iter()
        .map(|sink| sink.status)
        .find(|status| *status != SinkStatus::Ok)
        .map_or("ok", |status| status.as_str())
}

/// Puts the verified key's id and tenant into the audit record.
fn api_key_principal(extensions: &Extensions, record: &mut Record) {
    if let Some(key) = extensions.get::<ApiKeyContext>() {
        record.principal.api_key_id = Some(key.key_id().to_string());
        record.principal.tenant_id = Some(key.tenant().to_string());
    }
}

/// The page's headers report CSP violations to the collector.
fn page_headers(preset: SecurityHeadersLayer) -> Result<SecurityHeadersLayer, AppError> {
    let policy = Policy::strict()
        .report_uri(CSP_REPORT_PATH)
        .and_then(|policy| policy.report_to(CSP_REPORT_ENDPOINT))
        .map_err(AppError::SecurityHeaders)?;
    let layer = preset
        .reporting_endpoint(CSP_REPORT_ENDPOINT, CSP_REPORT_PATH)
        .map_err(AppError::SecurityHeaders)?;
    if layer.content_security_policy_ref().is_some() {
        layer.content_security_policy(policy)
    } else {
        layer.content_security_policy_report_only(policy)
    }
    .map_err(AppError::SecurityHeaders)
}
