//! The billing objects of the typed events, holding only what billing needs.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::de::{
    expandable, expandable_value, lenient_bool, lenient_i64, lenient_string, metadata,
};

/// A Checkout Session, from `checkout.session.completed`.
///
/// ```
/// use portcullis_stripe_webhook::event::{Event, EventData};
///
/// let event = Event::from_slice(br#"{
///   "id": "evt_1", "object": "event", "type": "checkout.session.completed",
///   "created": 1700000000, "livemode": false, "api_version": "2025-06-30.basil",
///   "data": {"object": {
///     "id": "cs_1", "object": "checkout.session", "customer": "cus_1",
///     "subscription": "sub_1", "client_reference_id": "user-42", "mode": "subscription",
///     "status": "complete", "payment_status": "paid", "metadata": {"plan": "pro"},
///     "customer_details": {"email": "a@example.com"}
///   }}
/// }"#).unwrap();
/// let EventData::CheckoutSessionCompleted(session) = event.data() else { panic!() };
/// assert_eq!(session.client_reference_id.as_deref(), Some("user-42"));
/// assert_eq!(session.subscription.as_deref(), Some("sub_1"));
/// assert_eq!(session.customer_email.as_deref(), Some("a@example.com"));
/// assert_eq!(session.metadata["plan"], "pro");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckoutSession {
    /// The session id (`cs_…`).
    pub id: String,
    /// The customer id (`cus_…`), if one was created or given.
    pub customer: Option<String>,
    /// The customer's email (`customer_details.email`, else `customer_email`).
    pub customer_email: Option<String>,
    /// The subscription id (`sub_…`) for `mode: subscription`.
    pub subscription: Option<String>,
    /// Your own reference passed to Checkout (a user or account id).
    pub client_reference_id: Option<String>,
    /// `payment`, `setup` or `subscription`.
    pub mode: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: Option<String>,
    /// The price ids of the line items, when the event carries them (Stripe leaves
    /// `line_items` out of events unless expanded; usually empty).
    pub price_ids: Vec<String>,
    /// The session's metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A subscription, from `customer.subscription.created`, `.updated` and `.deleted`.
///
/// ```
/// use portcullis_stripe_webhook::event::{Event, EventData};
///
/// let event = Event::from_slice(br#"{
///   "id": "evt_2", "object": "event", "type": "customer.subscription.updated",
///   "created": 1700000000, "livemode": true,
///   "data": {"object": {
///     "id": "sub_1", "customer": "cus_1", "status": "active", "cancel_at_period_end": true,
///     "items": {"data": [{"price": {"id": "price_pro"}, "current_period_end": 1702592000}]},
///     "metadata": {}
///   }, "previous_attributes": {"cancel_at_period_end": false}}
/// }"#).unwrap();
/// let EventData::SubscriptionUpdated(subscription) = event.data() else { panic!() };
/// assert_eq!(subscription.price_ids, ["price_pro"]);
/// assert!(subscription.cancel_at_period_end);
/// // Newer API versions keep the period on the items; older ones on the subscription.
/// assert_eq!(subscription.current_period_end, Some(1_702_592_000));
/// assert_eq!(event.previous_attributes().unwrap()["cancel_at_period_end"], false);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subscription {
    /// The subscription id (`sub_…`).
    pub id: String,
    /// The customer id (`cus_…`).
    pub customer: Option<String>,
    /// `trialing`, `active`, `past_due`, `canceled`, `unpaid`, `incomplete`,
    /// `incomplete_expired`, `paused`, or a status newer than this crate.
    pub status: String,
    /// The price ids of the subscription's items.
    pub price_ids: Vec<String>,
    /// Whether it ends at the end of the current period.
    pub cancel_at_period_end: bool,
    /// The end of the current period (Unix seconds): the subscription's own field, or
    /// (API versions from 2025-03-31 on) the latest end among its items.
    pub current_period_end: Option<i64>,
    /// When it is scheduled to cancel, if it is.
    pub cancel_at: Option<i64>,
    /// When the trial ends, if there is one.
    pub trial_end: Option<i64>,
    /// The subscription's metadata.
    pub metadata: BTreeMap<String, String>,
}

