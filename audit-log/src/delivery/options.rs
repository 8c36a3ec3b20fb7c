use std::time::Duration;

use http::{Method, Uri};
use serde::Deserialize;

/// What a sink's failure means for requests; see the [module docs](super).
///
/// ```
/// use portcullis_audit_log::delivery::FailurePolicy;
/// assert_eq!(FailurePolicy::default(), FailurePolicy::FailOpen);
/// let policy: FailurePolicy = serde_json::from_str("\"fail_closed\"").unwrap();
/// assert_eq!(policy, FailurePolicy::FailClosed);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Never wait; drop and count what does not fit.
    #[default]
    FailOpen,
    /// Wait until the record is written; refuse the request with `503` otherwise.
    FailClosed,
}

/// Picks the failure policy of one request from its method and URI, for the sinks
/// that follow the layer's default; see
/// [`AuditLayer::failure_policy_for`](crate::layer::AuditLayer::failure_policy_for).
///
/// ```
/// use portcullis_audit_log::delivery::{FailurePolicy, FailurePolicyFn};
/// let admin_fails_closed: FailurePolicyFn = |_, uri| {
///     if uri.path().starts_with("/admin/") { FailurePolicy::FailClosed } else { FailurePolicy::FailOpen }
/// };
/// assert_eq!(admin_fails_closed(&http::Method::POST, &"/admin/keys".parse().unwrap()), FailurePolicy::FailClosed);
/// ```
pub type FailurePolicyFn = fn(&Method, &Uri) -> FailurePolicy;

/// How one sink is fed: its failure policy, queue, batches, timeout and `fsync`.
///
/// ```
/// use std::time::Duration;
/// use portcullis_audit_log::delivery::{FailurePolicy, SinkOptions};
///
/// let options = SinkOptions::fail_closed()
///     .name("evidence")
///     .queue_capacity(4096)
///     .max_batch(128)
///     .write_timeout(Duration::from_millis(500))
///     .fsync_per_batch(true);
/// assert_eq!(options.policy(), FailurePolicy::FailClosed);
/// ```
#[derive(Clone, Debug)]
pub struct SinkOptions {
    pub(crate) name: Option<String>,
    pub(crate) policy: FailurePolicy,
    pub(crate) queue_capacity: usize,
    pub(crate) max_batch: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) fsync: bool,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self::fail_open()
    }
}

impl SinkOptions {
    /// Fail-open: a queue of 8,192 records, batches of up to 256, no `fsync`.
    pub fn fail_open() -> Self {
        Self {
            name: None,
            policy: FailurePolicy::FailOpen,
            queue_capacity: 8_192,
            max_batch: 256,
            write_timeout: Duration::from_secs(5),
            fsync: false,
        }
    }

    /// Fail-closed: as [`fail_open`](Self::fail_open), waiting at most 5 seconds.
    pub fn fail_closed() -> Self {
        Self {
            policy: FailurePolicy::FailClosed,
            ..Self::fail_open()
        }
    }

    /// Sets the failure policy.
    #[must_use]
    pub fn with_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The failure policy.
    pub fn policy(&self) -> FailurePolicy {
        self.policy
    }

    /// Names the sink in metrics and logs (by default `sink-<index>`).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The most records waiting for the writer (at least 1).
    #[must_use]
    pub fn queue_capacity(mut self, records: usize) -> Self {
        self.queue_capacity = records.max(1);
        self
    }

    /// The most records written in one batch (at least 1).
    #[must_use]
    pub fn max_batch(mut self, records: usize) -> Self {
        self.max_batch = records.max(1);
        self
    }

    /// How long a fail-closed request waits for its record to be written.
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Whether each batch is made durable (`fsync`) before it is acknowledged.
    #[must_use]
    pub fn fsync_per_batch(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }
}
