//! The example's own rejections: every one a problem+json response with a stable
//! `code`, like the layers' (`API_KEY_INVALID`, `QUOTA_EXCEEDED`, …).
//!
//! | code | status | when |
//! |---|---|---|
//! | `ADMIN_TOKEN_MISSING` | 401 | an `/admin` request without `Authorization: Bearer` |
//! | `ADMIN_TOKEN_INVALID` | 401 | a wrong admin token |
//! | `INVALID_BODY` | 400 | a body that is not the expected JSON |
//! | `UNSUPPORTED_MEDIA_TYPE` | 415 | a body that is not `application/json` |
//! | `INVALID_FIELD` | 422 | a field with a value out of range (the member says which) |
//! | `TENANT_NOT_FOUND` | 404 | no tenant with that id |
//! | `KEY_NOT_FOUND` | 404 | no API key with that id |
//! | `KEY_NOT_ACTIVE` | 409 | rotating a revoked or expired key |
//! | `NOT_FOUND` | 404 | no such route |
//! | `METHOD_NOT_ALLOWED` | 405 | the route exists, the method does not |
//! | `INVALID_ID` | 400 | an id in the path that no record can have (not UTF-8, a NUL, other than letters, digits, `_`, `-`) |
//! | `PAYLOAD_TOO_LARGE` | 413 | an admin body over [`ADMIN_BODY_LIMIT`](crate::admin::ADMIN_BODY_LIMIT) |
//! | `SERVICE_UNAVAILABLE` | 503 | the database did not answer |
//!
//! Their `type` is `urn:example:billing-api:problem:` and the code in kebab case
//! (`urn:example:billing-api:problem:tenant-not-found`): the layers' codes point at
//! their rows on `portcullis_core::problem`'s page, which lists only Portcullis's own, so
//! an application names its own types. `urn:example:` is the namespace RFC 6963 keeps
//! for examples: a service built from this one puts the URL of its own error
//! documentation here.

use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use portcullis_core::problem::Problem;

/// Where the `type` URIs of the example's own problems start.
pub(crate) const PROBLEM_TYPE_BASE: &str = "urn:example:billing-api:problem:";

/// Why a request handled by the example itself failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("admin token missing")]
    AdminTokenMissing,
    #[error("admin token invalid")]
    AdminTokenInvalid,
    #[error("invalid body: {0}")]
    InvalidBody(String),
    #[error("body too large")]
    PayloadTooLarge,
    #[error("invalid id in the path")]
    InvalidId,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("invalid field `{field}`: {detail}")]
    InvalidField { field: &'static str, detail: String },
    #[error("tenant not found")]
    TenantNotFound,
    #[error("key not found")]
    KeyNotFound,
    #[error("key not active")]
    KeyNotActive,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl ApiError {
    /// The problem document of this error.
    pub(crate) fn problem(&self) -> Problem {
        let problem = self.untyped_problem();
        let kind = problem.code().to_ascii_lowercase().replace('_', "-");
        problem.with_type(format!("{PROBLEM_TYPE_BASE}{kind}"))
    }

    fn untyped_problem(&self) -> Problem {
        match self {
            Self::AdminTokenMissing => Problem::new(
                StatusCode::UNAUTHORIZED,
                "ADMIN_TOKEN_MISSING",
                "Admin token missing",
            )
            .with_detail("Send the admin token as `Authorization: Bearer <token>`."),
            Self::AdminTokenInvalid => Problem::new(
                StatusCode::UNAUTHORIZED,
                "ADMIN_TOKEN_INVALID",
                "Admin token invalid",
            ),
            Self::InvalidBody(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "INVALID_BODY", "Invalid body")
                    .with_detail(detail.clone())
            }
            Self::PayloadTooLarge => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "Payload too large",
            )
            .with_detail(format!(
                "Admin bodies are limited to {} bytes.",
                crate::admin::ADMIN_BODY_LIMIT
            )),
            Self::InvalidId => Problem::new(StatusCode::BAD_REQUEST, "INVALID_ID", "Invalid id")
                .with_detail("Ids are letters, digits, `_` and `-`."),
            Self::UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
            )
            .with_detail("Send the body as `Content-Type: application/json`."),
            Self::InvalidField { field, detail } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_FIELD",
                "Invalid field",
            )
            .with_detail(detail.clone())
            .with_extension("field", *field),
            Self::TenantNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "TENANT_NOT_FOUND",
                "Tenant not found",
            ),
            Self::KeyNotFound => {
                Problem::new(StatusCode::NOT_FOUND, "KEY_NOT_FOUND", "API key not found")
            }
            Self::KeyNotActive => {
                Problem::new(StatusCode::CONFLICT, "KEY_NOT_ACTIVE", "API key not active")
                    .with_detail("Only an active key can be rotated.")
            }
            Self::NotFound => Problem::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found"),
            Self::MethodNotAllowed => Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "Method not allowed",
            ),
            Self::Unavailable(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "Service unavailable",
            )
            .with_detail("The database did not answer; try again shortly."),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Unavailable(reason) = &self {
            tracing::warn!(%reason, "answering 503");
        }
        let mut response = IntoResponse::into_response(self.problem());
        if matches!(self, Self::AdminTokenMissing | Self::AdminTokenInvalid) {
            let challenge = if matches!(self, Self::AdminTokenMissing) {
                r#"Bearer realm="admin""#
            } else {
                r#"Bearer realm="admin", error="invalid_token""#
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            rejection if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge
            }
            other => Self::InvalidBody(other.body_text()),
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        // A value the database refuses (PostgreSQL's class 22, "data exception": a NUL
        // in text, an out-of-range number) came from the client: never a 503, which a
        // client (or Stripe) would retry forever.
        if error.is_data_exception() {
            return Self::InvalidBody("The database refused a value of the request.".into());
        }
        Self::Unavailable(error.to_string())
    }
}

impl From<portcullis_api_keys::lifecycle::LifecycleError> for ApiError {
    fn from(error: portcullis_api_keys::lifecycle::LifecycleError) -> Self {
        use portcullis_api_keys::lifecycle::LifecycleError;
        match error {
            LifecycleError::UnknownKey { .. } => Self::KeyNotFound,
            LifecycleError::NotActive { .. } => Self::KeyNotActive,
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// An id from the path, checked before any lookup: an id no record can have is
/// `400 INVALID_ID`, not a query (PostgreSQL answers a NUL with an error) or axum's
/// plain-text rejection of a path that is not UTF-8.
#[derive(Debug)]
pub(crate) struct PathId(pub(crate) String);

/// The longest id the example issues is 35 characters (`key_…`); room to spare.
const MAX_ID_LENGTH: usize = 64;

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::InvalidId)?;
        let valid = !id.is_empty()
            && id.len() <= MAX_ID_LENGTH
            && id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
        if valid {
            Ok(Self(id))
        } else {
            Err(ApiError::InvalidId)
        }
    }
}

/// The fallback of unknown routes.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The fallback of known routes with another method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
