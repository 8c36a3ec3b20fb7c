//! `POST /webhooks/stripe`: verified, idempotent Stripe events applied to tenants.
//!
//! Verification (the Stripe signature scheme, every configured secret) and
//! idempotency (by event id, in Redis when `--redis-url` is set, else in the
//! database) are `portcullis-stripe-webhook`'s; this module turns its typed events into
//! [`BillingEvent`]s and applies them with [`apply`].

use crate::billing::{Applied, BillingError, BillingEvent};
use crate::keys::{invalidate_tenant, unix_now};
use crate::state::AppState;

/// Applies `event` and, when the tenant's plan changed, drops the tenant's keys from
/// every instance's cache so the next request is limited under the new plan.
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
            // Status changes (past_due, say) can change the plan later, at the end of
            // a grace period; invalidate on every applied event, it costs one message
            // per key.
            if let Err(error) = invalidate_tenant(&state.keys, tenant).await {
                tracing::warn!(%tenant, %error, "could not invalidate the tenant's keys");
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

/// The webhook route, once `portcullis-stripe-webhook` is wired in.
pub(crate) fn routes(_state: &AppState, _secrets: &[String]) -> Option<axum::Router> {
    None
}
