use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

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
    /// Fail-closed requests answered by the handler although their `response`
    /// record could not be written (their `request` record was: see the
    /// [module docs](super)).
    pub unconfirmed: u64,
    /// Requests left unrecorded by
    /// [`level_after_response`](crate::layer::AuditLayer::level_after_response).
    pub skipped: u64,
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

/// Whether a sink works; see [`AuditHandle::health`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SinkStatus {
    /// Its last write succeeded (or it has written nothing yet).
    Ok,
    /// Its last write or sync failed: records are lost (fail-open) or refused
    /// (fail-closed).
    Failing,
    /// A write has been under way for longer than its write timeout.
    Stalled,
    /// Its writer is gone: shut down, or it never started.
    Stopped,
}

impl SinkStatus {
    /// `ok`, `failing`, `stalled` or `stopped`, for a health report.
    ///
    /// ```
    /// assert_eq!(portcullis_audit_log::delivery::SinkStatus::Failing.as_str(), "failing");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failing => "failing",
            Self::Stalled => "stalled",
            Self::Stopped => "stopped",
        }
    }
}

/// One sink's health.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkHealth {
    /// The sink's name.
    pub name: String,
    /// Its failure policy (for requests without one of their own).
    pub policy: FailurePolicy,
    /// Whether it works.
    pub status: SinkStatus,
    /// Since when it fails (the first of the failures in a row), by the layer's
    /// clock.
    pub failing_since: Option<SystemTime>,
    /// The writes and syncs that failed since the last one that succeeded.
    pub failures_in_a_row: u64,
    /// The last error, while it fails. It may name a file: show it to operators,
    /// not to clients.
    pub last_error: Option<String>,
}

/// The health of a layer's sinks; see [`AuditHandle::health`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// Per sink, in the order they were added.
    pub sinks: Vec<SinkHealth>,
}

impl Health {
    /// Whether every sink is [`Ok`](SinkStatus::Ok).
    pub fn is_ok(&self) -> bool {
        self.sinks.iter().all(|sink| sink.status == SinkStatus::Ok)
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
            unconfirmed: pipeline.unconfirmed.load(Ordering::Relaxed),
            skipped: pipeline.skipped.load(Ordering::Relaxed),
        }
    }

    /// Whether each sink works now, for a health or readiness report.
    ///
    /// A sink is [`Failing`](SinkStatus::Failing) from the first write (or sync) that
    /// fails and [`Ok`](SinkStatus::Ok) again from the first that succeeds: it
    /// recovers by itself, with the next batch written once the disk has room or the
    /// destination answers (a fail-closed request is such a write; with no record to
    /// write, the status stays what the last write left). It is
    /// [`Stalled`](SinkStatus::Stalled) while a write has taken longer than the sink's
    /// write timeout, and [`Stopped`](SinkStatus::Stopped) once its writer is gone
    /// (after [`shutdown`](Self::shutdown)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use http::{Request, Response};
    /// use portcullis_audit_log::delivery::SinkStatus;
    /// use portcullis_audit_log::layer::AuditLayer;
    /// use portcullis_audit_log::sink::{Batch, CallbackSink, SinkError};
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let disk_full = Arc::new(AtomicBool::new(true));
    /// let full = disk_full.clone();
    /// let sink = CallbackSink::new(move |_: &Batch<'_>| match full.load(Ordering::SeqCst) {
    ///     true => Err(SinkError::other("no space left on device")),
    ///     false => Ok(()),
    /// });
    /// let layer = AuditLayer::new().sink(sink);
    /// let handle = layer.handle();
    /// let app = ServiceBuilder::new().layer(layer).service(service_fn(|_: Request<_>| async {
    ///     Ok::<_, std::convert::Infallible>(Response::new(String::new()))
    /// }));
    /// assert!(handle.health().is_ok(), "nothing written yet");
    ///
    /// app.clone().oneshot(Request::new(String::new())).await.unwrap();
    /// let _ = handle.flush().await;
    /// let health = handle.health();
    /// assert_eq!(health.sinks[0].status, SinkStatus::Failing);
    /// assert_eq!(health.sinks[0].last_error.as_deref(), Some("no space left on device"));
    ///
    /// // Room again: the next records are written, and the sink is well again.
    /// disk_full.store(false, Ordering::SeqCst);
    /// app.oneshot(Request::new(String::new())).await.unwrap();
    /// handle.flush().await.unwrap();
    /// assert!(handle.health().is_ok());
    ///
    /// handle.shutdown().await.unwrap();
    /// assert_eq!(handle.health().sinks[0].status, SinkStatus::Stopped);
    /// # }
    /// ```
    pub fn health(&self) -> Health {
        let pipeline = &*self.pipeline;
        let closed = pipeline.is_closed();
        Health {
            sinks: pipeline
                .slots
                .iter()
                .map(|slot| {
                    let failure = slot.stats.lock_failure().clone();
                    let status = if closed || slot.stopped() {
                        SinkStatus::Stopped
                    } else if slot
                        .stats
                        .writing_for()
                        .is_some_and(|taken| taken > slot.write_timeout)
                    {
                        SinkStatus::Stalled
                    } else if slot.stats.failing.load(Ordering::Acquire) {
                        SinkStatus::Failing
                    } else {
                        SinkStatus::Ok
                    };
                    SinkHealth {
                        name: slot.name.clone(),
                        policy: slot.policy,
                        status,
                        failing_since: failure.since,
                        failures_in_a_row: failure.in_a_row,
                        last_error: failure.last_error,
                    }
                })
                .collect(),
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
