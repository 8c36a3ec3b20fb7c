//! Typed Stripe events that never break on new data.
//!
//! [`Event::from_slice`] reads the envelope first (`id`, `type`, `created`,
//! `api_version`, `livemode`, `account`) and routes on `type`:
//!
//! | `type` | [`EventData`] variant | object |
//! |---|---|---|
//! | `checkout.session.completed` | [`CheckoutSessionCompleted`](EventData::CheckoutSessionCompleted) | [`CheckoutSession`] |
//! | `customer.subscription.created` | [`SubscriptionCreated`](EventData::SubscriptionCreated) | [`Subscription`] |
//! | `customer.subscription.updated` | [`SubscriptionUpdated`](EventData::SubscriptionUpdated) | [`Subscription`] |
//! | `customer.subscription.deleted` | [`SubscriptionDeleted`](EventData::SubscriptionDeleted) | [`Subscription`] |
//! | `invoice.paid` | [`InvoicePaid`](EventData::InvoicePaid) | [`Invoice`] |
//! | `invoice.payment_failed` | [`InvoicePaymentFailed`](EventData::InvoicePaymentFailed) | [`Invoice`] |
//! | any, with `object: "v2.core.event"` | [`Thin`](EventData::Thin) | [`ThinEvent`] |
//! | anything else | [`Unknown`](EventData::Unknown) | the whole event as JSON |
//!
//! The typed objects hold only what billing needs (ids, customer, subscription,
//! status, price ids, metadata, `client_reference_id`, period end,
//! `cancel_at_period_end`). Unknown fields are ignored, missing or `null` optional
//! fields read as `None` or empty, and fields that moved between API versions (a
//! subscription's period end, an invoice's subscription) are read from either place.
//!
//! # A new API version never turns a delivery into an error
//!
//! Only an unreadable envelope is an error: a body that is not UTF-8 JSON, or has no
//! string `id` and `type`. When the object of a *known* type does not parse (a field
//! changed type in an API version newer than this crate), the event falls back to
//! [`EventData::Unknown`] with the whole event as JSON, a `tracing` warning is logged,
//! and [`Event::typed_parse_failed`] says so. Your handler still gets the delivery and
//! can read the JSON, so Stripe is answered `2xx` and does not retry a delivery that
//! would fail the same way forever.
//!
//! # Example
//!
//! ```
//! use portcullis_stripe_webhook::event::{Event, EventData};
//!
//! let event = Event::from_slice(br#"{
//!   "id": "evt_1", "object": "event", "type": "customer.subscription.deleted",
//!   "api_version": "2031-01-01.future", "created": 1700000000, "livemode": true,
//!   "some_new_field": {"nested": [1, 2, 3]},
//!   "data": {"object": {"id": "sub_1", "customer": "cus_1", "status": "canceled"}}
//! }"#).unwrap();
//!
//! assert_eq!(event.api_version(), Some("2031-01-01.future"));
//! assert!(event.livemode());
//! match event.data() {
//!     EventData::SubscriptionDeleted(subscription) => {
//!         assert_eq!(subscription.customer.as_deref(), Some("cus_1"));
//!         assert!(!subscription.grants_access());
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

mod de;
mod objects;
#[cfg(test)]
mod tests;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::PayloadError;
pub use objects::{CheckoutSession, Invoice, Subscription};

/// A Stripe event: the envelope and its typed [`EventData`].
///
/// ```
/// use portcullis_stripe_webhook::event::Event;
/// let event = Event::from_slice(br#"{"id":"evt_1","type":"ping","created":5}"#).unwrap();
/// assert_eq!(event.id(), "evt_1");
/// assert_eq!(event.created(), 5);
/// assert!(!event.livemode());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    id: String,
    event_type: String,
    created: i64,
    api_version: Option<String>,
    livemode: bool,
    account: Option<String>,
    previous_attributes: Option<Value>,
    typed_parse_failed: bool,
    data: EventData,
}

