//! Security context from other layers: [`AuditContext`], [`Principal`]
//! and [`Enricher`]s.
//!
//! The audit layer sits outermost so that it sees every request, including the ones
//! an inner layer refuses. What inner layers learn (the API key, the tenant, the user)
//! reaches the records three ways:
//!
//! 1. **[`AuditContext`]**: the layer puts one into every audited request's
//!    extensions. Any inner layer or handler fills it; the `response` record (and a
//!    `panic` or `cancelled` one) carries what it holds.
//! 2. **[`Principal`] in the extensions**: read from the
//!    request extensions (set by layers outside) for the `request` record and from
//!    the response extensions for the `response` record.
//! 3. **[`Enricher`]s**: plain functions given the request extensions (before the
//!    `request` record) and the response extensions (before the `response` record)
//!    and the record to fill: one line to wire a type this crate does not know, such
//!    as the API-key layer's context. Where that type lives only in the request
//!    extensions of an inner layer, [`EnrichLayer`] (from
//!    [`AuditLayer::enrich_layer`](crate::layer::AuditLayer::enrich_layer)) runs the
//!    same enrichers inside the stack.
//!
//! Rejections by other Portcullis layers need no wiring: their
//! [`Problem`](portcullis_core::problem::Problem) rides in the response extensions,
//! and its `code` is recorded as `portcullis.rejection.code`; with feature
//! `rate-limit`, the limiter's `Decision` is recorded as `portcullis.rate_limit`.
//!
//! # Example
//!
//! ```
//! use http::{Extensions, Request, Response};
//! use portcullis_audit_log::context::{AuditContext, Enricher};
//! use portcullis_audit_log::record::Record;
//!
//! // A type some other layer puts into the response extensions.
//! #[derive(Clone)]
//! struct ApiKeyContext { key_id: String, tenant_id: String }
//!
//! let enricher: Enricher = |extensions: &Extensions, record: &mut Record| {
//!     if let Some(key) = extensions.get::<ApiKeyContext>() {
//!         record.principal.api_key_id = Some(key.key_id.clone());
//!         record.principal.tenant_id = Some(key.tenant_id.clone());
//!     }
//! };
//!
//! // Or, inside the stack, fill the context the audit layer put into the request.
//! let mut request = Request::new(());
//! request.extensions_mut().insert(AuditContext::new());
//! if let Some(context) = request.extensions().get::<AuditContext>() {
//!     context.set_user_id("ada");
//!     context.label("role", "admin");
//! }
//! let context = request.extensions().get::<AuditContext>().unwrap();
//! assert_eq!(context.principal().user_id.as_deref(), Some("ada"));
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use http::Extensions;

use crate::record::{Principal, Record};

/// Fills a record from extensions; see the [module docs](self).
pub type Enricher = fn(&Extensions, &mut Record);

#[derive(Debug, Default)]
struct Slot {
    principal: Principal,
    labels: Vec<(String, String)>,
}

/// A per-request slot that inner layers and handlers fill; clones share it.
///
/// ```
/// use portcullis_audit_log::context::AuditContext;
/// use portcullis_audit_log::record::Principal;
/// let context = AuditContext::new();
/// let seen_by_handler = context.clone();
/// seen_by_handler.set_principal(Principal::user("ada").with_tenant("acme"));
/// seen_by_handler.set_api_key_id("key_1");
/// assert_eq!(context.principal().api_key_id.as_deref(), Some("key_1"));
/// assert_eq!(context.principal().tenant_id.as_deref(), Some("acme"));
/// ```
#[derive(Clone, Default)]
pub struct AuditContext {
    slot: Arc<Mutex<Slot>>,
}

impl fmt::Debug for AuditContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditContext")
            .field("principal", &self.lock().principal)
            .finish_non_exhaustive()
    }
}

