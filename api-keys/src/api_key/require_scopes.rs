//! Per-route scopes: [`RequireScopesLayer`], the [`RequireScopes`] service and its
//! [`ResponseFuture`].
//!
//! [`ApiKeyLayer`](super::ApiKeyLayer) verifies the key for a whole router; a route
//! then says which scopes it needs in one line, with this layer in front of its
//! handler. It reads the [`ApiKeyContext`] the verification put into the request and
//! answers `403` `INSUFFICIENT_SCOPE` (gRPC `PERMISSION_DENIED`) with
//! `WWW-Authenticate: Bearer realm="…", error="insufficient_scope", scope="…"`
//! ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)) when the key
//! lacks them. A request without a context (no `ApiKeyLayer` in front: a wiring
//! mistake) is refused with `401` `API_KEY_MISSING`.
//!
//! # Example
//!
//! ```
//! use axum::{Router, body::Body, routing::{get, post}};
//! use http::{Request, StatusCode};
//! use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId, scopes::Scopes};
//! use portcullis_api_keys::api_key::{ApiKeyLayer, RequireScopesLayer};
//! use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
//! use portcullis_api_keys::store::memory::MemoryKeyStore;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (store, hasher) = (MemoryKeyStore::new(), KeyHasher::sha256());
//! let app = Router::new()
//!     .route("/invoices", get(|| async { "[]" }).route_layer(RequireScopesLayer::all(["invoices:read"])?))
//!     .route("/invoices", post(|| async { "{}" }).route_layer(RequireScopesLayer::all(["invoices:write"])?))
//!     .route("/reports", get(|| async { "[]" }).route_layer(RequireScopesLayer::any(["reports:read", "admin"])?))
//!     .layer(ApiKeyLayer::new(store.clone(), hasher.clone()));
//!
//! // A read-only key.
//! let keys = KeyLifecycle::new(store, KeyFormat::default(), hasher);
//! let new = NewKey::new(TenantId::new("acme")).scopes(Scopes::new(["invoices:read"])?);
//! let key = keys.create(new).await?.key;
//! let call = |request: http::request::Builder| {
//!     let request = request.header("x-api-key", key.expose_secret()).body(Body::empty()).unwrap();
//!     app.clone().oneshot(request)
//! };
//!
//! assert_eq!(call(Request::get("/invoices")).await?.status(), StatusCode::OK);
//! let refused = call(Request::post("/invoices")).await?;
//! assert_eq!(refused.status(), StatusCode::FORBIDDEN);
//! assert_eq!(
//!     refused.headers()["www-authenticate"],
//!     r#"Bearer realm="api", error="insufficient_scope", scope="invoices:write""#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use portcullis_core::body::ResponseBody;
use portcullis_core::grpc::is_grpc_request;
use tower_layer::Layer;
use tower_service::Service;

use super::challenge::{DEFAULT_REALM, challenge};
use super::context::ApiKeyContext;
use super::rejection::{ApiKeyRejection, Refusal};
use super::requirement::Requirement;
use crate::error::ParseError;
use crate::scopes::Scopes;

/// Requires scopes of the key a request was verified with; see the
/// [module docs](self). Cheap to clone.
///
/// ```
/// use portcullis_api_keys::api_key::RequireScopesLayer;
/// let layer = RequireScopesLayer::all(["invoices:read", "invoices:write"]).unwrap();
/// assert_eq!(layer.scopes().len(), 2);
/// assert!(RequireScopesLayer::all(["not a scope"]).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct RequireScopesLayer {
    requirement: Arc<Requirement>,
}