/// What an event is about, by its `type`. See the [module docs](self).
///
/// ```
/// use portcullis_stripe_webhook::event::{Event, EventData};
/// let event = Event::from_slice(br#"{"id":"evt_1","type":"charge.refunded","data":{"object":{"id":"ch_1"}}}"#).unwrap();
/// let EventData::Unknown(json) = event.data() else { panic!() };
/// assert_eq!(json["data"]["object"]["id"], "ch_1");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EventData {
    /// `checkout.session.completed`.
    CheckoutSessionCompleted(CheckoutSession),
    /// `customer.subscription.created`.
    SubscriptionCreated(Subscription),
    /// `customer.subscription.updated`; see also [`Event::previous_attributes`].
    SubscriptionUpdated(Subscription),
    /// `customer.subscription.deleted`.
    SubscriptionDeleted(Subscription),
    /// `invoice.paid`.
    InvoicePaid(Invoice),
    /// `invoice.payment_failed`.
    InvoicePaymentFailed(Invoice),
    /// A thin event (`object: "v2.core.event"`): a notification that names the object
    /// it is about; fetch the object or the full event from the API.
    Thin(ThinEvent),
    /// Any other type, or a known type whose object did not parse: the whole event.
    Unknown(Value),
}

/// A thin event (API v2, `object: "v2.core.event"`).
///
/// ```
/// use portcullis_stripe_webhook::event::{Event, EventData};
/// let event = Event::from_slice(br#"{
///   "id": "evt_test_65R9", "object": "v2.core.event",
///   "type": "v1.billing.meter.error_report_triggered", "livemode": false,
///   "created": "2024-09-17T06:20:52.246Z", "context": "acct_1",
///   "related_object": {"id": "mtr_1", "type": "billing.meter", "url": "/v1/billing/meters/mtr_1"}
/// }"#).unwrap();
/// let EventData::Thin(thin) = event.data() else { panic!() };
/// assert_eq!(thin.related_object_id.as_deref(), Some("mtr_1"));
/// assert_eq!(thin.context.as_deref(), Some("acct_1"));
/// assert_eq!(event.created(), 1_726_554_052);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThinEvent {
    /// The id of the object the event is about.
    pub related_object_id: Option<String>,
    /// That object's type (`billing.meter`, …).
    pub related_object_type: Option<String>,
    /// Its API URL.
    pub related_object_url: Option<String>,
    /// The account the event happened on (Connect), if not yours.
    pub context: Option<String>,
    /// `created` as sent (RFC 3339).
    pub created: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default, deserialize_with = "de::lenient_string")]
    id: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "de::lenient_string")]
    event_type: Option<String>,
    #[serde(default, deserialize_with = "de::lenient_string")]
    object: Option<String>,
    #[serde(default)]
    created: Option<Value>,
    #[serde(default, deserialize_with = "de::lenient_string")]
    api_version: Option<String>,
    #[serde(default, deserialize_with = "de::lenient_bool")]
    livemode: bool,
    #[serde(default, deserialize_with = "de::lenient_string")]
    account: Option<String>,
    #[serde(default, deserialize_with = "de::lenient_string")]
    context: Option<String>,
    #[serde(default)]
    related_object: Option<Value>,
}

#[derive(Deserialize)]
struct Data<T> {
    object: T,
    #[serde(default)]
    previous_attributes: Option<Value>,
}

fn invalid(message: &'static str) -> PayloadError {
    PayloadError::Invalid {
        source: <serde_json::Error as serde::de::Error>::custom(message),
    }
}

