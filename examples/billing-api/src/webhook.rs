//! `POST /webhooks/stripe`: verified, idempotent Stripe events applied to tenants.
//!
//! `portcullis-stripe-webhook` does the webhook part: it verifies the `Stripe-Signature`
//! of the raw body against every configured secret (`400 WEBHOOK_SIGNATURE_INVALID`
//! otherwise), reads the typed event, and claims its id in the idempotency store
//! (Redis when `--redis-url` is set, so across instances; else a table in the
//! database), so a repeated delivery is acknowledged (`"outcome":"duplicate"`) without
//! running the handler. This module is the handler: it turns the typed event into a
//! [`BillingEvent`] and [`apply`]s it. A database failure answers `500` and Stripe
//! delivers again; an event about no known tenant, with an unknown price, or with a
//! value the database refuses (a NUL in a string, on PostgreSQL), is acknowledged and
//! logged (a retry would fail the same way).

use axum::Router;
use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Webhook};
use portcullis_stripe_webhook::error::ConfigError;
use portcullis_stripe_webhook::event::{Event, EventData};
use portcullis_stripe_webhook::secret::Secret;
use portcullis_stripe_webhook::signature::StripeVerifier;
use portcullis_stripe_webhook::store::BoxStore;

use crate::billing::{Applied, BillingError, BillingEvent, Change, TenantRef};
use crate::keys::{invalidate_tenant, unix_now};
use crate::state::AppState;

/// The route.
pub(crate) const PATH: &str = "/webhooks/stripe";

/// The webhook route: verification by `secrets` (the first is the current one; list
/// the previous one too during a roll), idempotency in `store`.
pub(crate) fn routes(
    state: &AppState,
    secrets: &[String],
    store: BoxStore,
) -> Result<Router, ConfigError> {
    let verifier = StripeVerifier::with_secrets(
        secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| Secret::new(format!("secret{}", index + 1), secret)),
    )?;
    let state = state.clone();
    let service =
        Webhook::builder(verifier)
            .store(store)
            .handler(move |delivery: Delivery<Event>| {
                let state = state.clone();
                async move { handle(&state, delivery.event()).await }
            });
    Ok(Router::new().route_service(PATH, service))
}

/// Applies one verified, first-seen event.
async fn handle(state: &AppState, event: &Event) -> Result<(), HandlerError> {
    let Some(billing) = billing_event(event) else {
        tracing::debug!(
            event_id = event.id(),
            event_type = event.event_type(),
            "event ignored"
        );
        return Ok(());
    };
    match apply(state, &billing).await {
        Ok(_) => Ok(()),
        Err(error) if error.is_retryable() => {
            tracing::warn!(event_id = event.id(), %error, "billing event failed; Stripe will retry");
            Err(HandlerError::retry(error))
        }
        Err(error) => {
            tracing::warn!(event_id = event.id(), event_type = event.event_type(), %error, "billing event not applicable");
            Err(HandlerError::permanent(error))
        }
    }
}

/// What a Stripe event means for billing; `None` for the types billing ignores.
pub(crate) fn billing_event(event: &Event) -> Option<BillingEvent> {
    let (tenant, change) = match event.data() {
        EventData::CheckoutSessionCompleted(session) => {
            if session
                .mode
                .as_deref()
                .is_some_and(|mode| mode != "subscription")
            {
                return None;
            }
            let status = match session.payment_status.as_deref() {
                Some("unpaid") => "incomplete",
                _ => "active",
            };
            (
                TenantRef {
                    tenant_id: session
                        .client_reference_id
                        .clone()
                        .or_else(|| session.metadata.get("tenant_id").cloned()),
                    customer: session.customer.clone(),
                    subscription: session.subscription.clone(),
                },
                Change::Subscribed {
                    price: session
                        .price_ids
                        .first()
                        .cloned()
                        .or_else(|| session.metadata.get("price_id").cloned()),
                    status: status.to_owned(),
                    current_period_end: None,
                },
            )
        }
        EventData::SubscriptionCreated(subscription)
        | EventData::SubscriptionUpdated(subscription)
        | EventData::SubscriptionDeleted(subscription) => {
            let tenant = TenantRef {
                tenant_id: subscription.metadata.get("tenant_id").cloned(),
                customer: subscription.customer.clone(),
                subscription: Some(subscription.id.clone()),
            };
            let change = if matches!(event.data(), EventData::SubscriptionDeleted(_)) {
                Change::Cancelled
            } else {
                Change::Subscribed {
                    price: subscription.price_ids.first().cloned(),
                    status: subscription.status.clone(),
                    current_period_end: subscription.current_period_end,
                }
            };
            (tenant, change)
        }
        EventData::InvoicePaymentFailed(invoice) | EventData::InvoicePaid(invoice) => (
            TenantRef {
                tenant_id: invoice.metadata.get("tenant_id").cloned(),
                customer: invoice.customer.clone(),
                subscription: invoice.subscription.clone(),
            },
            if matches!(event.data(), EventData::InvoicePaid(_)) {
                Change::PaymentSucceeded
            } else {
                Change::PaymentFailed
            },
        ),
        _ => return None,
    };
    Some(BillingEvent {
        id: event.id().to_owned(),
        kind: event.event_type().to_owned(),
        created: event.created(),
        tenant,
        change,
    })
}

