use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Empty;
use portcullis_core::body::ResponseBody;
use portcullis_core::problem::Problem;

use crate::error::VerifyError;

/// The body of the service's responses: a short JSON acknowledgement or a
/// problem+json document.
pub type WebhookBody = ResponseBody<Empty<Bytes>>;

/// How an accepted (`2xx`) delivery was answered; in the response extensions.
///
/// ```
/// use portcullis_stripe_webhook::endpoint::Outcome;
/// assert_eq!(Outcome::Duplicate.as_str(), "duplicate");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler ran and succeeded.
    Handled,
    /// The event was handled before: the handler did not run.
    Duplicate,
    /// The handler failed with a permanent error: acknowledged so the provider stops
    /// retrying, and logged.
    Failed,
}

impl Outcome {
    /// The outcome's name in the response body (`{"received":true,"outcome":"…"}`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Handled => "handled",
            Self::Duplicate => "duplicate",
            Self::Failed => "failed",
        }
    }
}

/// Why a delivery was refused (any non-`2xx`); in the response extensions, next to the
/// [`Problem`], for outer layers such as an audit log. It holds the precise reason the
/// response body leaves out.
///
/// ```
/// use portcullis_stripe_webhook::endpoint::Rejection;
/// assert_eq!(Rejection::InProgress.code(), "WEBHOOK_IN_PROGRESS");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a `POST` (`405`).
    MethodNotAllowed,
    /// The body exceeds the limit (`413`).
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read (`400`).
    BodyUnreadable {
        /// The body error.
        reason: String,
    },
    /// The body is empty (`400`).
    BodyEmpty,
    /// The signature did not verify (`400`; the body says only that).
    Signature(VerifyError),
    /// The verified body is not an event of the scheme (`400`).
    Payload {
        /// Why.
        reason: String,
    },
    /// Another delivery of the event is being handled (`409`: retry later).
    InProgress,
    /// The idempotency store failed (`503`).
    StoreUnavailable {
        /// The store error, with its sources.
        reason: String,
    },
    /// The handler failed with a retryable error (`500`).
    HandlerFailed {
        /// The handler error, with its sources.
        reason: String,
    },
}

impl Rejection {
    /// The stable problem `code` of the response.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::BodyTooLarge { .. } => "WEBHOOK_BODY_TOO_LARGE",
            Self::BodyUnreadable { .. } => "WEBHOOK_BODY_UNREADABLE",
            Self::BodyEmpty => "WEBHOOK_BODY_EMPTY",
            Self::Signature(_) => "WEBHOOK_SIGNATURE_INVALID",
            Self::Payload { .. } => "WEBHOOK_PAYLOAD_INVALID",
            Self::InProgress => "WEBHOOK_IN_PROGRESS",
            Self::StoreUnavailable { .. } => "WEBHOOK_STORE_UNAVAILABLE",
            Self::HandlerFailed { .. } => "WEBHOOK_HANDLER_FAILED",
        }
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable { .. }
            | Self::BodyEmpty
            | Self::Signature(_)
            | Self::Payload { .. } => StatusCode::BAD_REQUEST,
            Self::InProgress => StatusCode::CONFLICT,
            Self::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::HandlerFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem(&self) -> Problem {
        let (title, detail): (&'static str, String) = match self {
            Self::MethodNotAllowed => (
                "Method not allowed",
                "Webhooks are delivered by POST.".into(),
            ),
            Self::BodyTooLarge { limit } => (
                "Webhook body too large",
                format!("The body exceeds the limit of {limit} bytes."),
            ),
            Self::BodyUnreadable { .. } => (
                "Webhook body unreadable",
                "The request body could not be read.".into(),
            ),
            Self::BodyEmpty => ("Webhook body empty", "The request has no body.".into()),
            // Deliberately the same for every signature failure: nothing for a forger.
            Self::Signature(_) => (
                "Invalid webhook signature",
                "The webhook signature could not be verified.".into(),
            ),
            Self::Payload { .. } => (
                "Invalid webhook payload",
                "The verified body is not a valid event.".into(),
            ),
            Self::InProgress => (
                "Webhook delivery in progress",
                "Another delivery of this event is being processed; retry later.".into(),
            ),
            Self::StoreUnavailable { .. } => (
                "Webhook store unavailable",
                "The event could not be processed now; retry later.".into(),
            ),
            Self::HandlerFailed { .. } => (
                "Webhook handler failed",
                "The event could not be processed now; retry later.".into(),
            ),
        };
        Problem::new(self.status(), self.code(), title).with_detail(detail)
    }

    /// The problem+json response, with this rejection and the [`Problem`] in its
    /// extensions.
    pub(crate) fn into_response(self, retry_after: Duration) -> Response<WebhookBody> {
        let mut response = self.problem().into_http_response::<Empty<Bytes>>();
        match &self {
            Self::MethodNotAllowed => {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            Self::InProgress | Self::StoreUnavailable { .. } => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs()),
                );
            }
            _ => {}
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// A `200` acknowledgement with the outcome in its body and extensions.
pub(crate) fn acknowledge(outcome: Outcome) -> Response<WebhookBody> {
    let body = match outcome {
        Outcome::Handled => r#"{"received":true,"outcome":"handled"}"#,
        Outcome::Duplicate => r#"{"received":true,"outcome":"duplicate"}"#,
        Outcome::Failed => r#"{"received":true,"outcome":"failed"}"#,
    };
    let mut response = Response::new(WebhookBody::full(Bytes::from_static(body.as_bytes())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.extensions_mut().insert(outcome);
    response
}

/// The text of an error and its sources, `a: b: c`.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
