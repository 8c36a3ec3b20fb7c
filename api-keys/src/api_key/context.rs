//! [`ApiKeyContext`]: the verified key, in the request extensions (and an axum
//! extractor with feature `axum`).

use std::fmt;
use std::sync::Arc;

use crate::format::Environment;
use crate::id::{KeyId, TenantId};
use crate::record::{KeyRecord, Metadata};
use crate::scopes::Scopes;

use super::challenge::DEFAULT_REALM;

/// The key a request was verified with: put into the request extensions by
/// [`ApiKeyLayer`](super::ApiKeyLayer) for handlers and inner layers. Cheap to clone
/// (it shares the cached record).
///
/// With feature `axum` it is an extractor: `ctx: ApiKeyContext` in a handler behind
/// the layer (a handler without the layer in front answers 500, the rejection
/// `MissingApiKeyContext`), or `Option<ApiKeyContext>` where the layer is optional.
///
/// ```
/// use http::Request;
/// use portcullis_api_keys::format::{Environment, KeyFormat};
/// use portcullis_api_keys::hash::KeyHasher;
/// use portcullis_api_keys::id::{KeyId, TenantId};
/// use portcullis_api_keys::api_key::ApiKeyContext;
/// use portcullis_api_keys::record::KeyRecord;
/// use portcullis_api_keys::scopes::Scopes;
/// use portcullis_api_keys::timestamp::Timestamp;
///
/// // As a handler's test would build one.
/// let key = KeyFormat::default().generate();
/// let mut record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
///     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
/// record.scopes = Scopes::new(["invoices:read"])?;
/// record.plan = Some("pro".into());
/// let context = ApiKeyContext::new(record, Environment::Live);
///
/// let mut request = Request::new(());
/// request.extensions_mut().insert(context);
/// let context = request.extensions().get::<ApiKeyContext>().unwrap();
/// assert_eq!(context.tenant().as_str(), "acme");
/// assert_eq!(context.plan(), Some("pro"));
/// assert!(context.has_scope("invoices:read"));
/// # Ok::<(), portcullis_api_keys::error::ParseError>(())
/// ```
#[derive(Clone)]
pub struct ApiKeyContext {
    record: Arc<KeyRecord>,
    environment: Environment,
    /// The realm of the layer that verified the key, for the challenge of a scope
    /// refusal further in.
    realm: Arc<str>,
}

impl ApiKeyContext {
    /// The context of a request made with the key of `record`, in `environment`.
    /// Verification makes these; build one by hand to test a handler.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::*, hash::*, id::*, record::KeyRecord, timestamp::Timestamp};
    /// use portcullis_api_keys::api_key::ApiKeyContext;
    /// # let key = KeyFormat::default().generate();
    /// # let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    /// #     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// let context = ApiKeyContext::new(record, Environment::Test);
    /// assert_eq!(context.environment(), Environment::Test);
    /// ```
    pub fn new(record: impl Into<Arc<KeyRecord>>, environment: Environment) -> Self {
        Self::verified(record.into(), environment, Arc::from(DEFAULT_REALM))
    }

    pub(crate) fn verified(
        record: Arc<KeyRecord>,
        environment: Environment,
        realm: Arc<str>,
    ) -> Self {
        Self {
            record,
            environment,
            realm,
        }
    }

    /// The key's id: safe to log, the handle to revoke or rotate it.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::*, hash::*, id::*, record::KeyRecord, timestamp::Timestamp};
    /// # use portcullis_api_keys::api_key::ApiKeyContext;
    /// # let key = KeyFormat::default().generate();
    /// # let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    /// #     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// let id = record.id;
    /// assert_eq!(ApiKeyContext::new(record, Environment::Live).key_id(), id);
    /// ```
    pub fn key_id(&self) -> KeyId {
        self.record.id
    }

    /// The tenant that owns the key.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::*, hash::*, id::*, record::KeyRecord, timestamp::Timestamp};
    /// # use portcullis_api_keys::api_key::ApiKeyContext;
    /// # let key = KeyFormat::default().generate();
    /// # let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    /// #     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// let context = ApiKeyContext::new(record, Environment::Live);
    /// assert_eq!(context.tenant(), &TenantId::new("acme"));
    /// ```
    pub fn tenant(&self) -> &TenantId {
        &self.record.tenant
    }

    /// The plan the key's requests are billed and limited under; `None` for the
    /// tenant's default.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::*, hash::*, id::*, record::KeyRecord, timestamp::Timestamp};
    /// # use portcullis_api_keys::api_key::ApiKeyContext;
    /// # let key = KeyFormat::default().generate();
    /// # let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    /// #     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// assert_eq!(ApiKeyContext::new(record, Environment::Live).plan(), None);
    /// ```
    pub fn plan(&self) -> Option<&str> {
        self.record.plan.as_deref()
    }

    /// What the key may do.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::*, hash::*, id::*, record::KeyRecord, timestamp::Timestamp};
    /// # use portcullis_api_keys::api_key::ApiKeyContext;
    /// # let key = KeyFormat::default().generate();
    /// # let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    /// #     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// assert!(ApiKeyContext::new(record, Environment::Live).scopes().is_empty());
    /// ```
    pub fn scopes(&self) -> &Scopes {
        &self.record.scopes
    }

