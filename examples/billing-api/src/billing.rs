//! Billing: what a Stripe event does to a tenant, and which plan a tenant is limited
//! under.
//!
//! The webhook route turns each verified Stripe event into a [`BillingEvent`];
//! [`Billing::apply`] finds the tenant, works out its new [`BillingState`] and writes
//! it. What happens per event:
//!
//! | event | effect |
//! |---|---|
//! | `checkout.session.completed` | the tenant (`client_reference_id`, else `metadata.tenant_id`) gets the plan of the session's price (`line_items`, else `metadata.price_id`), status `active`, and its Stripe customer id |
//! | `customer.subscription.created` / `.updated` | plan from the subscription's price; `active`/`trialing` grant it, `past_due` keeps it for the grace period, `canceled`/`unpaid`/`incomplete*`/`paused` return the tenant to `free` |
//! | `customer.subscription.deleted` | back to `free`, status `canceled` |
//! | `invoice.payment_failed` | status `past_due`; the paid plan stays for `--past-due-grace-days` (7) from the first failure, then the tenant is limited as `free` until a payment succeeds |
//! | `invoice.paid` | a `past_due` tenant is `active` again |
//!
//! Subscription and invoice events find their tenant by `metadata.tenant_id` (set it
//! through `subscription_data.metadata` when creating the Checkout Session), by the
//! subscription id, or by the Stripe customer id. An event older than the last one
//! applied to the tenant is ignored, so Stripe's out-of-order deliveries never undo a
//! newer state.

use std::fmt;

use crate::db::{BillingState, Db, DbError, SubscriptionRow, Tenant};

/// The plan every tenant starts on and returns to.
pub(crate) const FREE: &str = "free";

/// Which Stripe price is which plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prices {
    pub(crate) starter: String,
    pub(crate) pro: String,
    pub(crate) enterprise: String,
}

impl Prices {
    /// The plan sold at `price`.
    pub(crate) fn plan_of(&self, price: &str) -> Option<&'static str> {
        if price == self.starter {
            Some("starter")
        } else if price == self.pro {
            Some("pro")
        } else if price == self.enterprise {
            Some("enterprise")
        } else {
            None
        }
    }

    /// The price of `plan`.
    pub(crate) fn price_of(&self, plan: &str) -> Option<&str> {
        match plan {
            "starter" => Some(&self.starter),
            "pro" => Some(&self.pro),
            "enterprise" => Some(&self.enterprise),
            _ => None,
        }
    }
}

/// Who an event is about, as far as it says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TenantRef {
    /// Our tenant id (`client_reference_id` or `metadata.tenant_id`).
    pub(crate) tenant_id: Option<String>,
    /// The Stripe customer (`cus_…`).
    pub(crate) customer: Option<String>,
    /// The Stripe subscription (`sub_…`).
    pub(crate) subscription: Option<String>,
}

/// What an event says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A subscription started or changed (Checkout completed, subscription created or
    /// updated).
    Subscribed {
        /// The price subscribed to.
        price: Option<String>,
        /// Stripe's subscription status.
        status: String,
        /// The end of the paid period (Unix seconds).
        current_period_end: Option<i64>,
    },
    /// The subscription ended.
    Cancelled,
    /// A payment failed.
    PaymentFailed,
    /// A payment succeeded.
    PaymentSucceeded,
}

