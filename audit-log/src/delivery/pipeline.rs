use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};
use portcullis_core::clock::Clock;

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

/// One sink's counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) enqueued: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) overflowed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) checkpoints: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) name: String,
    pub(crate) policy: FailurePolicy,
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
}

/// The running writers of one layer.
#[derive(Debug)]
pub(crate) struct Pipeline {
    pub(crate) slots: Vec<Slot>,
    fail_closed: usize,
    /// The longest write timeout of the fail-closed sinks.
    wait: Duration,
    closed: AtomicBool,
    pub(crate) rejected: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    /// Written records for requests to reuse.
    pool: Arc<RecordPool>,
}

impl Pipeline {
    pub(crate) fn start(
        sinks: Vec<(Box<dyn Sink>, SinkOptions)>,
        chain: Option<ChainSettings>,
        clock: Arc<dyn Clock>,
        report_interval: Duration,
    ) -> Self {
        if sinks.is_empty() {
            tracing::warn!(target: "portcullis_audit_log", "the audit layer has no sink: records go nowhere");
        }
        let mut slots = Vec::with_capacity(sinks.len());
        let pool = Arc::new(RecordPool::new());
        for (index, (sink, options)) in sinks.into_iter().enumerate() {
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
                write_timeout: options.write_timeout,
                tx,
                wake_at: options.queue_capacity.div_ceil(2),
                parked,
                stats,
                writer: thread.as_ref().map(|thread| thread.thread().clone()),
                thread: Mutex::new(thread),
            });
        }
        let closed_slots = slots
            .iter()
            .filter(|slot| slot.policy == FailurePolicy::FailClosed);
        Self {
            fail_closed: closed_slots.clone().count(),
            wait: closed_slots
                .map(|slot| slot.write_timeout)
                .max()
                .unwrap_or_default(),
            slots,
            closed: AtomicBool::new(false),
            rejected: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            pool,
        }
    }

    /// The pool of written records, when there are writers to fill it.
    pub(crate) fn pool(&self) -> Option<&RecordPool> {
        (!self.slots.is_empty()).then_some(&*self.pool)
    }

    /// How long a request waits at most for the fail-closed sinks.
    pub(crate) fn wait_timeout(&self) -> Duration {
        self.wait
    }

    /// Queues `record` for every sink. With `acknowledge`, returns what the
    /// fail-closed sinks answer (`None` when there is none).
    pub(crate) fn submit(&self, record: Arc<Record>, acknowledge: bool) -> Option<Ack> {
        let ack = (acknowledge && self.fail_closed > 0).then(|| Ack::new(self.fail_closed));
        let closed = self.closed.load(Ordering::Acquire);
        for slot in &self.slots {
            slot.stats.enqueued.fetch_add(1, Ordering::Relaxed);
            let token = match (&ack, slot.policy) {
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