    /// Whether the key has `scope`.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::*, hash::*, id::*, record::KeyRecord, timestamp::Timestamp};
    /// # use portcullis_api_keys::{api_key::ApiKeyContext, scopes::Scopes};
    /// # let key = KeyFormat::default().generate();
    /// # let mut record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    /// #     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// record.scopes = Scopes::new(["invoices:read"]).unwrap();
    /// let context = ApiKeyContext::new(record, Environment::Live);
    /// assert!(context.has_scope("invoices:read"));
    /// assert!(!context.has_scope("invoices:write"));
    /// ```
    pub fn has_scope(&self, scope: &str) -> bool {
        self.record.scopes.contains(scope)
    }

    /// The key's free-form metadata.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::*, hash::*, id::*, record::KeyRecord, timestamp::Timestamp};
    /// # use portcullis_api_keys::api_key::ApiKeyContext;
    /// # let key = KeyFormat::default().generate();
    /// # let mut record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    /// #     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// record.metadata.insert("team".into(), "billing".into());
    /// let context = ApiKeyContext::new(record, Environment::Live);
    /// assert_eq!(context.metadata()["team"], "billing");
    /// ```
    pub fn metadata(&self) -> &Metadata {
        &self.record.metadata
    }

    /// The environment of the key presented: with
    /// [`EnvironmentPolicy::Both`](super::EnvironmentPolicy::Both), route test keys to
    /// sandbox data.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::*, hash::*, id::*, record::KeyRecord, timestamp::Timestamp};
    /// # use portcullis_api_keys::api_key::ApiKeyContext;
    /// # let key = KeyFormat::default().generate();
    /// # let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    /// #     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// assert_eq!(ApiKeyContext::new(record, Environment::Live).environment(), Environment::Live);
    /// ```
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The whole record as the store (or the cache) gave it: name, masked key,
    /// creation, expiry.
    ///
    /// ```
    /// # use portcullis_api_keys::{format::*, hash::*, id::*, record::KeyRecord, timestamp::Timestamp};
    /// # use portcullis_api_keys::api_key::ApiKeyContext;
    /// # let key = KeyFormat::default().generate();
    /// # let mut record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    /// #     KeyHasher::sha256().hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// record.name = "CI deploys".into();
    /// let context = ApiKeyContext::new(record, Environment::Live);
    /// assert_eq!(context.record().name, "CI deploys");
    /// assert!(context.record().masked.as_str().starts_with("sk_live_…"));
    /// ```
    pub fn record(&self) -> &KeyRecord {
        &self.record
    }

    pub(crate) fn realm(&self) -> &str {
        &self.realm
    }
}

impl fmt::Debug for ApiKeyContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyContext")
            .field("key_id", &self.record.id)
            .field("tenant", &self.record.tenant)
            .field("plan", &self.record.plan)
            .field("scopes", &self.record.scopes)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "axum")]
pub use self::axum_extractor::MissingApiKeyContext;

#[cfg(feature = "axum")]
mod axum_extractor {
    use std::convert::Infallible;
    use std::fmt;

    use axum::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum::response::{IntoResponse, Response};
    use http::StatusCode;
    use http::request::Parts;
    use portcullis_core::problem::Problem;

    use super::ApiKeyContext;

    /// The rejection of the [`ApiKeyContext`] extractor on a route that no
    /// [`ApiKeyLayer`](crate::api_key::ApiKeyLayer) covers: a wiring mistake, answered
    /// with 500 problem+json (`API_KEY_CONTEXT_MISSING`) and logged, so the route
    /// fails closed.
    ///
    /// ```
    /// use axum::{Router, body::Body, routing::get};
    /// use http::{Request, StatusCode};
    /// use portcullis_api_keys::api_key::ApiKeyContext;
    /// use tower::ServiceExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// // No ApiKeyLayer in front of the handler.
    /// let app = Router::new().route("/", get(|ctx: ApiKeyContext| async move { ctx.tenant().to_string() }));
    /// let response = app.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
    /// assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// # });
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct MissingApiKeyContext;

    impl fmt::Display for MissingApiKeyContext {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "no ApiKeyContext in the request: is an ApiKeyLayer in front of this route?",
            )
        }
    }

    impl std::error::Error for MissingApiKeyContext {}

    impl IntoResponse for MissingApiKeyContext {
        fn into_response(self) -> Response {
            tracing::error!(target: "portcullis_api_keys", "{self}");
            let problem = Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "API_KEY_CONTEXT_MISSING",
                "API key context missing",
            )
            .with_detail("The server could not identify the API key of this request.");
            IntoResponse::into_response(problem)
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for ApiKeyContext {
        type Rejection = MissingApiKeyContext;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<Self>()
                .cloned()
                .ok_or(MissingApiKeyContext)
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for ApiKeyContext {
        type Rejection = Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(parts.extensions.get::<Self>().cloned())
        }
    }
}