/// A verified Stripe event, reduced to what billing needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BillingEvent {
    /// `evt_…`, for logs.
    pub(crate) id: String,
    /// The event type, for logs.
    pub(crate) kind: String,
    /// When Stripe created it (Unix seconds): orders events.
    pub(crate) created: i64,
    /// Who it is about.
    pub(crate) tenant: TenantRef,
    /// What happened.
    pub(crate) change: Change,
}

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The tenant's billing state was written; `plan_changed` when the plan it is
    /// limited under changed.
    Updated {
        tenant: String,
        plan: String,
        plan_changed: bool,
    },
    /// The tenant holds the state of a newer event: nothing was written.
    Stale { tenant: String },
}

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BillingError {
    /// No tenant matches the event: retrying will not help.
    #[error(
        "no tenant matches the event (tenant {tenant:?}, customer {customer:?}, subscription {subscription:?})"
    )]
    UnknownTenant {
        tenant: Option<String>,
        customer: Option<String>,
        subscription: Option<String>,
    },
    /// The price is not one of the configured plans': retrying will not help.
    #[error("price `{0}` is not STRIPE_PRICE_STARTER, STRIPE_PRICE_PRO or STRIPE_PRICE_ENTERPRISE")]
    UnknownPrice(String),
    /// The database failed: worth a retry.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl BillingError {
    /// Whether Stripe should deliver the event again: when the database failed, not
    /// when it refused a value of the event (a NUL in a string, on PostgreSQL), which
    /// every delivery would carry again.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, Self::Db(error) if !error.is_data_exception())
    }
}

/// Applies billing events and answers which plan a tenant is limited under.
#[derive(Clone)]
pub(crate) struct Billing {
    db: Db,
    prices: Prices,
    grace_seconds: i64,
}

impl fmt::Debug for Billing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Billing")
            .field("db", &self.db.kind())
            .field("prices", &self.prices)
            .field("grace_seconds", &self.grace_seconds)
            .finish()
    }
}

impl Billing {
    pub(crate) fn new(db: Db, prices: Prices, grace_days: u32) -> Self {
        Self {
            db,
            prices,
            grace_seconds: i64::from(grace_days) * 86_400,
        }
    }