impl Subscription {
    /// Whether the customer should have access: `active` or `trialing`.
    ///
    /// ```
    /// use portcullis_stripe_webhook::event::Subscription;
    /// let mut subscription = Subscription::default();
    /// subscription.status = "trialing".into();
    /// assert!(subscription.grants_access());
    /// ```
    pub fn grants_access(&self) -> bool {
        matches!(self.status.as_str(), "active" | "trialing")
    }
}

/// An invoice, from `invoice.paid` and `invoice.payment_failed`.
///
/// ```
/// use portcullis_stripe_webhook::event::{Event, EventData};
///
/// let event = Event::from_slice(br#"{
///   "id": "evt_3", "object": "event", "type": "invoice.payment_failed",
///   "created": 1700000000, "livemode": false,
///   "data": {"object": {
///     "id": "in_1", "customer": "cus_1", "status": "open", "attempt_count": 2,
///     "amount_due": 2900, "amount_paid": 0, "currency": "eur",
///     "parent": {"subscription_details": {"subscription": "sub_1"}},
///     "lines": {"data": [{"pricing": {"price_details": {"price": "price_pro"}}, "period": {"end": 1702592000}}]}
///   }}
/// }"#).unwrap();
/// let EventData::InvoicePaymentFailed(invoice) = event.data() else { panic!() };
/// assert_eq!(invoice.subscription.as_deref(), Some("sub_1"));
/// assert_eq!(invoice.price_ids, ["price_pro"]);
/// assert_eq!(invoice.period_end, Some(1_702_592_000));
/// assert_eq!(invoice.attempt_count, Some(2));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invoice {
    /// The invoice id (`in_…`).
    pub id: String,
    /// The customer id (`cus_…`).
    pub customer: Option<String>,
    /// The subscription id, from `subscription` or (API versions from 2025-03-31 on)
    /// `parent.subscription_details.subscription`.
    pub subscription: Option<String>,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`, or a newer status.
    pub status: Option<String>,
    /// Why it was created (`subscription_cycle`, `subscription_create`, …).
    pub billing_reason: Option<String>,
    /// The price ids of its lines (`price.id`, or `pricing.price_details.price`).
    pub price_ids: Vec<String>,
    /// The end of the service period it bills: the latest `period.end` of its lines,
    /// else the invoice's `period_end`.
    pub period_end: Option<i64>,
    /// Amount due, in the currency's smallest unit.
    pub amount_due: Option<i64>,
    /// Amount paid, in the currency's smallest unit.
    pub amount_paid: Option<i64>,
    /// Three-letter ISO currency code, lowercase.
    pub currency: Option<String>,
    /// How many payment attempts were made.
    pub attempt_count: Option<i64>,
    /// When Stripe tries again, if it will.
    pub next_payment_attempt: Option<i64>,
    /// The invoice's metadata.
    pub metadata: BTreeMap<String, String>,
}

// The wire shapes, converted into the public structs above.

#[derive(Deserialize, Default)]
#[serde(default)]
struct List {
    #[serde(deserialize_with = "super::de::nullable")]
    data: Vec<Priced>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Priced {
    #[serde(deserialize_with = "expandable")]
    price: Option<String>,
    #[serde(deserialize_with = "expandable")]
    plan: Option<String>,
    pricing: Option<Value>,
    #[serde(deserialize_with = "lenient_i64")]
    current_period_end: Option<i64>,
    period: Option<Value>,
}

impl Priced {
    fn price_id(&self) -> Option<String> {
        self.price
            .clone()
            .or_else(|| {
                self.pricing
                    .as_ref()
                    .and_then(|p| p.get("price_details"))
                    .and_then(|d| d.get("price"))
                    .and_then(expandable_value)
            })
            .or_else(|| self.plan.clone())
    }

    fn period_end(&self) -> Option<i64> {
        self.period
            .as_ref()
            .and_then(|p| p.get("end"))
            .and_then(Value::as_i64)
    }
}

fn price_ids(items: &Option<List>) -> Vec<String> {
    let mut ids = Vec::new();
    for id in items
        .iter()
        .flat_map(|l| &l.data)
        .filter_map(Priced::price_id)
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

#[derive(Deserialize)]
pub(super) struct RawCheckoutSession {
    id: String,
    #[serde(default, deserialize_with = "expandable")]
    customer: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    customer_email: Option<String>,
    #[serde(default)]
    customer_details: Option<Value>,
    #[serde(default, deserialize_with = "expandable")]
    subscription: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    client_reference_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    payment_status: Option<String>,
    #[serde(default, deserialize_with = "super::de::nullable")]
    line_items: Option<List>,
    #[serde(default, deserialize_with = "metadata")]
    metadata: BTreeMap<String, String>,
}

impl From<RawCheckoutSession> for CheckoutSession {
    fn from(raw: RawCheckoutSession) -> Self {
        let details_email = raw
            .customer_details
            .as_ref()
            .and_then(|d| d.get("email"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Self {
            price_ids: price_ids(&raw.line_items),
            id: raw.id,
            customer: raw.customer,
            customer_email: details_email.or(raw.customer_email),
            subscription: raw.subscription,
            client_reference_id: raw.client_reference_id,
            mode: raw.mode,
            status: raw.status,
            payment_status: raw.payment_status,
            metadata: raw.metadata,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RawSubscription {
    id: String,
    #[serde(default, deserialize_with = "expandable")]
    customer: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "super::de::nullable")]
    items: Option<List>,
    #[serde(default, deserialize_with = "lenient_bool")]
    cancel_at_period_end: bool,
    #[serde(default, deserialize_with = "lenient_i64")]
    current_period_end: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    cancel_at: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    trial_end: Option<i64>,
    #[serde(default, deserialize_with = "metadata")]
    metadata: BTreeMap<String, String>,
}

impl From<RawSubscription> for Subscription {
    fn from(raw: RawSubscription) -> Self {
        let item_period_end = raw
            .items
            .iter()
            .flat_map(|l| &l.data)
            .filter_map(|item| item.current_period_end)
            .max();
        Self {
            price_ids: price_ids(&raw.items),
            id: raw.id,
            customer: raw.customer,
            status: raw.status.unwrap_or_default(),
            cancel_at_period_end: raw.cancel_at_period_end,
            current_period_end: raw.current_period_end.or(item_period_end),
            cancel_at: raw.cancel_at,
            trial_end: raw.trial_end,
            metadata: raw.metadata,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RawInvoice {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "expandable")]
    customer: Option<String>,
    #[serde(default, deserialize_with = "expandable")]
    subscription: Option<String>,
    #[serde(default)]
    parent: Option<Value>,
    #[serde(default, deserialize_with = "lenient_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    billing_reason: Option<String>,
    #[serde(default, deserialize_with = "super::de::nullable")]
    lines: Option<List>,
    #[serde(default, deserialize_with = "lenient_i64")]
    period_end: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    amount_due: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    amount_paid: Option<i64>,
    #[serde(default, deserialize_with = "lenient_string")]
    currency: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    attempt_count: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    next_payment_attempt: Option<i64>,
    #[serde(default, deserialize_with = "metadata")]
    metadata: BTreeMap<String, String>,
}

impl From<RawInvoice> for Invoice {
    fn from(raw: RawInvoice) -> Self {
        let parent_subscription = raw
            .parent
            .as_ref()
            .and_then(|p| p.get("subscription_details"))
            .and_then(|d| d.get("subscription"))
            .and_then(expandable_value);
        let line_period_end = raw
            .lines
            .iter()
            .flat_map(|l| &l.data)
            .filter_map(Priced::period_end)
            .max();
        Self {
            price_ids: price_ids(&raw.lines),
            id: raw.id.unwrap_or_default(),
            customer: raw.customer,
            subscription: raw.subscription.or(parent_subscription),
            status: raw.status,
            billing_reason: raw.billing_reason,
            period_end: line_period_end.or(raw.period_end),
            amount_due: raw.amount_due,
            amount_paid: raw.amount_paid,
            currency: raw.currency,
            attempt_count: raw.attempt_count,
            next_payment_attempt: raw.next_payment_attempt,
            metadata: raw.metadata,
        }
    }
}
