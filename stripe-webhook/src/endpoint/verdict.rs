//! The verdict on a delivery: the checks before the body is read ([`before_body`]),
//! what a read body leads to ([`after_body`]), and what the store's claim
//! ([`on_claim`]) and the handler's result ([`on_handled`]) mean for the answer.
//! Every refusal and every log line of the endpoint is decided here; the service and
//! its future only carry the decisions out.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, header};
use http_body::Body;
use http_body_util::LengthLimitError;

use super::config::{Shared, WebhookConfig};
use super::handler::{Delivery, HandlerError, WebhookHandler};
use super::response::{Outcome, Rejection, WebhookBody, acknowledge, error_chain};
use crate::scheme::WebhookScheme;
use crate::store::{BoxError, Claim, ClaimToken, IdempotencyStore, StoreError};

/// Refuses, without reading the body, anything but `POST` (`405`) and a body that
/// declares more than the limit (`413`).
pub(crate) fn before_body<B: Body>(
    config: &WebhookConfig,
    request: &Request<B>,
) -> Result<(), Rejection> {
    let limit = config.body_limit;
    if request.method() != Method::POST {
        return Err(Rejection::MethodNotAllowed);
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let too_large = |length: u64| usize::try_from(length).map_or(true, |len| len > limit);
    if declared.is_some_and(too_large) || too_large(request.body().size_hint().lower()) {
        return Err(Rejection::BodyTooLarge { limit });
    }
    Ok(())
}

/// Why the body could not be read: over the limit (`413`), or broken (`400`).
pub(crate) fn unread_body(config: &WebhookConfig, error: &BoxError) -> Rejection {
    if error.downcast_ref::<LengthLimitError>().is_some() {
        Rejection::BodyTooLarge {
            limit: config.body_limit,
        }
    } else {
        Rejection::BodyUnreadable {
            reason: error_chain(&**error),
        }
    }
}

/// What the service does once the body is read.
pub(crate) enum Next<E, HF, CF> {
    Reject(Rejection),
    Claim {
        future: CF,
        delivery: Delivery<E>,
        key: String,
        token: ClaimToken,
    },
    Handle {
        future: HF,
    },
}

/// What follows a fully read body: verify, parse, and claim (or answer).
pub(crate) fn after_body<Sch, H, St>(
    shared: &Shared<Sch, H, St>,
    headers: &HeaderMap,
    body: Bytes,
) -> Next<Sch::Event, H::Future, St::ClaimFuture>
where
    Sch: WebhookScheme,
    H: WebhookHandler<Sch::Event>,
    St: IdempotencyStore,
{
    let scheme = &shared.scheme;
    if body.is_empty() {
        return Next::Reject(Rejection::BodyEmpty);
    }
    let now = scheme.now();
    let verification = match scheme.verify_request(headers, &body, now) {
        Ok(verification) => verification,
        Err(error) => {
            tracing::warn!(
                target: "portcullis_stripe_webhook",
                scheme = scheme.name(),
                reason = error.kind(),
                error = %error,
                "webhook signature rejected",
            );
            return Next::Reject(Rejection::Signature(error));
        }
    };
    let event = match scheme.event(headers, &body, &verification) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(
                target: "portcullis_stripe_webhook",
                scheme = scheme.name(),
                secret = verification.secret(),
                error = %error,
                "verified webhook body is not a valid event",
            );
            return Next::Reject(Rejection::Payload {
                reason: error_chain(&error),
            });
        }
    };
    let key = scheme.event_id(&event).map(str::to_owned);
    let delivery = Delivery::new(event, verification, body);
    match key {
        Some(key) => {
            let token = ClaimToken::new();
            let future = shared
                .store
                .claim(&key, &token, now, shared.config.claim_ttl);
            Next::Claim {
                future,
                delivery,
                key,
                token,
            }
        }
        None => Next::Handle {
            future: shared.handler.handle(delivery),
        },
    }
}

/// What a claim's answer leads to.
pub(crate) enum Claimed {
    /// The event is this delivery's: run the handler.
    Run,
    /// Answer at once, without the handler.
    Answer(Response<WebhookBody>),
}

/// What the store's answer to a claim of the event `key` means: run the handler, or
/// answer at once (`409` in progress, `200` duplicate, `503` store failed).
pub(crate) fn on_claim(
    config: &WebhookConfig,
    claim: Result<Claim, StoreError>,
    key: &str,
) -> Claimed {
    match claim {
        Ok(Claim::Claimed) => Claimed::Run,
        Ok(Claim::InProgress) => {
            tracing::info!(
                target: "portcullis_stripe_webhook",
                event_id = %key,
                "webhook delivery while another is in progress: answered 409",
            );
            Claimed::Answer(Rejection::InProgress.into_response(config.retry_after))
        }
        Ok(Claim::Completed) => {
            tracing::debug!(
                target: "portcullis_stripe_webhook",
                event_id = %key,
                "duplicate webhook delivery acknowledged",
            );
            Claimed::Answer(acknowledge(Outcome::Duplicate))
        }
        Err(error) => {
            let reason = error_chain(&error);
            tracing::error!(
                target: "portcullis_stripe_webhook",
                event_id = %key,
                error = %reason,
                "idempotency store failed: answered 503",
            );
            Claimed::Answer(
                Rejection::StoreUnavailable { reason }.into_response(config.retry_after),
            )
        }
    }
}

/// What becomes of a claim once the handler ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settle {
    /// Handled, or failed for good: remember the event as completed.
    Complete,
    /// Failed, retryable: release the claim so the retry runs the handler.
    Release,
}

/// The answer to the handler's result for the event `key` (if it had one), and what
/// to do with its claim.
pub(crate) fn on_handled(
    config: &WebhookConfig,
    result: Result<(), HandlerError>,
    key: Option<&str>,
) -> (Response<WebhookBody>, Settle) {
    let error = match result {
        Ok(()) => return (acknowledge(Outcome::Handled), Settle::Complete),
        Err(error) => error,
    };
    let reason = error_chain(&error);
    let event_id = key.unwrap_or("-");
    if error.is_retryable() {
        tracing::warn!(
            target: "portcullis_stripe_webhook",
            event_id,
            error = %reason,
            "webhook handler failed: answered 500 for a retry",
        );
        let rejection = Rejection::HandlerFailed { reason };
        (rejection.into_response(config.retry_after), Settle::Release)
    } else {
        tracing::error!(
            target: "portcullis_stripe_webhook",
            event_id,
            error = %reason,
            "webhook handler failed permanently: acknowledged",
        );
        (acknowledge(Outcome::Failed), Settle::Complete)
    }
}

/// Logs a failed completion: the handler ran, so the answer stands; a redelivery may
/// run it again once the claim expires (at-least-once).
pub(crate) fn completion_failed(key: &str, error: &StoreError) {
    tracing::warn!(
        target: "portcullis_stripe_webhook",
        event_id = %key,
        error = %error_chain(error),
        "could not mark the webhook event completed",
    );
}

/// Logs a failed release: the claim then blocks retries until its TTL runs out.
pub(crate) fn release_failed(key: &str, error: &StoreError) {
    tracing::warn!(
        target: "portcullis_stripe_webhook",
        event_id = %key,
        error = %error_chain(error),
        "could not release the webhook claim; it expires with its TTL",
    );
}