    /// The plan `tenant` is limited under at `now`: its paid plan, or `free` once a
    /// `past_due` grace period is over.
    pub(crate) fn effective_plan<'a>(&self, tenant: &'a Tenant, now: i64) -> &'a str {
        match tenant.past_due_since {
            Some(since)
                if tenant.subscription_status == "past_due"
                    && now >= since.saturating_add(self.grace_seconds) =>
            {
                FREE
            }
            _ => &tenant.plan,
        }
    }

    /// When the grace period of a `past_due` tenant ends (Unix seconds).
    pub(crate) fn grace_ends_at(&self, tenant: &Tenant) -> Option<i64> {
        (tenant.subscription_status == "past_due")
            .then_some(tenant.past_due_since)
            .flatten()
            .map(|since| since.saturating_add(self.grace_seconds))
    }

    /// The tenant's plan name at `now`, `None` if there is no such tenant.
    pub(crate) async fn plan_of(&self, tenant: &str, now: i64) -> Result<Option<String>, DbError> {
        Ok(self
            .db
            .tenant(tenant)
            .await?
            .map(|tenant| self.effective_plan(&tenant, now).to_owned()))
    }

    async fn find_tenant(&self, who: &TenantRef) -> Result<Option<Tenant>, DbError> {
        if let Some(id) = &who.tenant_id
            && let Some(tenant) = self.db.tenant(id).await?
        {
            return Ok(Some(tenant));
        }
        if let Some(subscription) = &who.subscription
            && let Some(tenant) = self.db.tenant_by_subscription(subscription).await?
        {
            return Ok(Some(tenant));
        }
        if let Some(customer) = &who.customer
            && let Some(tenant) = self.db.tenant_by_customer(customer).await?
        {
            return Ok(Some(tenant));
        }
        Ok(None)
    }

    /// Applies `event` at `now` (Unix seconds).
    pub(crate) async fn apply(
        &self,
        event: &BillingEvent,
        now: i64,
    ) -> Result<Applied, BillingError> {
        let who = &event.tenant;
        let tenant = self
            .find_tenant(who)
            .await?
            .ok_or_else(|| BillingError::UnknownTenant {
                tenant: who.tenant_id.clone(),
                customer: who.customer.clone(),
                subscription: who.subscription.clone(),
            })?;
        if event.created < tenant.billing_event_at {
            return Ok(Applied::Stale { tenant: tenant.id });
        }
        let (state, subscription) = self.next_state(&tenant, event)?;
        let before = self.effective_plan(&tenant, now).to_owned();
        let written = self
            .db
            .update_billing(
                &tenant.id,
                &state,
                subscription.as_ref(),
                event.created,
                now,
            )
            .await?;
        if !written {
            return Ok(Applied::Stale { tenant: tenant.id });
        }
        let after = Tenant {
            plan: state.plan.clone(),
            subscription_status: state.subscription_status.clone(),
            past_due_since: state.past_due_since,
            ..tenant.clone()
        };
        let plan = self.effective_plan(&after, now).to_owned();
        Ok(Applied::Updated {
            plan_changed: plan != before,
            tenant: tenant.id,
            plan,
        })
    }

    /// The state `event` leads to from `tenant`'s, and the subscription it describes.
    fn next_state(
        &self,
        tenant: &Tenant,
        event: &BillingEvent,
    ) -> Result<(BillingState, Option<SubscriptionRow>), BillingError> {
        let mut state = BillingState {
            plan: tenant.plan.clone(),
            subscription_status: tenant.subscription_status.clone(),
            stripe_customer_id: event.tenant.customer.clone(),
            past_due_since: tenant.past_due_since,
        };
        let mut row = None;
        match &event.change {
            Change::Subscribed {
                price,
                status,
                current_period_end,
            } => {
                let paid_plan = match price {
                    Some(price) => self
                        .prices
                        .plan_of(price)
                        .ok_or_else(|| BillingError::UnknownPrice(price.clone()))?
                        .to_owned(),
                    None => tenant.plan.clone(),
                };
                state.subscription_status.clone_from(status);
                match status.as_str() {
                    "active" | "trialing" => {
                        state.plan.clone_from(&paid_plan);
                        state.past_due_since = None;
                    }
                    "past_due" => {
                        state.plan.clone_from(&paid_plan);
                        state.past_due_since = Some(tenant.past_due_since.unwrap_or(event.created));
                    }
                    // canceled, unpaid, incomplete, incomplete_expired, paused, or newer.
                    _ => {
                        state.plan = FREE.to_owned();
                        state.past_due_since = None;
                    }
                }
                if let Some(id) = &event.tenant.subscription {
                    row = Some(SubscriptionRow {
                        id: id.clone(),
                        customer_id: event.tenant.customer.clone(),
                        price_id: price.clone(),
                        plan: paid_plan,
                        status: status.clone(),
                        current_period_end: *current_period_end,
                    });
                }
            }
            Change::Cancelled => {
                state.plan = FREE.to_owned();
                state.subscription_status = "canceled".to_owned();
                state.past_due_since = None;
                if let Some(id) = &event.tenant.subscription {
                    row = Some(SubscriptionRow {
                        id: id.clone(),
                        customer_id: event.tenant.customer.clone(),
                        price_id: None,
                        plan: FREE.to_owned(),
                        status: "canceled".to_owned(),
                        current_period_end: None,
                    });
                }
            }
            Change::PaymentFailed => {
                state.subscription_status = "past_due".to_owned();
                state.past_due_since = Some(tenant.past_due_since.unwrap_or(event.created));
            }
            Change::PaymentSucceeded => {
                if tenant.subscription_status == "past_due" {
                    state.subscription_status = "active".to_owned();
                }
                state.past_due_since = None;
            }
        }
        Ok((state, row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices() -> Prices {
        Prices {
            starter: "price_starter".into(),
            pro: "price_pro".into(),
            enterprise: "price_enterprise".into(),
        }
    }

    async fn billing() -> Billing {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.migrate().await.unwrap();
        db.create_tenant("tn_1", "Acme", "ops@acme.test", 0)
            .await
            .unwrap();
        Billing::new(db, prices(), 7)
    }

    fn event(created: i64, tenant: TenantRef, change: Change) -> BillingEvent {
        BillingEvent {
            id: format!("evt_{created}"),
            kind: "test".into(),
            created,
            tenant,
            change,
        }
    }

    fn subscribed(price: &str, status: &str) -> Change {
        Change::Subscribed {
            price: Some(price.into()),
            status: status.into(),
            current_period_end: None,
        }
    }

    #[tokio::test]
    async fn checkout_upgrades_and_deletion_returns_to_free() {
        let billing = billing().await;
        let by_id = TenantRef {
            tenant_id: Some("tn_1".into()),
            customer: Some("cus_1".into()),
            subscription: Some("sub_1".into()),
        };
        let applied = billing
            .apply(&event(10, by_id, subscribed("price_pro", "active")), 10)
            .await
            .unwrap();
        assert_eq!(
            applied,
            Applied::Updated {
                tenant: "tn_1".into(),
                plan: "pro".into(),
                plan_changed: true
            }
        );
        // Found by subscription id alone.
        let by_subscription = TenantRef {
            subscription: Some("sub_1".into()),
            ..TenantRef::default()
        };
        let applied = billing
            .apply(&event(20, by_subscription.clone(), Change::Cancelled), 20)
            .await
            .unwrap();
        assert!(
            matches!(applied, Applied::Updated { plan, plan_changed: true, .. } if plan == "free")
        );
        // An older update arriving late changes nothing.
        let applied = billing
            .apply(
                &event(15, by_subscription, subscribed("price_pro", "active")),
                21,
            )
            .await
            .unwrap();
        assert_eq!(
            applied,
            Applied::Stale {
                tenant: "tn_1".into()
            }
        );
    }

    #[tokio::test]
    async fn past_due_keeps_the_plan_for_the_grace_period() {
        let billing = billing().await;
        let by_customer = TenantRef {
            tenant_id: Some("tn_1".into()),
            customer: Some("cus_1".into()),
            ..TenantRef::default()
        };
        billing
            .apply(
                &event(
                    10,
                    by_customer.clone(),
                    subscribed("price_starter", "active"),
                ),
                10,
            )
            .await
            .unwrap();
        let by_customer = TenantRef {
            customer: Some("cus_1".into()),
            ..TenantRef::default()
        };
        billing
            .apply(&event(100, by_customer.clone(), Change::PaymentFailed), 100)
            .await
            .unwrap();
        let week = 7 * 86_400;
        assert_eq!(
            billing
                .plan_of("tn_1", 100 + week - 1)
                .await
                .unwrap()
                .unwrap(),
            "starter"
        );
        assert_eq!(
            billing.plan_of("tn_1", 100 + week).await.unwrap().unwrap(),
            "free"
        );
        billing
            .apply(
                &event(200, by_customer, Change::PaymentSucceeded),
                100 + week,
            )
            .await
            .unwrap();
        assert_eq!(
            billing.plan_of("tn_1", 100 + week).await.unwrap().unwrap(),
            "starter"
        );
    }

    #[tokio::test]
    async fn unknown_tenants_and_prices_are_permanent_errors() {
        let billing = billing().await;
        let nobody = TenantRef {
            customer: Some("cus_unknown".into()),
            ..TenantRef::default()
        };
        let error = billing
            .apply(&event(1, nobody, Change::Cancelled), 1)
            .await
            .unwrap_err();
        assert!(!error.is_retryable(), "{error}");
        let acme = TenantRef {
            tenant_id: Some("tn_1".into()),
            ..TenantRef::default()
        };
        let error = billing
            .apply(&event(1, acme, subscribed("price_gold", "active")), 1)
            .await
            .unwrap_err();
        assert!(matches!(error, BillingError::UnknownPrice(_)));
    }
}