impl Event {
    /// Reads an event from the raw body (verify it first).
    ///
    /// Fails only when the envelope is unreadable; see the
    /// [module docs](self#a-new-api-version-never-turns-a-delivery-into-an-error).
    ///
    /// ```
    /// use portcullis_stripe_webhook::event::Event;
    /// assert!(Event::from_slice(b"not json").is_err());
    /// assert!(Event::from_slice(br#"{"type":"x"}"#).is_err()); // no id
    /// assert!(Event::from_slice(br#"{"id":"evt_1","type":"x"}"#).is_ok());
    /// ```
    pub fn from_slice(body: &[u8]) -> Result<Self, PayloadError> {
        let text = std::str::from_utf8(body).map_err(|error| PayloadError::NotUtf8 {
            valid_up_to: error.valid_up_to(),
        })?;
        // One pass over the bytes; the envelope, then the typed object, are read from
        // the tree, and an `Unknown` event keeps it as is.
        let value: Value =
            serde_json::from_str(text).map_err(|source| PayloadError::Invalid { source })?;
        if !value.is_object() {
            return Err(invalid("the event is not a JSON object"));
        }
        let envelope =
            Envelope::deserialize(&value).map_err(|source| PayloadError::Invalid { source })?;
        let id = envelope
            .id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| invalid("the event has no string `id`"))?;
        let event_type = envelope
            .event_type
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("the event has no string `type`"))?;
        let thin = envelope.object.as_deref() == Some("v2.core.event");
        let created_text = envelope
            .created
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_owned);
        let created = match &envelope.created {
            Some(Value::Number(number)) => number.as_i64().unwrap_or(0),
            Some(Value::String(text)) => de::rfc3339_seconds(text).unwrap_or(0),
            _ => 0,
        };
        let mut event = Self {
            id,
            event_type,
            created,
            api_version: envelope.api_version,
            livemode: envelope.livemode,
            account: envelope.account,
            previous_attributes: None,
            typed_parse_failed: false,
            data: EventData::Unknown(Value::Null),
        };
        if thin {
            let related = envelope.related_object.unwrap_or(Value::Null);
            let field = |name: &str| related.get(name).and_then(Value::as_str).map(str::to_owned);
            event.data = EventData::Thin(ThinEvent {
                related_object_id: field("id"),
                related_object_type: field("type"),
                related_object_url: field("url"),
                context: envelope.context,
                created: created_text,
            });
            return Ok(event);
        }
        let data = value.get("data");
        let typed = match event.event_type.as_str() {
            "checkout.session.completed" => {
                typed::<objects::RawCheckoutSession>(data, &mut event, |raw| {
                    EventData::CheckoutSessionCompleted(raw.into())
                })
            }
            "customer.subscription.created" => {
                typed::<objects::RawSubscription>(data, &mut event, |raw| {
                    EventData::SubscriptionCreated(raw.into())
                })
            }
            "customer.subscription.updated" => {
                typed::<objects::RawSubscription>(data, &mut event, |raw| {
                    EventData::SubscriptionUpdated(raw.into())
                })
            }
            "customer.subscription.deleted" => {
                typed::<objects::RawSubscription>(data, &mut event, |raw| {
                    EventData::SubscriptionDeleted(raw.into())
                })
            }
            "invoice.paid" => typed::<objects::RawInvoice>(data, &mut event, |raw| {
                EventData::InvoicePaid(raw.into())
            }),
            "invoice.payment_failed" => typed::<objects::RawInvoice>(data, &mut event, |raw| {
                EventData::InvoicePaymentFailed(raw.into())
            }),
            _ => None,
        };
        event.data = match typed {
            Some(data) => data,
            // The whole event, for any other type (or a known one that did not parse).
            None => EventData::Unknown(value),
        };
        Ok(event)
    }

    /// The event id (`evt_…`), the same on every delivery of the event.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The event type (`invoice.paid`, …).
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// When the event was created, in Unix seconds (0 if absent or unreadable).
    pub fn created(&self) -> i64 {
        self.created
    }

    /// The API version the object was rendered with, if sent. Any value is accepted,
    /// including versions newer than this crate.
    pub fn api_version(&self) -> Option<&str> {
        self.api_version.as_deref()
    }

    /// Whether the event happened in live mode (`false` for test mode).
    pub fn livemode(&self) -> bool {
        self.livemode
    }

    /// The connected account the event happened on (Connect endpoints).
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The previous values of changed fields (`*.updated` events of known types).
    pub fn previous_attributes(&self) -> Option<&Value> {
        self.previous_attributes.as_ref()
    }

    /// Whether the event is of a known type whose object did not parse, so it fell
    /// back to [`EventData::Unknown`].
    ///
    /// ```
    /// # use portcullis_stripe_webhook::event::{Event, EventData};
    /// let event = Event::from_slice(br#"{"id":"e","type":"invoice.paid","data":{"object":"?"}}"#).unwrap();
    /// assert!(event.typed_parse_failed());
    /// assert!(matches!(event.data(), EventData::Unknown(_)));
    /// ```
    pub fn typed_parse_failed(&self) -> bool {
        self.typed_parse_failed
    }

    /// The typed data.
    pub fn data(&self) -> &EventData {
        &self.data
    }

    /// The typed data, owned.
    pub fn into_data(self) -> EventData {
        self.data
    }

    /// The id of the object the event is about (`sub_…`, `in_…`, `cs_…`, or a thin
    /// event's related object), for per-object ordering.
    ///
    /// ```
    /// # use portcullis_stripe_webhook::event::Event;
    /// let event = Event::from_slice(br#"{"id":"e","type":"charge.refunded","data":{"object":{"id":"ch_1"}}}"#).unwrap();
    /// assert_eq!(event.object_id(), Some("ch_1"));
    /// ```
    pub fn object_id(&self) -> Option<&str> {
        match &self.data {
            EventData::CheckoutSessionCompleted(session) => Some(&session.id),
            EventData::SubscriptionCreated(s)
            | EventData::SubscriptionUpdated(s)
            | EventData::SubscriptionDeleted(s) => Some(&s.id),
            EventData::InvoicePaid(invoice) | EventData::InvoicePaymentFailed(invoice) => {
                Some(&invoice.id)
                    .filter(|id| !id.is_empty())
                    .map(|id| &**id)
            }
            EventData::Thin(thin) => thin.related_object_id.as_deref(),
            EventData::Unknown(value) => value
                .get("data")
                .and_then(|d| d.get("object"))
                .and_then(|o| o.get("id"))
                .and_then(Value::as_str),
        }
    }

    /// The event as JSON of your own type, from its raw body: for fields the typed
    /// structs leave out.
    ///
    /// ```
    /// # use portcullis_stripe_webhook::event::Event;
    /// #[derive(serde::Deserialize)]
    /// struct Mine { pending_webhooks: u32 }
    /// let body = br#"{"id":"e","type":"x","pending_webhooks":2}"#;
    /// let mine: Mine = Event::json_of(body).unwrap();
    /// assert_eq!(mine.pending_webhooks, 2);
    /// ```
    pub fn json_of<T: DeserializeOwned>(body: &[u8]) -> Result<T, PayloadError> {
        serde_json::from_slice(body).map_err(|source| PayloadError::Invalid { source })
    }
}

/// Reads `data.object` as `R` and wraps it; on failure, notes it and returns `None`.
fn typed<R: DeserializeOwned>(
    data: Option<&Value>,
    event: &mut Event,
    wrap: impl FnOnce(R) -> EventData,
) -> Option<EventData> {
    let parsed = match data {
        Some(data) => Data::<R>::deserialize(data),
        None => Err(<serde_json::Error as serde::de::Error>::missing_field(
            "data",
        )),
    };
    match parsed {
        Ok(data) => {
            event.previous_attributes = data.previous_attributes;
            Some(wrap(data.object))
        }
        Err(error) => {
            tracing::warn!(
                target: "portcullis_stripe_webhook",
                event_id = %event.id,
                event_type = %event.event_type,
                api_version = event.api_version.as_deref().unwrap_or("-"),
                %error,
                "typed event did not parse; delivered as EventData::Unknown",
            );
            event.typed_parse_failed = true;
            None
        }
    }
}
