//! [`CorsLayer`]: the CORS configuration, its presets, and the Tower layer.

use std::sync::Arc;

use http::Method;
use http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, HeaderName, LOCATION, RETRY_AFTER};
use tower_layer::Layer;

use super::allow_headers::AllowHeaders;
use super::allow_methods::AllowMethods;
use super::allow_origin::AllowOrigin;
use super::config::{Config, CorsConfig, CorsPreset};
use super::expose_headers::ExposeHeaders;
use super::max_age::MaxAge;
use super::origin::{OriginPattern, PatternKind};
use super::service::Cors;
use crate::ConfigError;

/// Applies [CORS](https://developer.mozilla.org/en-US/docs/Web/HTTP/CORS) to a
/// service: answers preflights, adds `Access-Control-*` headers to allowed
/// cross-origin responses, and refuses the rest.
///
/// The layer is its own builder. It starts restrictive: [`CorsLayer::new`] allows no
/// origin at all until one is configured. Fallible setters return
/// `Result<Self, ConfigError>` and check the new value against everything configured
/// so far, so an impossible configuration never reaches a request. The configuration
/// (with every constant header value prebuilt) lives behind one [`Arc`] shared by all
/// clones of the layer and of its services.
///
/// | preset | origins | methods | headers | exposed | max age | refused actual request | 403 detail |
/// |---|---|---|---|---|---|---|---|
/// | [`new`](Self::new) | none | `GET, HEAD, POST` | none | none | unset | passes through | no |
/// | [`strict`](Self::strict) | none | `GET, HEAD, POST` | `content-type` | none | 10 min | 403 | no |
/// | [`api`](Self::api) | none | `GET, HEAD, POST, PUT, PATCH, DELETE` | `content-type, authorization, x-api-key` | rate-limit headers | 2 h | passes through | no |
/// | [`development`](Self::development) | `http://localhost:*`, `http://127.0.0.1:*`, `http://[::1]:*` | as `api` | as `api` | as `api` | unset | passes through | yes |
///
/// # Example
///
/// ```
/// use http::{Method, Request, Response, StatusCode};
/// use portcullis_security_headers::cors::CorsLayer;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cors = CorsLayer::api().allow_origins_list("https://app.example.com,https://*.example.com")?;
/// let service = ServiceBuilder::new().layer(cors).service(service_fn(|_: Request<()>| async {
///     Ok::<_, std::convert::Infallible>(Response::new(String::from("{}")))
/// }));
///
/// let preflight = Request::builder()
///     .method(Method::OPTIONS)
///     .uri("/orders")
///     .header("origin", "https://shop.example.com")
///     .header("access-control-request-method", "PUT")
///     .header("access-control-request-headers", "content-type")
///     .body(())?;
/// let response = service.clone().oneshot(preflight).await?;
/// assert_eq!(response.status(), StatusCode::NO_CONTENT);
/// assert_eq!(response.headers()["access-control-allow-origin"], "https://shop.example.com");
///
/// let evil = Request::builder()
///     .method(Method::OPTIONS)
///     .header("origin", "https://example.com.evil.net")
///     .header("access-control-request-method", "PUT")
///     .body(())?;
/// let response = service.oneshot(evil).await?;
/// assert_eq!(response.status(), StatusCode::FORBIDDEN);
/// assert!(response.headers().get("access-control-allow-origin").is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct CorsLayer {
    pub(crate) config: Arc<Config>,
}

fn api_methods() -> AllowMethods {
    AllowMethods::from([
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ])
}

fn api_headers() -> AllowHeaders {
    AllowHeaders::from([
        CONTENT_TYPE,
        AUTHORIZATION,
        HeaderName::from_static("x-api-key"),
    ])
}

fn api_exposed_headers() -> ExposeHeaders {
    ExposeHeaders::from([
        HeaderName::from_static("ratelimit"),
        HeaderName::from_static("ratelimit-policy"),
        RETRY_AFTER,
        HeaderName::from_static("x-ratelimit-limit"),
        HeaderName::from_static("x-ratelimit-remaining"),
        HeaderName::from_static("x-ratelimit-reset"),
        HeaderName::from_static("x-request-id"),
        ETAG,
        LOCATION,
    ])
}

