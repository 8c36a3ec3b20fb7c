use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::csp::CspNonce;

use super::SecurityHeadersLayer;
use super::future::ResponseFuture;
use super::state::State;

/// The service of [`SecurityHeadersLayer`]; see the [module docs](super).
///
/// It never answers by itself, so the response body type is the inner service's,
/// and its errors pass through untouched.
///
/// ```
/// use http::{Request, Response};
/// use portcullis_security_headers::headers::{SecurityHeaders, SecurityHeadersLayer};
/// use tower::{ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let inner = service_fn(|_: Request<()>| async { Ok::<_, std::convert::Infallible>(Response::new(())) });
/// let service = SecurityHeaders::new(inner, SecurityHeadersLayer::api());
/// let response = service.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(response.headers()["x-content-type-options"], "nosniff");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SecurityHeaders<S> {
    inner: S,
    state: Arc<State>,
}

impl<S> SecurityHeaders<S> {
    /// Wraps `inner` with the headers configured in `layer`.
    pub fn new(inner: S, layer: SecurityHeadersLayer) -> Self {
        tower_layer::Layer::layer(&layer, inner)
    }

    pub(crate) fn from_state(inner: S, state: Arc<State>) -> Self {
        Self { inner, state }
    }

    /// A layer that sends nothing yet, [`SecurityHeadersLayer::new`]; see the presets
    /// there.
    pub fn layer() -> SecurityHeadersLayer {
        SecurityHeadersLayer::new()
    }

    #[cfg(test)]
    pub(crate) fn shares_state_with_layer(&self, layer: &SecurityHeadersLayer) -> bool {
        Arc::ptr_eq(&self.state, layer.state_arc())
    }

    portcullis_core::define_inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let state = &self.state;
        let https = state.needs_https && state.https.is_https(&request);
        let nonce = state.needs_nonce.then(CspNonce::generate);
        if let Some(nonce) = nonce {
            request.extensions_mut().insert(nonce);
        }
        ResponseFuture::new(self.inner.call(request), Arc::clone(state), https, nonce)
    }
}
