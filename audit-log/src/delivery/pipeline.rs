use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};
use portcullis_core::clock::{Clock, saturating_nanos};

use super::ack::{Ack, AckToken};
use super::options::{FailurePolicy, SinkOptions};
use super::pool::RecordPool;
use super::writer::{Message, Writer};
use crate::chain::CheckpointSigner;
use crate::record::Record;
use crate::sink::Sink;

/// The hash-chain configuration every writer gets.
#[derive(Clone, Debug)]
pub(crate) struct ChainSettings {
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) signer: Option<CheckpointSigner>,
    pub(crate) every_records: u64,
    pub(crate) every: Duration,
}

/// One sink's counters and health.
#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) enqueued: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) overflowed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) checkpoints: AtomicU64,
    /// Whether the sink's last write or sync failed (`failure` has the details).
    pub(crate) failing: AtomicBool,
    pub(crate) failure: Mutex<Failure>,
    /// When the write under way started, in nanoseconds since `epoch` plus one; 0
    /// when the writer is not in a write.
    pub(crate) writing_since: AtomicU64,
    pub(crate) epoch: Instant,
}

/// What is known of a failing sink.
#[derive(Clone, Debug, Default)]
pub(crate) struct Failure {
    pub(crate) since: Option<SystemTime>,
    pub(crate) last_error: Option<String>,
    pub(crate) in_a_row: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            enqueued: AtomicU64::new(0),
            written: AtomicU64::new(0),
            overflowed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            checkpoints: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            failure: Mutex::new(Failure::default()),
            writing_since: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl Stats {
    /// The writer is about to write or sync.
    pub(crate) fn begin_io(&self) {
        let since = saturating_nanos(self.epoch.elapsed()).saturating_add(1);
        self.writing_since.store(since, Ordering::Relaxed);
    }

    /// The write or sync is over: the sink works, or fails with `error` (at `now`).
    pub(crate) fn end_io(&self, error: Option<&dyn std::fmt::Display>, now: SystemTime) {
        self.writing_since.store(0, Ordering::Relaxed);
        match error {
            None => {
                if self.failing.swap(false, Ordering::AcqRel) {
                    *self.lock_failure() = Failure::default();
                }
            }
            Some(error) => {
                let mut failure = self.lock_failure();
                failure.since.get_or_insert(now);
                failure.last_error = Some(error.to_string());
                failure.in_a_row += 1;
                self.failing.store(true, Ordering::Release);
            }
        }
    }

    /// A sync is over and succeeded: that says nothing of whether writes work.
    pub(crate) fn end_io_unproven(&self) {
        self.writing_since.store(0, Ordering::Relaxed);
    }

    pub(crate) fn lock_failure(&self) -> std::sync::MutexGuard<'_, Failure> {
        self.failure
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// How long the write under way has taken so far, if one is.
    pub(crate) fn writing_for(&self) -> Option<Duration> {
        match self.writing_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(
                self.epoch
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(since - 1)),
            ),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) name: String,
    pub(crate) policy: FailurePolicy,
    /// Whether the sink takes the layer's default options, and with them a request's
    /// own failure policy ([`FailurePolicyFn`](super::FailurePolicyFn)).
    follows_request: bool,
    pub(crate) write_timeout: Duration,
    tx: Sender<Message>,
    /// Half the queue: past it, a sender wakes the writer.
    wake_at: usize,
    /// Whether the writer sleeps.
    parked: Arc<AtomicBool>,
    pub(crate) stats: Arc<Stats>,
    writer: Option<Thread>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Slot {
    fn wake(&self) {
        if let Some(writer) = &self.writer {
            writer.unpark();
        }
    }

    /// The policy this sink applies to a request whose own policy is `request`.
    fn policy_for(&self, request: Option<FailurePolicy>) -> FailurePolicy {
        match request {
            Some(policy) if self.follows_request => policy,
            _ => self.policy,
        }
    }

    /// Whether the writer thread is gone (never started, ended, or joined).
    pub(crate) fn stopped(&self) -> bool {
        self.writer.is_none()
            || self
                .thread
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .as_ref()
                .is_none_or(JoinHandle::is_finished)
    }
}

/// How many fail-closed sinks a request waits for, and for how long at most.
#[derive(Clone, Copy, Debug, Default)]
struct Closed {
    sinks: usize,
    wait: Duration,
}

/// The running writers of one layer.
#[derive(Debug)]
pub(crate) struct Pipeline {
    pub(crate) slots: Vec<Slot>,
    /// The fail-closed sinks of a request with no policy of its own, one that fails
    /// open and one that fails closed.
    fail_closed: [Closed; 3],
    closed: AtomicBool,
    pub(crate) rejected: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) unconfirmed: AtomicU64,
    pub(crate) skipped: AtomicU64,
    /// Written records for requests to reuse.
    pool: Arc<RecordPool>,
}