/// Loopback hosts, the only ones a port wildcard may name.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl CorsLayer {
    /// The restrictive default: no origin allowed, methods `GET, HEAD, POST`, no
    /// extra request headers, nothing exposed, no max age, no credentials; refused
    /// actual requests pass through without CORS headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// For browser apps on a known set of origins: methods `GET, HEAD, POST`, request
    /// header `content-type`, a 10 minute max age, no credentials, and refused actual
    /// requests answered with 403 (except those a browser marks
    /// `Sec-Fetch-Site: same-origin`). No origin until configured.
    pub fn strict() -> Self {
        Self::from_config_values(Config::preset(
            AllowMethods::default(),
            AllowHeaders::from([CONTENT_TYPE]),
            ExposeHeaders::default(),
            Some(MaxAge::from_secs(600)),
            true,
            false,
        ))
    }

    /// For JSON APIs: methods `GET, HEAD, POST, PUT, PATCH, DELETE`; request headers
    /// `content-type`, `authorization`, `x-api-key`; exposes the rate-limit headers
    /// (`RateLimit`, `RateLimit-Policy`, `Retry-After`, `X-RateLimit-*`) plus
    /// `X-Request-Id`, `ETag` and `Location`; a two hour max age (Chromium's cap).
    /// No origin until configured.
    pub fn api() -> Self {
        Self::from_config_values(Config::preset(
            api_methods(),
            api_headers(),
            api_exposed_headers(),
            Some(MaxAge::from_secs(7200)),
            false,
            false,
        ))
    }

    /// For local development: the [`api`](Self::api) methods and headers, the
    /// origins `http://localhost:*`, `http://127.0.0.1:*` and `http://[::1]:*` (any
    /// port, which no other preset accepts), no max age (browsers then cache
    /// preflights for seconds, so configuration changes show at once), and 403
    /// answers whose problem `detail` says which origin, method or header was refused.
    pub fn development() -> Self {
        let mut config = Config::preset(
            api_methods(),
            api_headers(),
            api_exposed_headers(),
            None,
            false,
            true,
        );
        config.origins = LOOPBACK_HOSTS
            .iter()
            .map(|host| OriginPattern::any_port("http", host))
            .collect();
        Self::from_config_values(config)
    }

    /// Builds the layer from a deserialized [`CorsConfig`], checking it the same way
    /// the setters do.
    ///
    /// ```
    /// use portcullis_security_headers::cors::{CorsConfig, CorsLayer};
    ///
    /// let config: CorsConfig = serde_json::from_str(r#"{
    ///     "preset": "api",
    ///     "allowed_origins": "https://app.example.com,https://*.example.com",
    ///     "allow_credentials": true
    /// }"#).unwrap();
    /// let layer = CorsLayer::from_config(config)?;
    /// assert!(layer.allowed_origins().allows(&"https://eu.example.com".parse().unwrap()));
    /// assert!(!layer.allowed_origins().allows(&"https://example.org".parse().unwrap()));
    /// # Ok::<(), portcullis_security_headers::ConfigError>(())
    /// ```
    pub fn from_config(config: CorsConfig) -> Result<Self, ConfigError> {
        let mut layer = match config.preset {
            CorsPreset::Default => Self::new(),
            CorsPreset::Strict => Self::strict(),
            CorsPreset::Api => Self::api(),
            CorsPreset::Development => Self::development(),
        };
        layer = layer.allow_origins(config.allowed_origins)?;
        if config.insecure_allow_any_origin {
            layer = layer.insecure_allow_any_origin()?;
        }
        layer = layer.allow_credentials(config.allow_credentials)?;
        if let Some(methods) = config.allow_methods {
            layer = layer.allow_methods(methods);
        }
        if let Some(headers) = config.allow_headers {
            layer = layer.allow_headers(headers);
        }
        if let Some(exposed) = config.expose_headers {
            layer = layer.expose_headers(exposed);
        }
        if let Some(max_age) = config.max_age {
            layer = layer.max_age(max_age);
        }
        if let Some(reject) = config.reject_disallowed_origins {
            layer = layer.reject_disallowed_origins(reject);
        }
        Ok(layer.allow_private_network(config.allow_private_network))
    }

    fn from_config_values(config: Config) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Allows one more origin or origin pattern (see [`OriginPattern`] for the
    /// forms), answered by echoing it in
    /// [`Access-Control-Allow-Origin`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Origin).
    ///
    /// Fails on a malformed origin, `null`, a wildcard over a public suffix, a port
    /// wildcard outside [`development`](Self::development), or when any origin is
    /// allowed already.
    ///
    /// ```
    /// use portcullis_security_headers::{ConfigError, cors::CorsLayer};
    ///
    /// let layer = CorsLayer::new()
    ///     .allow_origin("https://app.example.com")?
    ///     .allow_origin("https://*.example.com")?;
    /// assert!(matches!(CorsLayer::new().allow_origin("http://localhost:*"), Err(ConfigError::CorsPortWildcard { .. })));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn allow_origin(self, origin: &str) -> Result<Self, ConfigError> {
        self.allow_origins(origin.parse::<OriginPattern>()?)
    }

    /// Allows every origin of a list (the origins allowed before stay allowed), as
    /// [`Access-Control-Allow-Origin`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Origin) answers.
    ///
    /// Same checks as [`allow_origin`](Self::allow_origin).
    pub fn allow_origins(mut self, origins: impl Into<AllowOrigin>) -> Result<Self, ConfigError> {
        let origins = origins.into();
        if origins.is_empty() {
            return Ok(self);
        }
        if self.config.any_origin {
            return Err(ConfigError::CorsOriginsWithAnyOrigin);
        }
        for pattern in origins.patterns() {
            if let PatternKind::AnyPort { host, .. } = pattern.kind()
                && (!self.config.port_wildcards || !LOOPBACK_HOSTS.contains(&host.as_str()))
            {
                return Err(ConfigError::CorsPortWildcard {
                    pattern: pattern.to_string(),
                });
            }
        }
        let config = self.config_mut();
        for pattern in origins.patterns() {
            config.origins.push(pattern.clone());
        }
        Ok(self)
    }

    /// Allows the origins of a comma-separated list, as read from an environment
    /// variable such as `ALLOWED_ORIGINS` (see
    /// [`Access-Control-Allow-Origin`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Origin)). Blank items are skipped; same checks as
    /// [`allow_origin`](Self::allow_origin).
    pub fn allow_origins_list(self, origins: &str) -> Result<Self, ConfigError> {
        self.allow_origins(origins.parse::<AllowOrigin>()?)
    }

    /// Allows every origin, answering
    /// [`Access-Control-Allow-Origin: *`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Origin).
    ///
    /// Only for public, unauthenticated resources. Fails when credentials are
    /// allowed or origins were listed. Responses then do not vary by origin, so no
    /// `Vary: Origin` is added.
    ///
    /// ```
    /// use portcullis_security_headers::{ConfigError, cors::CorsLayer};
    ///
    /// let public = CorsLayer::new().insecure_allow_any_origin()?;
    /// let with_credentials = CorsLayer::new().allow_credentials(true)?.insecure_allow_any_origin();
    /// assert!(matches!(with_credentials, Err(ConfigError::CorsCredentialsWithAnyOrigin)));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn insecure_allow_any_origin(mut self) -> Result<Self, ConfigError> {
        if self.config.credentials {
            return Err(ConfigError::CorsCredentialsWithAnyOrigin);
        }
        if !self.config.origins.is_empty() {
            return Err(ConfigError::CorsOriginsWithAnyOrigin);
        }
        let config = self.config_mut();
        config.origins = AllowOrigin::none();
        config.any_origin = true;
        Ok(self)
    }

    /// Sends
    /// [`Access-Control-Allow-Credentials: true`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Credentials)
    /// so browsers include cookies and HTTP authentication. Fails when any origin is
    /// allowed.
    ///
    /// ```
    /// use portcullis_security_headers::{ConfigError, cors::CorsLayer};
    ///
    /// let layer = CorsLayer::api().allow_origin("https://app.example.com")?.allow_credentials(true)?;
    /// let any = CorsLayer::new().insecure_allow_any_origin()?.allow_credentials(true);
    /// assert!(matches!(any, Err(ConfigError::CorsCredentialsWithAnyOrigin)));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn allow_credentials(mut self, allow: bool) -> Result<Self, ConfigError> {
        if allow && self.config.any_origin {
            return Err(ConfigError::CorsCredentialsWithAnyOrigin);
        }
        self.config_mut().credentials = allow;
        Ok(self)
    }

    /// Replaces the methods a preflight may ask for
    /// ([`Access-Control-Allow-Methods`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Methods)).
    /// Parse text with [`AllowMethods::list`] or `str::parse` to validate it.
    #[must_use]
    pub fn allow_methods(mut self, methods: impl Into<AllowMethods>) -> Self {
        self.config_mut().methods = methods.into();
        self
    }

    /// Replaces the request headers a preflight may ask for
    /// ([`Access-Control-Allow-Headers`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Headers)).
    #[must_use]
    pub fn allow_headers(mut self, headers: impl Into<AllowHeaders>) -> Self {
        self.config_mut().headers = headers.into();
        self
    }

    /// Replaces the response headers scripts may read
    /// ([`Access-Control-Expose-Headers`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Expose-Headers)).
    #[must_use]
    pub fn expose_headers(mut self, headers: impl Into<ExposeHeaders>) -> Self {
        self.config_mut().expose = headers.into();
        self
    }

    /// Sets how long browsers may cache a preflight answer
    /// ([`Access-Control-Max-Age`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Max-Age)).
    #[must_use]
    pub fn max_age(mut self, max_age: impl Into<MaxAge>) -> Self {
        self.config_mut().max_age = Some(max_age.into());
        self
    }

    /// Sends no `Access-Control-Max-Age` (browsers then cache preflights for five
    /// seconds).
    #[must_use]
    pub fn without_max_age(mut self) -> Self {
        self.config_mut().max_age = None;
        self
    }

    /// Answers a preflight carrying `Access-Control-Request-Private-Network: true`
    /// with `Access-Control-Allow-Private-Network: true`, letting public sites reach
    /// this service on a private network
    /// ([Private Network Access](https://wicg.github.io/private-network-access/)).
    /// Off by default.
    #[must_use]
    pub fn allow_private_network(mut self, allow: bool) -> Self {
        self.config_mut().private_network = allow;
        self
    }

    /// Answers actual (non-preflight) requests from a refused origin with 403
    /// problem+json ([RFC 9457](https://www.rfc-editor.org/rfc/rfc9457)) instead of
    /// passing them, without CORS headers, to the service.
    /// Requests a browser marks `Sec-Fetch-Site: same-origin` still pass. On in
    /// [`strict`](Self::strict).
    ///
    /// Browsers already hide such responses from scripts, but the handler still runs:
    /// refusing stops cross-site side effects (a form `POST` from another site).
    #[must_use]
    pub fn reject_disallowed_origins(mut self, reject: bool) -> Self {
        self.config_mut().reject_disallowed = reject;
        self
    }

    /// The allowed origins (empty when none, or when any origin is allowed).
    pub fn allowed_origins(&self) -> &AllowOrigin {
        &self.config.origins
    }

    /// Whether every origin is allowed ([`insecure_allow_any_origin`](Self::insecure_allow_any_origin)).
    pub fn allows_any_origin(&self) -> bool {
        self.config.any_origin
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cors::new(inner, self.clone())
    }
}
