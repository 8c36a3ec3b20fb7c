use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::FailurePolicy;
use super::pipeline::Pipeline;

/// Why a flush or shutdown did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// A sink failed to write or sync, or its writer is gone.
    #[error("a sink failed to write or sync")]
    Failed,
    /// A sink did not answer in time.
    #[error("a sink did not answer within {0:?}")]
    Timeout(Duration),
}

/// One sink's counters.
///
/// ```
/// use portcullis_audit_log::layer::AuditLayer;
/// use portcullis_audit_log::sink::TracingSink;
/// let handle = AuditLayer::new().sink(TracingSink::new()).handle();
/// let sink = &handle.metrics().sinks[0];
/// assert_eq!((sink.name.as_str(), sink.written), ("sink-0", 0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkMetrics {
    /// The sink's name.
    pub name: String,
    /// Its failure policy.
    pub policy: FailurePolicy,
    /// Records offered to it.
    pub enqueued: u64,
    /// Records it wrote.
    pub written: u64,
    /// Records dropped because its queue was full.
    pub overflowed: u64,
    /// Records lost to write errors, or offered after shutdown.
    pub failed: u64,
    /// Batches written.
    pub batches: u64,
    /// Chain checkpoints written.
    pub checkpoints: u64,
}

/// The layer's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Per sink, in the order they were added.
    pub sinks: Vec<SinkMetrics>,
    /// Requests refused with `503 AUDIT_UNAVAILABLE`.
    pub rejected: u64,
    /// Of those, the ones refused because a sink did not answer in time.
    pub timed_out: u64,
    /// Inner services that panicked.
    pub panics: u64,
    /// Requests whose response future was dropped before completion.
    pub cancelled: u64,
}

impl MetricsSnapshot {
    /// Records dropped on full queues, over all sinks.
    pub fn overflowed(&self) -> u64 {
        self.sinks.iter().map(|sink| sink.overflowed).sum()
    }

    /// Records written, over all sinks.
    pub fn written(&self) -> u64 {
        self.sinks.iter().map(|sink| sink.written).sum()
    }

    /// Records lost to failures, over all sinks.
    pub fn failed(&self) -> u64 {
        self.sinks.iter().map(|sink| sink.failed).sum()
    }
}

/// Controls a layer's delivery: metrics, flush, graceful shutdown. Clones share it.
///
/// Get it from [`AuditLayer::handle`](crate::layer::AuditLayer::handle) and keep it
/// for your shutdown sequence: after the server stopped taking requests and the
/// in-flight ones completed, [`shutdown`](Self::shutdown) writes everything queued,
/// seals the hash chain, `fsync`s and stops the writer threads.
#[derive(Clone)]
pub struct AuditHandle {
    pipeline: Arc<Pipeline>,
}

impl fmt::Debug for AuditHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditHandle")
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// How long flush and shutdown wait for room in a full queue, and for the writers.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

impl AuditHandle {
    pub(crate) fn new(pipeline: Arc<Pipeline>) -> Self {
        Self { pipeline }
    }

    /// The counters now.
    pub fn metrics(&self) -> MetricsSnapshot {
        let pipeline = &*self.pipeline;
        MetricsSnapshot {
            sinks: pipeline
                .slots
                .iter()
                .map(|slot| SinkMetrics {
                    name: slot.name.clone(),
                    policy: slot.policy,
                    enqueued: slot.stats.enqueued.load(Ordering::Relaxed),
                    written: slot.stats.written.load(Ordering::Relaxed),
                    overflowed: slot.stats.overflowed.load(Ordering::Relaxed),
                    failed: slot.stats.failed.load(Ordering::Relaxed),
                    batches: slot.stats.batches.load(Ordering::Relaxed),
                    checkpoints: slot.stats.checkpoints.load(Ordering::Relaxed),
                })
                .collect(),
            rejected: pipeline.rejected.load(Ordering::Relaxed),
            timed_out: pipeline.timed_out.load(Ordering::Relaxed),
            panics: pipeline.panics.load(Ordering::Relaxed),
            cancelled: pipeline.cancelled.load(Ordering::Relaxed),
        }
    }

    /// Waits until every record queued before the call is written and synced.
    ///
    /// Sending the flush waits (blocking) for room in a full queue, up to 30 seconds.
    pub async fn flush(&self) -> Result<(), DeliveryError> {
        let ack = self.pipeline.control(false, CONTROL_TIMEOUT);
        if ack.await {
            Ok(())
        } else {
            Err(DeliveryError::Failed)
        }
    }

    /// [`flush`](Self::flush), blocking the thread, at most `timeout`.
    pub fn flush_blocking(&self, timeout: Duration) -> Result<(), DeliveryError> {
        wait(self.pipeline.control(false, timeout), timeout)
    }

    /// Writes every queued record, seals the hash chain with a final checkpoint,
    /// syncs and stops the writers. Records offered afterwards are refused (counted
    /// as failed; fail-closed requests get `503`). Idempotent.
    pub async fn shutdown(&self) -> Result<(), DeliveryError> {
        if !self.pipeline.close() {
            self.pipeline.join();
            return Ok(());
        }
        let ack = self.pipeline.control(true, CONTROL_TIMEOUT);
        let ok = ack.await;
        self.pipeline.join();
        if ok {
            Ok(())
        } else {
            Err(DeliveryError::Failed)
        }
    }

    /// [`shutdown`](Self::shutdown), blocking the thread, at most `timeout`.
    pub fn shutdown_blocking(&self, timeout: Duration) -> Result<(), DeliveryError> {
        if !self.pipeline.close() {
            self.pipeline.join();
            return Ok(());
        }
        let result = wait(self.pipeline.control(true, timeout), timeout);
        if result.is_ok() {
            self.pipeline.join();
        }
        result
    }
}

fn wait(ack: super::Ack, timeout: Duration) -> Result<(), DeliveryError> {
    match ack.wait(timeout) {
        Some(true) => Ok(()),
        Some(false) => Err(DeliveryError::Failed),
        None => Err(DeliveryError::Timeout(timeout)),
    }
}