impl RequireScopesLayer {
    /// Requires every one of `scopes`. Fails on a string that is not a scope token.
    pub fn all<I>(scopes: I) -> Result<Self, ParseError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Ok(Self::from_scopes(Scopes::new(scopes)?, false))
    }

    /// Requires at least one of `scopes`. Fails on a string that is not a scope
    /// token.
    pub fn any<I>(scopes: I) -> Result<Self, ParseError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Ok(Self::from_scopes(Scopes::new(scopes)?, true))
    }

    fn from_scopes(scopes: Scopes, any: bool) -> Self {
        Self {
            requirement: Arc::new(Requirement::new(scopes, any)),
        }
    }

    /// The scopes required.
    ///
    /// ```
    /// use portcullis_api_keys::api_key::RequireScopesLayer;
    /// let layer = RequireScopesLayer::any(["b", "a"]).unwrap();
    /// assert_eq!(layer.scopes().to_string(), "a b");
    /// ```
    pub fn scopes(&self) -> &Scopes {
        self.requirement.scopes()
    }
}

impl<S> Layer<S> for RequireScopesLayer {
    type Service = RequireScopes<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopes::new(inner, self.clone())
    }
}

/// Refuses requests whose key lacks scopes; built by [`RequireScopesLayer`].
#[derive(Clone)]
pub struct RequireScopes<S> {
    inner: S,
    requirement: Arc<Requirement>,
}

impl<S: fmt::Debug> fmt::Debug for RequireScopes<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopes")
            .field("inner", &self.inner)
            .field("scopes", self.requirement.scopes())
            .field("any", &self.requirement.any())
            .finish()
    }
}

impl<S> RequireScopes<S> {
    /// Requires what `layer` says in front of `inner`.
    pub fn new(inner: S, layer: RequireScopesLayer) -> Self {
        Self {
            inner,
            requirement: layer.requirement,
        }
    }

    /// The layer requiring every one of `scopes`: [`RequireScopesLayer::all`].
    pub fn layer<I>(scopes: I) -> Result<RequireScopesLayer, ParseError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        RequireScopesLayer::all(scopes)
    }

    portcullis_core::define_inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScopes<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let refusal = match request.extensions().get::<ApiKeyContext>() {
            Some(context) if self.requirement.is_met_by(context.scopes()) => None,
            Some(context) => {
                tracing::info!(
                    target: "portcullis_api_keys",
                    key_id = %context.key_id(),
                    tenant = %context.tenant(),
                    required = %self.requirement.attribute(),
                    any = self.requirement.any(),
                    "API key lacks a required scope",
                );
                Some(Refusal::insufficient_scope(
                    &self.requirement,
                    self.requirement.challenge(context.realm()),
                ))
            }
            None => {
                tracing::warn!(
                    target: "portcullis_api_keys",
                    "RequireScopes saw a request without an ApiKeyContext: is an ApiKeyLayer in front of it?",
                );
                Some(Refusal::new(
                    ApiKeyRejection::Missing,
                    "Send an API key.",
                    Some(challenge(DEFAULT_REALM, None, None)),
                ))
            }
        };
        match refusal {
            None => ResponseFuture::inner(self.inner.call(request)),
            Some(refusal) => ResponseFuture::refused(refusal, is_grpc_request(request.headers())),
        }
    }
}

pin_project! {
    /// The response future of [`RequireScopes`]: the inner service's, or a refusal.
    ///
    /// ```
    /// use http::{Request, Response, StatusCode};
    /// use portcullis_api_keys::api_key::{RequireScopes, RequireScopesLayer};
    /// use tower::{Service, service_fn};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut service = RequireScopes::new(
    ///     service_fn(|_: Request<()>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) }),
    ///     RequireScopesLayer::all(["admin"]).unwrap(),
    /// );
    /// let future = service.call(Request::new(())); // no verified key in it
    /// assert_eq!(future.await.unwrap().status(), StatusCode::UNAUTHORIZED);
    /// # });
    /// ```
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner {
            #[pin]
            future: F,
        },
        Refused {
            refusal: Option<Refusal>,
            grpc: bool,
        },
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    fn refused(refusal: Refusal, grpc: bool) -> Self {
        Self {
            kind: Kind::Refused {
                refusal: Some(refusal),
                grpc,
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            KindProj::Refused { refusal, grpc } => {
                let Some(refusal) = refusal.take() else {
                    unreachable!("polled after completion")
                };
                Poll::Ready(Ok(refusal.into_response(*grpc)))
            }
        }
    }
}
