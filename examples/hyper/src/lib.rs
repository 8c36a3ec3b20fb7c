//! Portcullis on a plain hyper 1 server: no axum, no framework, only Tower layers
//! around a `service_fn`, served by [`portcullis_core::serve::Server`] (hyper with
//! header-read, idle and body-read timeouts, a connection cap and a shutdown
//! deadline).
//!
//! Every request goes through, outermost first:
//!
//! 1. the peer address from `accept`, put into the request as a
//!    [`PeerAddr`](portcullis_core::client_ip::PeerAddr) by the server loop (hyper has no `ConnectInfo`: the accept loop
//!    knows the peer);
//! 2. [`AuditLayer`]: a `request` and a `response` record for every request, refused
//!    ones included, with the key id, the tenant, the rejection code and the rate-limit
//!    decision;
//! 3. [`SecurityHeadersLayer::api`]: the security headers of a JSON API on every
//!    response, refusals too;
//! 4. [`ApiKeyLayer::development`]: `sk_test_…` keys from `X-API-Key` or
//!    `Authorization: Bearer`; a request without a valid key is answered `401`
//!    problem+json;
//! 5. the audit layer's [`EnrichLayer`](portcullis_audit_log::context::EnrichLayer),
//!    which copies the verified key's id and tenant into the audit records;
//! 6. [`RateLimitLayer::multi_tenant`]: per tenant, by the plan of its key (free: 10 a
//!    minute and 100 a day; starter: 60 and 1,000; pro: 300 and 10,000), answered `429`
//!    problem+json when a quota is used up;
//! 7. the handler: `GET /v1/quote`.
//!
//! Keys are issued with [`KeyLifecycle`] into a [`MemoryKeyStore`]; the lifecycle
//! invalidates the verification layer's cache, so a revoked key fails on its next
//! request.
//!
//! # Example
//!
//! ```no_run
//! use hyper_example::{App, serve};
//! use portcullis_api_keys::{id::TenantId, lifecycle::NewKey};
//! use portcullis_audit_log::layer::AuditLayer;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = App::new(AuditLayer::development());
//! let key = app.keys().create(NewKey::new(TenantId::new("acme")).plan("pro")).await?;
//! println!("x-api-key: {}", key.key.expose_secret());
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! serve(listener, app, portcullis_core::serve::shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use http::{Extensions, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::Full;
use portcullis_api_keys::format::{Environment, KeyFormat};
use portcullis_api_keys::hash::KeyHasher;
use portcullis_api_keys::layer::{ApiKeyContext, ApiKeyLayer};
use portcullis_api_keys::lifecycle::KeyLifecycle;
use portcullis_api_keys::store::memory::MemoryKeyStore;
use portcullis_audit_log::delivery::AuditHandle;
use portcullis_audit_log::layer::AuditLayer;
use portcullis_audit_log::record::Record;
use portcullis_core::clock::{Clock, SystemClock};
use portcullis_core::problem::{PROBLEM_JSON, Problem};
use portcullis_core::serve::{RequestBody, Server};
use portcullis_rate_limit::layer::RateLimitLayer;
use portcullis_security_headers::headers::SecurityHeadersLayer;
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder, service_fn};

/// Connections served at once: under the usual 1,024 file-descriptor limit.
const MAX_CONNECTIONS: usize = 512;

/// The layers of the example server and the key management behind them. Cheap to
/// clone: every clone shares the key store, the caches, the rate-limit state and the
/// audit pipeline.
#[derive(Clone, Debug)]
pub struct App {
    keys: KeyLifecycle<MemoryKeyStore>,
    audit: AuditLayer,
    security_headers: SecurityHeadersLayer,
    api_keys: ApiKeyLayer<MemoryKeyStore>,
    rate_limit: RateLimitLayer,
}

impl App {
    /// The example server on the system clock, writing audit records through `audit`
    /// ([`AuditLayer::development`] prints them on standard output).
    pub fn new(audit: AuditLayer) -> Self {
        Self::with_clock(audit, SystemClock)
    }

    /// The example server on `clock`, for the rate limiter, key verification and key
    /// management alike: tests pass a
    /// [`ManualClock`](portcullis_core::clock::ManualClock) so quotas never refill
    /// behind their back.
    pub fn with_clock(audit: AuditLayer, clock: impl Clock + Clone) -> Self {
        // A real deployment hashes with `KeyHasher::hmac_sha256` and a pepper from its
        // secret store; the keys of this example live only as long as the process.
        let hasher = KeyHasher::sha256();
        let store = MemoryKeyStore::new();
        let api_keys = ApiKeyLayer::development(store.clone(), hasher.clone()).clock(clock.clone());
        let keys = KeyLifecycle::new(
            store,
            KeyFormat::default().environment(Environment::Test),
            hasher,
        )
        .clock(clock.clone())
        // Revocations and changes drop the key from the verification cache at once.
        .sink(Arc::new(api_keys.key_cache().clone()));
        Self {
            keys,
            audit: audit.enrich(record_api_key),
            security_headers: SecurityHeadersLayer::api(),
            api_keys,
            rate_limit: RateLimitLayer::multi_tenant().clock(clock),
        }
    }

    /// Key management: create, list, revoke and rotate the keys this server accepts.
    pub fn keys(&self) -> &KeyLifecycle<MemoryKeyStore> {
        &self.keys
    }

    /// The audit pipeline's handle: metrics, flush, and the shutdown that writes every
    /// queued record.
    pub fn audit_handle(&self) -> AuditHandle {
        self.audit.handle()
    }

    /// The whole stack as a Tower service of the requests [`serve`] hands over (the
    /// peer address is already in their extensions, as a
    /// [`PeerAddr`](portcullis_core::client_ip::PeerAddr)).
    pub fn service(
        &self,
    ) -> impl Service<
        Request<RequestBody>,
        Response = Response<impl Body<Data = Bytes, Error = Infallible> + Send + 'static>,
        Error = Infallible,
        Future = impl Future + Send + 'static,
    > + Clone
    + Send
    + 'static {
        ServiceBuilder::new()
            .layer(self.audit.clone())
            .layer(self.security_headers.clone())
            .layer(self.api_keys.clone())
            .layer(self.audit.enrich_layer())
            .layer(self.rate_limit.clone())
            .service(service_fn(route))
    }
}

