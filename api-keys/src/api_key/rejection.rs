//! [`ApiKeyRejection`]: why a request was refused, and the response that says so.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, Response, StatusCode};
use portcullis_core::body::ResponseBody;
use portcullis_core::problem::Problem;

use super::requirement::Requirement;

/// Why a request was refused: the stable `code` of its problem+json answer, which
/// also travels in the response extensions (with the
/// [`Problem`](portcullis_core::problem::Problem)) for outer layers (audit, metrics).
///
/// | reason | status | `code` | `WWW-Authenticate` |
/// |---|---|---|---|
/// | [`Missing`](Self::Missing) | 401 | `API_KEY_MISSING` | `Bearer realm="api"` |
/// | [`Malformed`](Self::Malformed) | 401 | `API_KEY_MALFORMED` | `…, error="invalid_token"` (`"invalid_request"` for an unreadable header or two keys) |
/// | [`Invalid`](Self::Invalid) | 401 | `API_KEY_INVALID` | `…, error="invalid_token"` |
/// | [`Revoked`](Self::Revoked) | 401 | `API_KEY_REVOKED` | `…, error="invalid_token"` |
/// | [`Expired`](Self::Expired) | 401 | `API_KEY_EXPIRED` | `…, error="invalid_token"` |
/// | [`InsufficientScope`](Self::InsufficientScope) | 403 | `INSUFFICIENT_SCOPE` | `…, error="insufficient_scope", scope="…"` |
/// | [`Unavailable`](Self::Unavailable) | 503 | `API_KEY_UNAVAILABLE` | none |
///
/// gRPC callers get `grpc-status` 16 (`UNAUTHENTICATED`) for the 401s, 7
/// (`PERMISSION_DENIED`) for 403 and 14 (`UNAVAILABLE`) for 503.
///
/// ```
/// use http::StatusCode;
/// use portcullis_api_keys::api_key::ApiKeyRejection;
///
/// assert_eq!(ApiKeyRejection::Revoked.code(), "API_KEY_REVOKED");
/// assert_eq!(ApiKeyRejection::InsufficientScope.status(), StatusCode::FORBIDDEN);
/// assert_eq!(ApiKeyRejection::Unavailable.to_string(), "API_KEY_UNAVAILABLE");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiKeyRejection {
    /// The request carries no key in any of the layer's sources.
    Missing,
    /// The key cannot be read (not visible ASCII, empty, `Bearer` without a token),
    /// the request carries more than one, or it fails the format or checksum check.
    /// No cache or store was asked.
    Malformed,
    /// A well-formed key that the store does not hold, or of an environment the layer
    /// refuses. Says nothing of keys of other tenants.
    Invalid,
    /// The key was revoked.
    Revoked,
    /// The key expired.
    Expired,
    /// The key lacks a scope the route requires.
    InsufficientScope,
    /// The key store did not answer; the request may be retried.
    Unavailable,
}

impl ApiKeyRejection {
    /// The stable machine code of the problem.
    ///
    /// ```
    /// use portcullis_api_keys::api_key::ApiKeyRejection;
    /// assert_eq!(ApiKeyRejection::Missing.code(), "API_KEY_MISSING");
    /// ```
    pub const fn code(self) -> &'static str {
        match self {
            Self::Missing => "API_KEY_MISSING",
            Self::Malformed => "API_KEY_MALFORMED",
            Self::Invalid => "API_KEY_INVALID",
            Self::Revoked => "API_KEY_REVOKED",
            Self::Expired => "API_KEY_EXPIRED",
            Self::InsufficientScope => "INSUFFICIENT_SCOPE",
            Self::Unavailable => "API_KEY_UNAVAILABLE",
        }
    }

    /// The HTTP status: 401, 403 or 503.
    ///
    /// ```
    /// use http::StatusCode;
    /// use portcullis_api_keys::api_key::ApiKeyRejection;
    /// assert_eq!(ApiKeyRejection::Expired.status(), StatusCode::UNAUTHORIZED);
    /// ```
    pub const fn status(self) -> StatusCode {
        match self {
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The problem's `title`, the same for every occurrence.
    ///
    /// ```
    /// use portcullis_api_keys::api_key::ApiKeyRejection;
    /// assert_eq!(ApiKeyRejection::Invalid.title(), "API key invalid");
    /// ```
    pub const fn title(self) -> &'static str {
        match self {
            Self::Missing => "API key missing",
            Self::Malformed => "API key malformed",
            Self::Invalid => "API key invalid",
            Self::Revoked => "API key revoked",
            Self::Expired => "API key expired",
            Self::InsufficientScope => "Insufficient scope",
            Self::Unavailable => "API key verification unavailable",
        }
    }
}

impl fmt::Display for ApiKeyRejection {
    /// The code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refusal, turned into a response when the future is polled.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) reason: ApiKeyRejection,
    pub(crate) detail: Cow<'static, str>,
    pub(crate) challenge: Option<HeaderValue>,
    /// For [`ApiKeyRejection::InsufficientScope`]: what was required.
    pub(crate) required: Option<Arc<Requirement>>,
}

impl Refusal {
    pub(crate) fn new(
        reason: ApiKeyRejection,
        detail: impl Into<Cow<'static, str>>,
        challenge: Option<HeaderValue>,
    ) -> Self {
        Self {
            reason,
            detail: detail.into(),
            challenge,
            required: None,
        }
    }

    /// The 403 for a key that lacks the scopes `required` names, with its challenge.
    pub(crate) fn insufficient_scope(required: &Arc<Requirement>, challenge: HeaderValue) -> Self {
        Self {
            required: Some(Arc::clone(required)),
            ..Self::new(
                ApiKeyRejection::InsufficientScope,
                String::from(required.detail()),
                Some(challenge),
            )
        }
    }

    /// problem+json with `WWW-Authenticate`, or a gRPC status; the problem and the
    /// reason in the response extensions.
    pub(crate) fn into_response<B>(self, grpc: bool) -> Response<ResponseBody<B>> {
        let reason = self.reason;
        let mut problem =
            Problem::new(reason.status(), reason.code(), reason.title()).with_detail(self.detail);
        if let Some(required) = &self.required {
            problem = problem.with_extension("required_scopes", required.scopes_json());
        }
        let mut response = if grpc {
            problem.into_grpc_response()
        } else {
            let mut response = problem.into_http_response();
            if let Some(challenge) = self.challenge {
                response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
            }
            response
        };
        response.extensions_mut().insert(reason);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_statuses_and_titles_are_stable() {
        let all = [
            (ApiKeyRejection::Missing, 401, "API_KEY_MISSING"),
            (ApiKeyRejection::Malformed, 401, "API_KEY_MALFORMED"),
            (ApiKeyRejection::Invalid, 401, "API_KEY_INVALID"),
            (ApiKeyRejection::Revoked, 401, "API_KEY_REVOKED"),
            (ApiKeyRejection::Expired, 401, "API_KEY_EXPIRED"),
            (
                ApiKeyRejection::InsufficientScope,
                403,
                "INSUFFICIENT_SCOPE",
            ),
            (ApiKeyRejection::Unavailable, 503, "API_KEY_UNAVAILABLE"),
        ];
        for (reason, status, code) in all {
            assert_eq!(reason.status().as_u16(), status);
            assert_eq!(reason.code(), code);
            assert!(!reason.title().is_empty());
        }
    }
}
