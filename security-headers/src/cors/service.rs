//! [`Cors`]: the service that applies a [`CorsLayer`] configuration.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use portcullis_core::body::ResponseBody;
use portcullis_core::grpc::is_grpc_request;
use tower_service::Service;

use super::future::{Answer, Decorate, ResponseFuture};
use super::layer::{Config, CorsLayer};
use super::rejection::CorsRejection;

/// The `code` of the problem answered to a refused preflight.
pub const PREFLIGHT_REJECTED: &str = "CORS_PREFLIGHT_REJECTED";
/// The `code` of the problem answered to a refused actual request (only with
/// [`CorsLayer::reject_disallowed_origins`]).
pub const ORIGIN_REJECTED: &str = "CORS_ORIGIN_REJECTED";

const VARY_PREFLIGHT: HeaderValue = HeaderValue::from_static(
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
);
const VARY_PREFLIGHT_ANY_ORIGIN: HeaderValue =
    HeaderValue::from_static("Access-Control-Request-Method, Access-Control-Request-Headers");
const TRUE: HeaderValue = HeaderValue::from_static("true");
const ANY: HeaderValue = HeaderValue::from_static("*");
const REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");
const ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
/// How much of a refused value a development 403 quotes.
const MAX_QUOTED: usize = 200;

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

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
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
        let config = &*self.config;
        let headers = request.headers();
        let Some(origin) = headers.get(ORIGIN) else {
            let decorate = if config.any_origin {
                Decorate::Nothing
            } else {
                Decorate::Vary
            };
            return ResponseFuture::inner(self.inner.call(request), decorate);
        };

        if request.method() == Method::OPTIONS
            && let Some(method) = headers.get(ACCESS_CONTROL_REQUEST_METHOD)
        {
            return ResponseFuture::answer(preflight(config, origin, method, headers));
        }

        let decorate = match allowed_origin(config, origin) {
            Some(allowed) => Decorate::Allow {
                origin: allowed,
                credentials: config.credentials,
                expose: config.expose.header_value().cloned(),
                vary: !config.any_origin,
            },
            None if config.reject_disallowed && !is_same_origin(headers) => {
                return ResponseFuture::answer(reject(
                    config,
                    headers,
                    ORIGIN_REJECTED,
                    "Cross-origin request rejected",
                    CorsRejection::Origin,
                    origin.as_bytes(),
                ));
            }
            None => Decorate::Vary,
        };
        ResponseFuture::inner(self.inner.call(request), decorate)
    }
}

/// The `Access-Control-Allow-Origin` value for an allowed origin.
fn allowed_origin(config: &Config, origin: &HeaderValue) -> Option<HeaderValue> {
    if config.any_origin {
        Some(ANY)
    } else {
        config.origins.allow(origin)
    }
}

/// Whether a browser says the request comes from the server's own origin (a
/// forbidden request header: scripts cannot set it).
fn is_same_origin(headers: &HeaderMap) -> bool {
    headers
        .get(SEC_FETCH_SITE)
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"same-origin"))
}

fn preflight(
    config: &Config,
    origin: &HeaderValue,
    method: &HeaderValue,
    headers: &HeaderMap,
) -> Answer {
    let refuse = |reason, value: &[u8]| {
        reject(
            config,
            headers,
            PREFLIGHT_REJECTED,
            "CORS preflight rejected",
            reason,
            value,
        )
    };
    let Some(allow_origin) = allowed_origin(config, origin) else {
        return refuse(CorsRejection::Origin, origin.as_bytes());
    };
    if !config.methods.allows(method.as_bytes()) {
        return refuse(CorsRejection::Method, method.as_bytes());
    }
    if let Some(header) = config
        .headers
        .first_refused(headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS))
    {
        return refuse(CorsRejection::Header, header);
    }

    // Exactly as many entries as inserted below: one allocation, no growth.
    let entries = 3
        + usize::from(config.headers.header_value().is_some())
        + usize::from(config.max_age.is_some())
        + usize::from(config.credentials)
        + usize::from(config.private_network);
    let mut answer = HeaderMap::with_capacity(entries);
    answer.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    answer.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        config.methods.header_value().clone(),
    );
    if let Some(allow_headers) = config.headers.header_value() {
        answer.insert(ACCESS_CONTROL_ALLOW_HEADERS, allow_headers.clone());
    }
    if let Some(max_age) = &config.max_age {
        answer.insert(ACCESS_CONTROL_MAX_AGE, max_age.header_value().clone());
    }
    if config.credentials {
        answer.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
    }
    if config.private_network
        && headers
            .get(REQUEST_PRIVATE_NETWORK)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"true"))
    {
        answer.insert(ALLOW_PRIVATE_NETWORK, TRUE);
    }
    answer.insert(
        VARY,
        if config.any_origin {
            VARY_PREFLIGHT_ANY_ORIGIN
        } else {
            VARY_PREFLIGHT
        },
    );
    Answer::Preflight(answer)
}

fn reject(
    config: &Config,
    headers: &HeaderMap,
    code: &'static str,
    title: &'static str,
    reason: CorsRejection,
    value: &[u8],
) -> Answer {
    Answer::Reject {
        code,
        title,
        detail: config.detailed_rejections.then(|| detail(reason, value)),
        reason,
        grpc: is_grpc_request(headers),
    }
}

/// The development detail: what was refused, quoted (and cut short).
fn detail(reason: CorsRejection, value: &[u8]) -> String {
    let quoted = String::from_utf8_lossy(&value[..value.len().min(MAX_QUOTED)]);
    match reason {
        CorsRejection::Origin => format!("The origin `{quoted}` is not allowed."),
        CorsRejection::Method => format!("The method `{quoted}` is not allowed."),
        CorsRejection::Header => format!("The request header `{quoted}` is not allowed."),
    }
}