/// Copies the verified key's id and tenant into the audit records.
fn record_api_key(extensions: &Extensions, record: &mut Record) {
    if let Some(key) = extensions.get::<ApiKeyContext>() {
        record.principal.api_key_id = Some(key.key_id().as_str().to_owned());
        record.principal.tenant_id = Some(key.tenant().as_str().to_owned());
    }
}

/// The application: one JSON route, everything else `404` problem+json.
async fn route<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::GET || request.uri().path() != "/v1/quote" {
        let problem = Problem::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found");
        return Ok(json(StatusCode::NOT_FOUND, PROBLEM_JSON, problem.to_json()));
    }
    // The API-key layer verified the key and left its context for the handler.
    let (tenant, plan) = request
        .extensions()
        .get::<ApiKeyContext>()
        .map(|key| (key.tenant().as_str(), key.plan().unwrap_or("free")))
        .unwrap_or_default();
    let body = serde_json::json!({
        "tenant": tenant,
        "plan": plan,
        "quote": { "currency": "EUR", "amount_cents": 4_200 },
    });
    Ok(json(StatusCode::OK, "application/json", body.to_string()))
}

fn json(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// Serves `app` over HTTP/1.1 (and HTTP/2) on `listener` until `shutdown` completes,
/// with [`portcullis_core::serve::Server`]'s safe defaults: headers within 10 s, idle
/// connections closed after 60 s, a request body may stall for 30 s, at most 512
/// connections, and after `shutdown` open requests get 20 s before they are dropped.
///
/// Errors accepting a connection (the process ran out of file descriptors, say) are
/// logged and retried after a pause; they do not stop the server.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    Server::new(MAX_CONNECTIONS)
        .serve(listener, app.service(), shutdown)
        .await;
    Ok(())
}