/// Applies `event` and drops the tenant's keys from every instance's cache, so the
/// next request is limited under the tenant's new plan.
pub(crate) async fn apply(state: &AppState, event: &BillingEvent) -> Result<Applied, BillingError> {
    let applied = state.billing.apply(event, unix_now()).await?;
    match &applied {
        Applied::Updated {
            tenant,
            plan,
            plan_changed,
        } => {
            tracing::info!(
                event_id = %event.id,
                event_type = %event.kind,
                %tenant,
                %plan,
                plan_changed,
                "billing event applied"
            );
            // Also when the plan did not change: a past_due status changes it later,
            // at the end of the grace period. It costs one message per key.
            if let Err(error) = invalidate_tenant(&state.keys, tenant).await {
                tracing::warn!(
                    %tenant,
                    %error,
                    "could not invalidate the tenant's keys: the new plan applies once their cache entries expire"
                );
            }
        }
        Applied::Stale { tenant } => {
            tracing::info!(
                event_id = %event.id,
                event_type = %event.kind,
                %tenant,
                "billing event older than the tenant's state: ignored"
            );
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        Event::from_slice(json.as_bytes()).unwrap()
    }

    #[test]
    fn checkout_names_tenant_price_customer_and_subscription() {
        let event = event(
            r#"{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1700000000,
            "data":{"object":{"id":"cs_1","object":"checkout.session","mode":"subscription",
            "payment_status":"paid","client_reference_id":"tn_1","customer":"cus_1",
            "subscription":"sub_1","metadata":{"price_id":"price_pro"}}}}"#,
        );
        let billing = billing_event(&event).unwrap();
        assert_eq!(billing.created, 1_700_000_000);
        assert_eq!(
            billing.tenant,
            TenantRef {
                tenant_id: Some("tn_1".into()),
                customer: Some("cus_1".into()),
                subscription: Some("sub_1".into()),
            }
        );
        assert_eq!(
            billing.change,
            Change::Subscribed {
                price: Some("price_pro".into()),
                status: "active".into(),
                current_period_end: None,
            }
        );
    }

    #[test]
    fn subscriptions_and_invoices_map_to_changes_and_the_rest_is_ignored() {
        let deleted = event(
            r#"{"id":"evt_2","type":"customer.subscription.deleted","created":5,
            "data":{"object":{"id":"sub_1","customer":"cus_1","status":"canceled","metadata":{"tenant_id":"tn_1"}}}}"#,
        );
        let billing = billing_event(&deleted).unwrap();
        assert_eq!(billing.change, Change::Cancelled);
        assert_eq!(billing.tenant.tenant_id.as_deref(), Some("tn_1"));

        let failed = event(
            r#"{"id":"evt_3","type":"invoice.payment_failed","created":6,
            "data":{"object":{"id":"in_1","customer":"cus_1","parent":{"subscription_details":{"subscription":"sub_1"}}}}}"#,
        );
        let billing = billing_event(&failed).unwrap();
        assert_eq!(billing.change, Change::PaymentFailed);
        assert_eq!(billing.tenant.subscription.as_deref(), Some("sub_1"));

        let payment = event(
            r#"{"id":"evt_4","type":"checkout.session.completed","created":7,
            "data":{"object":{"id":"cs_2","mode":"payment","client_reference_id":"tn_1"}}}"#,
        );
        assert!(billing_event(&payment).is_none());
        let other =
            event(r#"{"id":"evt_5","type":"charge.refunded","data":{"object":{"id":"ch_1"}}}"#);
        assert!(billing_event(&other).is_none());
    }
}