impl Pipeline {
    /// Starts a writer per sink; a sink with `true` follows the layer's default
    /// options and each request's own failure policy.
    pub(crate) fn start(
        sinks: Vec<(Box<dyn Sink>, SinkOptions, bool)>,
        chain: Option<ChainSettings>,
        clock: Arc<dyn Clock>,
        report_interval: Duration,
    ) -> Self {
        if sinks.is_empty() {
            tracing::warn!(target: "portcullis_audit_log", "the audit layer has no sink: records go nowhere");
        }
        let mut slots = Vec::with_capacity(sinks.len());
        let pool = Arc::new(RecordPool::new());
        for (index, (sink, options, follows_request)) in sinks.into_iter().enumerate() {
            let name = options
                .name
                .clone()
                .unwrap_or_else(|| format!("sink-{index}"));
            let (tx, rx) = crossbeam_channel::bounded(options.queue_capacity);
            let stats = Arc::new(Stats::default());
            let parked = Arc::new(AtomicBool::new(false));
            let writer = Writer::new(
                name.clone(),
                sink,
                rx,
                options.clone(),
                stats.clone(),
                parked.clone(),
                chain.clone(),
                clock.clone(),
                report_interval,
                pool.clone(),
            );
            let thread = std::thread::Builder::new()
                .name(format!("audit-{name}"))
                .spawn(move || writer.run());
            let thread = match thread {
                Ok(thread) => Some(thread),
                Err(error) => {
                    // The receiver went with the closure: every send now fails, and
                    // is counted (and refused, for a fail-closed sink).
                    tracing::error!(target: "portcullis_audit_log", sink = %name, %error, "cannot start the audit writer thread");
                    None
                }
            };
            slots.push(Slot {
                name,
                policy: options.policy,
                follows_request,
                write_timeout: options.write_timeout,
                tx,
                wake_at: options.queue_capacity.div_ceil(2),
                parked,
                stats,
                writer: thread.as_ref().map(|thread| thread.thread().clone()),
                thread: Mutex::new(thread),
            });
        }
        let closed_for = |request: Option<FailurePolicy>| {
            let closed = slots
                .iter()
                .filter(|slot| slot.policy_for(request) == FailurePolicy::FailClosed);
            Closed {
                sinks: closed.clone().count(),
                wait: closed
                    .map(|slot| slot.write_timeout)
                    .max()
                    .unwrap_or_default(),
            }
        };
        Self {
            fail_closed: [
                closed_for(None),
                closed_for(Some(FailurePolicy::FailOpen)),
                closed_for(Some(FailurePolicy::FailClosed)),
            ],
            slots,
            closed: AtomicBool::new(false),
            rejected: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            unconfirmed: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            pool,
        }
    }

    fn closed_for(&self, request: Option<FailurePolicy>) -> Closed {
        self.fail_closed[match request {
            None => 0,
            Some(FailurePolicy::FailOpen) => 1,
            Some(FailurePolicy::FailClosed) => 2,
        }]
    }

    /// The pool of written records, when there are writers to fill it.
    pub(crate) fn pool(&self) -> Option<&RecordPool> {
        (!self.slots.is_empty()).then_some(&*self.pool)
    }

    /// How long a request with this policy of its own waits at most for the
    /// fail-closed sinks; `None` when it waits for none (it fails open).
    pub(crate) fn wait_for(&self, request: Option<FailurePolicy>) -> Option<Duration> {
        let closed = self.closed_for(request);
        (closed.sinks > 0).then_some(closed.wait)
    }

    /// Queues `record` for every sink. With `acknowledge`, returns what the sinks
    /// that fail closed for a request of this policy answer (`None` when there is
    /// none).
    pub(crate) fn submit(
        &self,
        record: Arc<Record>,
        acknowledge: bool,
        request: Option<FailurePolicy>,
    ) -> Option<Ack> {
        let waited_for = self.closed_for(request).sinks;
        let ack = (acknowledge && waited_for > 0).then(|| Ack::new(waited_for));
        let closed = self.closed.load(Ordering::Acquire);
        for slot in &self.slots {
            slot.stats.enqueued.fetch_add(1, Ordering::Relaxed);
            let token = match (&ack, slot.policy_for(request)) {
                (Some(ack), FailurePolicy::FailClosed) => Some(AckToken::new(ack.clone())),
                _ => None,
            };
            if closed {
                slot.stats.failed.fetch_add(1, Ordering::Relaxed);
                // Dropping the token answers `false`.
                drop(token);
                continue;
            }
            let waited_for = token.is_some();
            match slot.tx.try_send(Message::Record(record.clone(), token)) {
                Ok(()) => {
                    // The queue's length is read only while the writer sleeps: while
                    // it drains, reading it would pull its cache line every time.
                    if waited_for
                        || (slot.parked.load(Ordering::Relaxed) && slot.tx.len() >= slot.wake_at)
                    {
                        slot.wake();
                    }
                }
                Err(TrySendError::Full(_)) => {
                    slot.stats.overflowed.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => {
                    slot.stats.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        ack
    }

    /// Sends a control message to every writer, waiting at most `timeout` for room
    /// in each queue; the returned ack answers when all are done.
    pub(crate) fn control(&self, shutdown: bool, timeout: Duration) -> Ack {
        let ack = Ack::new(self.slots.len().max(1));
        if self.slots.is_empty() {
            ack.complete(true);
        }
        for slot in &self.slots {
            let token = AckToken::new(ack.clone());
            let message = if shutdown {
                Message::Shutdown(token)
            } else {
                Message::Flush(token)
            };
            slot.wake();
            match slot.tx.send_timeout(message, timeout) {
                Ok(()) => slot.wake(),
                // Dropping the message's token answers `false`.
                Err(SendTimeoutError::Timeout(_) | SendTimeoutError::Disconnected(_)) => {}
            }
        }
        ack
    }

    /// Refuses records from now on.
    /// Whether this call closed it (it was open).
    pub(crate) fn close(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Waits for the writer threads to end.
    pub(crate) fn join(&self) {
        for slot in &self.slots {
            let thread = slot
                .thread
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .take();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
    }
}
