//! [`WebhookConfig`]: an endpoint's limits and TTLs, as set on the builder or loaded
//! from a file; and the state every clone of a service shares.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The default body limit: 1 MiB.
///
/// ```
/// assert_eq!(portcullis_stripe_webhook::endpoint::DEFAULT_BODY_LIMIT, 1 << 20);
/// ```
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// The limits and TTLs of a webhook endpoint: what
/// [`WebhookBuilder`](super::WebhookBuilder)'s setters set, and what
/// [`WebhookBuilder::config`](super::WebhookBuilder::config) takes from a
/// configuration file. Every field is optional there (unset fields keep their
/// default); durations are in seconds.
///
/// | field | default |
/// |---|---|
/// | `body_limit` | 1 MiB ([`DEFAULT_BODY_LIMIT`]) |
/// | `claim_ttl` | 300 s |
/// | `completed_ttl` | 7 days |
/// | `retry_after` | 60 s |
///
/// ```
/// use std::time::Duration;
/// use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Webhook, WebhookConfig};
/// use portcullis_stripe_webhook::event::Event;
///
/// let config: WebhookConfig = serde_json::from_str(r#"{ "body_limit": 65536, "claim_ttl": 30 }"#)?;
/// assert_eq!(config.claim_ttl, Duration::from_secs(30));
/// assert_eq!(config.completed_ttl, Duration::from_secs(7 * 86_400));
///
/// let service = Webhook::stripe("whsec_test_secret")?
///     .config(config)
///     .handler(|_: Delivery<Event>| async { Ok::<_, HandlerError>(()) });
/// assert_eq!(service.config().body_limit, 65_536);
///
/// assert!(serde_json::from_str::<WebhookConfig>(r#"{ "body_limt": 1 }"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// [`WebhookBuilder::body_limit`](super::WebhookBuilder::body_limit), in bytes.
    pub body_limit: usize,
    /// [`WebhookBuilder::claim_ttl`](super::WebhookBuilder::claim_ttl), in seconds.
    #[serde(deserialize_with = "seconds")]
    pub claim_ttl: Duration,
    /// [`WebhookBuilder::completed_ttl`](super::WebhookBuilder::completed_ttl), in
    /// seconds.
    #[serde(deserialize_with = "seconds")]
    pub completed_ttl: Duration,
    /// [`WebhookBuilder::retry_after`](super::WebhookBuilder::retry_after), in
    /// seconds.
    #[serde(deserialize_with = "seconds")]
    pub retry_after: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            claim_ttl: Duration::from_secs(300),
            completed_ttl: Duration::from_secs(7 * 86_400),
            retry_after: Duration::from_secs(60),
        }
    }
}

impl WebhookConfig {
    /// The TTLs of at least 1 ms each, as the setters keep them.
    pub(crate) fn clamped(mut self) -> Self {
        self.claim_ttl = self.claim_ttl.max(MIN_TTL);
        self.completed_ttl = self.completed_ttl.max(MIN_TTL);
        self
    }
}

/// The shortest claim or completion TTL: stores refuse a zero TTL.
pub(crate) const MIN_TTL: Duration = Duration::from_millis(1);

/// A number of seconds, fractions allowed.
fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let seconds = f64::deserialize(deserializer)?;
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        serde::de::Error::custom(format!(
            "{seconds} is not a duration: use a number of seconds, zero or more"
        ))
    })
}

/// What every clone of a [`Webhook`](super::Webhook) service shares, behind one `Arc`.
pub(crate) struct Shared<Sch, H, St> {
    pub(crate) scheme: Sch,
    pub(crate) handler: H,
    pub(crate) store: St,
    pub(crate) config: WebhookConfig,
}
