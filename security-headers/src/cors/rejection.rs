//! Why a request was refused.

use std::fmt;

/// Why [`Cors`](super::Cors) answered 403, in the response extensions next to the
/// [`Problem`](portcullis_core::problem::Problem), for outer layers (audit, metrics).
/// It never reaches the client.
///
/// ```
/// use http::{Method, Request, StatusCode};
/// use portcullis_security_headers::cors::{CorsLayer, CorsRejection};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let service = ServiceBuilder::new()
///     .layer(CorsLayer::strict().allow_origin("https://app.example.com")?)
///     .service(service_fn(|_: Request<()>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     }));
/// let preflight = Request::builder()
///     .method(Method::OPTIONS)
///     .header("origin", "https://app.example.com")
///     .header("access-control-request-method", "DELETE")
///     .body(())?;
/// let response = service.oneshot(preflight).await?;
/// assert_eq!(response.status(), StatusCode::FORBIDDEN);
/// assert_eq!(response.extensions().get::<CorsRejection>(), Some(&CorsRejection::Method));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CorsRejection {
    /// The `Origin` is not allowed (or is `null`, or malformed).
    Origin,
    /// The `Access-Control-Request-Method` of a preflight is not allowed.
    Method,
    /// A header in the `Access-Control-Request-Headers` of a preflight is not allowed.
    Header,
}

impl fmt::Display for CorsRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Origin => "origin not allowed",
            Self::Method => "method not allowed",
            Self::Header => "request header not allowed",
        })
    }
}