impl AuditContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        // A panic elsewhere cannot leave the slot inconsistent: keep using it.
        self.slot
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Merges `principal` into the one known (fields it has win).
    pub fn set_principal(&self, principal: Principal) {
        self.lock().principal.merge(&principal);
    }

    /// Sets `user.id`.
    pub fn set_user_id(&self, user_id: impl Into<String>) {
        self.lock().principal.user_id = Some(user_id.into());
    }

    /// Sets the tenant (`organization.id`).
    pub fn set_tenant_id(&self, tenant_id: impl Into<String>) {
        self.lock().principal.tenant_id = Some(tenant_id.into());
    }

    /// Sets the API key id (`portcullis.api_key.id`).
    pub fn set_api_key_id(&self, key_id: impl Into<String>) {
        self.lock().principal.api_key_id = Some(key_id.into());
    }

    /// Adds a label (`labels.<key>`) to the records still to come.
    pub fn label(&self, key: impl Into<String>, value: impl Into<String>) {
        self.lock().labels.push((key.into(), value.into()));
    }

    /// The principal known so far.
    pub fn principal(&self) -> Principal {
        self.lock().principal.clone()
    }

    /// Copies what the context holds into `record`.
    pub(crate) fn apply(&self, record: &mut Record) {
        let slot = self.lock();
        record.principal.merge(&slot.principal);
        record.labels.extend(slot.labels.iter().cloned());
    }
}

/// Runs [`Enricher`]s inside the stack, on the request extensions as the layers
/// outside it left them, and keeps what they found in the request's
/// [`AuditContext`] for the closing record.
///
/// The audit layer sits outermost, so a type that an inner layer puts only into the
/// *request* extensions (an API-key layer's context, for handlers) never reaches it.
/// Put this layer just inside such a layer:
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response};
/// use portcullis_audit_log::body::AuditBody;
/// use portcullis_audit_log::context::{AuditContext, EnrichLayer};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// #[derive(Clone)]
/// struct ApiKeyContext { key_id: String }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let enrich = EnrichLayer::new(|extensions, record| {
///     if let Some(key) = extensions.get::<ApiKeyContext>() {
///         record.principal.api_key_id = Some(key.key_id.clone());
///     }
/// });
/// // Stands in for the API-key layer: it authenticates, then calls the inner stack.
/// let app = ServiceBuilder::new()
///     .map_request(|mut request: Request<AuditBody<String>>| {
///         request.extensions_mut().insert(ApiKeyContext { key_id: "key_1".into() });
///         request
///     })
///     .layer(enrich)
///     .service(service_fn(|_: Request<AuditBody<String>>| async {
///         Ok::<_, Infallible>(Response::new(String::new()))
///     }));
///
/// // The audit layer would have put this context into the request.
/// let context = AuditContext::new();
/// let mut request = Request::new(AuditBody::new(String::new()));
/// request.extensions_mut().insert(context.clone());
/// app.oneshot(request).await.unwrap();
/// assert_eq!(context.principal().api_key_id.as_deref(), Some("key_1"));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct EnrichLayer {
    enrichers: Arc<[Enricher]>,
}

impl EnrichLayer {
    /// A layer running `enricher`.
    pub fn new(enricher: Enricher) -> Self {
        Self::from_enrichers(vec![enricher])
    }

    /// A layer running these enrichers, in order (see
    /// [`AuditLayer::enrich_layer`](crate::layer::AuditLayer::enrich_layer)).
    pub fn from_enrichers(enrichers: Vec<Enricher>) -> Self {
        Self {
            enrichers: enrichers.into(),
        }
    }
}

impl<S> tower_layer::Layer<S> for EnrichLayer {
    type Service = Enrich<S>;

    fn layer(&self, inner: S) -> Enrich<S> {
        Enrich {
            inner,
            enrichers: self.enrichers.clone(),
        }
    }
}

/// The service of [`EnrichLayer`].
#[derive(Clone, Debug)]
pub struct Enrich<S> {
    inner: S,
    enrichers: Arc<[Enricher]>,
}

impl<S> Enrich<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> tower_service::Service<http::Request<B>> for Enrich<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if let Some(context) = request.extensions().get::<AuditContext>() {
            let info = crate::record::RequestInfo::new(
                request
                    .extensions()
                    .get::<crate::request_id::RequestId>()
                    .cloned()
                    .unwrap_or_else(crate::request_id::RequestId::generate),
                request.method().clone(),
                request.uri().path(),
            );
            let mut scratch = Record::new(
                crate::record::Phase::Request,
                Arc::new(info),
                std::time::UNIX_EPOCH,
            );
            for enrich in self.enrichers.iter() {
                enrich(request.extensions(), &mut scratch);
            }
            let mut slot = context.lock();
            slot.principal.merge(&scratch.principal);
            slot.labels.extend(scratch.labels);
        }
        self.inner.call(request)
    }
}
