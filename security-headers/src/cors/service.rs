//! [`Cors`]: the service that applies a [`CorsLayer`] configuration.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use portcullis_core::body::ResponseBody;
use tower_service::Service;

use super::config::Config;
use super::future::ResponseFuture;
use super::layer::CorsLayer;
use super::verdict::{Verdict, decide};

/// Applies [CORS](https://developer.mozilla.org/en-US/docs/Web/HTTP/CORS) to the
/// requests of an inner service; built by [`CorsLayer`].
///
/// - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is
///   answered here: 204 with the `Access-Control-Allow-*` headers when the origin,
///   the method and every requested header are allowed, otherwise 403 problem+json
///   (code `CORS_PREFLIGHT_REJECTED`, a gRPC status for gRPC callers) with no CORS
///   headers. Any other `OPTIONS` request goes to the inner service.
/// - An actual request from an allowed origin reaches the inner service and its
///   response gets `Access-Control-Allow-Origin` (the origin echoed),
///   `Access-Control-Allow-Credentials` and `Access-Control-Expose-Headers` as
///   configured. From a refused origin it passes without CORS headers, or gets 403
///   `CORS_ORIGIN_REJECTED` with [`CorsLayer::reject_disallowed_origins`].
/// - `Vary: Origin` is merged into every passed response whose CORS headers depend
///   on the origin, that is unless any origin is allowed.
///
/// ```
/// use http::{Request, Response, StatusCode};
/// use portcullis_security_headers::cors::{Cors, CorsLayer};
/// use tower::{ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let inner = service_fn(|_: Request<()>| async {
///     Ok::<_, std::convert::Infallible>(Response::new(String::from("hi")))
/// });
/// let cors = Cors::new(inner, CorsLayer::new().allow_origin("https://app.example.com")?);
/// let request = Request::builder().header("origin", "https://app.example.com").body(())?;
/// let response = cors.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
/// assert_eq!(response.headers()["vary"], "Origin");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Cors<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Cors<S> {
    /// Wraps `inner` with the configuration of `layer`.
    pub fn new(inner: S, layer: CorsLayer) -> Self {
        Self {
            inner,
            config: layer.config,
        }
    }

    /// A [`CorsLayer`] with the restrictive defaults, to configure.
    pub fn layer() -> CorsLayer {
        CorsLayer::new()
    }

    portcullis_core::define_inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
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
        match decide(&self.config, &request) {
            Verdict::Pass(decorate) => ResponseFuture::inner(self.inner.call(request), decorate),
            Verdict::Answer(answer) => ResponseFuture::answer(answer),
        }
    }
}
