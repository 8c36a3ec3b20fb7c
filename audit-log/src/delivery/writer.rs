use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, TryRecvError};
use portcullis_core::clock::Clock;

use super::ack::AckToken;
use super::options::SinkOptions;
use super::pipeline::{ChainSettings, Stats};
use super::pool::{RecordPool, Spent};
use crate::chain::{Chain, ChainHead, CheckpointReason, CheckpointSigner};
use crate::json::{JsonWriter, rfc3339};
use crate::record::Record;
use crate::sink::{Batch, Sink};

/// How long an idle writer sleeps before looking at its queue again: the most a
/// fail-open record waits before it is written, unless the queue fills up.
pub(crate) const LINGER: Duration = Duration::from_millis(5);

/// How long a writer that just wrote sleeps when its queue is empty; each further
/// empty look doubles it, up to [`LINGER`]. Under load records are written within
/// this, while the writer of an idle sink wakes up no more often than every `LINGER`.
const LINGER_BUSY: Duration = Duration::from_micros(100);

/// What a writer receives.
#[derive(Debug)]
pub(crate) enum Message {
    Record(Arc<Record>, Option<AckToken>),
    Flush(AckToken),
    Shutdown(AckToken),
}

struct ChainState {
    chain: Chain,
    signer: Option<CheckpointSigner>,
    every_records: u64,
    every: Duration,
    /// Records since the last checkpoint of any kind.
    since_checkpoint: u64,
    last_checkpoint: Instant,
    /// Whether this writer wrote lines to the current file since it last sealed it:
    /// the file is sealed before it is left.
    unsealed: bool,
    /// The checkpoint the next line written to the current file follows (`open` or
    /// `restart`), until it is written.
    start: Option<CheckpointReason>,
}

/// Where a chain stood before a write, to go back to if the write fails.
struct Mark {
    head: ChainHead,
    since_checkpoint: u64,
    unsealed: bool,
    start: Option<CheckpointReason>,
}

impl ChainState {
    fn mark(&self) -> Mark {
        Mark {
            head: self.chain.head().clone(),
            since_checkpoint: self.since_checkpoint,
            unsealed: self.unsealed,
            start: self.start,
        }
    }

    fn rewind(&mut self, mark: Mark) {
        self.chain.rewind(mark.head);
        self.since_checkpoint = mark.since_checkpoint;
        self.unsealed = mark.unsealed;
        self.start = mark.start;
    }
}

/// Runs one write (or sync) of the sink, keeping its health in `stats` up to date:
/// failing from the first error, working again from the first write that succeeds
/// (a sync alone proves nothing: a full disk syncs what it has).
fn tracked(
    stats: &Stats,
    clock: &dyn Clock,
    writes: bool,
    io: impl FnOnce() -> Result<(), crate::sink::SinkError>,
) -> Result<(), crate::sink::SinkError> {
    stats.begin_io();
    let result = io();
    match &result {
        Ok(()) if !writes => stats.end_io_unproven(),
        result => stats.end_io(
            result
                .as_ref()
                .err()
                .map(|error| error as &dyn std::fmt::Display),
            clock.now(),
        ),
    }
    result
}

/// One sink's writer thread.
pub(crate) struct Writer {
    name: String,
    sink: Box<dyn Sink>,
    rx: Receiver<Message>,
    options: SinkOptions,
    stats: Arc<Stats>,
    /// Set while the writer sleeps, for senders to know a wake-up is needed.
    parked: Arc<AtomicBool>,
    chain: Option<ChainState>,
    settings: Option<ChainSettings>,
    clock: Arc<dyn Clock>,
    report_interval: Duration,
    last_report: Instant,
    reported_overflow: u64,
    reported_failed: u64,
    bytes: Vec<u8>,
    line: Vec<u8>,
    pool: Arc<RecordPool>,
    /// Written records on their way to the pool, with their info and without.
    whole: Vec<Arc<Record>>,
    bare: Vec<Arc<Record>>,
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: String,
        sink: Box<dyn Sink>,
        rx: Receiver<Message>,
        options: SinkOptions,
        stats: Arc<Stats>,
        parked: Arc<AtomicBool>,
        settings: Option<ChainSettings>,
        clock: Arc<dyn Clock>,
        report_interval: Duration,
        pool: Arc<RecordPool>,
    ) -> Self {
        let max_batch = options.max_batch;
        Self {
            name,
            sink,
            rx,
            options,
            stats,
            parked,
            chain: None,
            settings,
            clock,
            report_interval,
            last_report: Instant::now(),
            reported_overflow: 0,
            reported_failed: 0,
            bytes: Vec::with_capacity(64 * 1024),
            line: Vec::with_capacity(1024),
            pool,
            whole: Vec::with_capacity(max_batch),
            bare: Vec::with_capacity(max_batch),
        }
    }

    /// Continues the chain from the sink's last line, or from the last line of the
    /// storage before it (a rotated file) when the sink is empty; the first line
    /// this writer writes is then a `restart` (or `open`) checkpoint naming it.
    fn resume_chain(&mut self) {
        let Some(settings) = self.settings.take() else {
            return;
        };
        let mut chain = match &settings.key {
            Some(key) => Chain::keyed(key),
            None => Chain::sha256(),
        };
        let (line, start) = match self.sink.last_line() {
            Some(line) => (Some(line), CheckpointReason::Restart),
            None => (self.sink.previous_last_line(), CheckpointReason::Open),
        };
        if let Some(line) = line {
            let seq = serde_json::from_slice::<serde_json::Value>(&line)
                .ok()
                .and_then(|value| value.get("seq")?.as_u64());
            match seq {
                Some(seq) => {
                    let head = ChainHead {
                        next_seq: seq + 1,
                        hash: chain.hash(&line),
                    };
                    chain = chain.resume(head);
                }
                None => tracing::warn!(
                    target: "portcullis_audit_log",
                    sink = %self.name,
                    "the sink's last line has no chain `seq`: starting a new chain",
                ),
            }
        }
        self.chain = Some(ChainState {
            chain,
            signer: settings.signer,
            every_records: settings.every_records.max(1),
            every: settings.every,
            since_checkpoint: 0,
            last_checkpoint: Instant::now(),
            unsealed: false,
            start: Some(start),
        });
    }

    /// The writer never blocks in the channel (a sender would then pay a wake-up
    /// system call per record): it drains what is queued, and parks for at most
    /// [`LINGER`] when nothing is ([`LINGER_BUSY`] at first after writing), and for
    /// `LINGER_BUSY` after a batch that was not full, so that records trickling in
    /// are written in batches rather than one by one. Senders unpark it when a
    /// record is waited for, for flush and shutdown, and when the queue is half full
    /// while it sleeps.
    pub(crate) fn run(mut self) {
        self.resume_chain();
        let mut batch: Vec<(Arc<Record>, Option<AckToken>)> =
            Vec::with_capacity(self.options.max_batch);
        let mut linger = LINGER_BUSY;
        loop {
            let mut control = None;
            let mut disconnected = false;
            while control.is_none() && batch.len() < self.options.max_batch {
                match self.rx.try_recv() {
                    Ok(Message::Record(record, token)) => batch.push((record, token)),
                    Ok(other) => control = Some(other),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            let full = batch.len() >= self.options.max_batch;
            let idle = batch.is_empty() && control.is_none();
            let had_control = control.is_some();
            if !batch.is_empty() {
                self.write_batch(&mut batch);
            }
            match control {
                Some(Message::Flush(token)) => {
                    let ok = self.sync();
                    token.complete(ok);
                }
                Some(Message::Shutdown(token)) => {
                    self.seal(CheckpointReason::Shutdown);
                    let ok = self.sync();
                    token.complete(ok);
                    return;
                }
                _ => {}
            }
            if disconnected {
                // Every sender is gone (the layer was dropped) and the queue is empty.
                self.seal(CheckpointReason::Shutdown);
                let _ = tracked(&self.stats, &*self.clock, false, || self.sink.sync());
                return;
            }
            self.housekeeping();
            if idle {
                self.park(linger, true);
                linger = (linger * 2).min(LINGER);
            } else {
                linger = LINGER_BUSY;
                if !full && !had_control {
                    // Let records queue up for the next batch, rather than writing
                    // them one or two at a time as they trickle in (senders still
                    // wake the writer for a record they wait for).
                    self.park(LINGER_BUSY, false);
                }
            }
        }
    }

    /// Sleeps up to `timeout`, or until a sender wakes the writer; with
    /// `only_if_empty`, not at all if records came in meanwhile.
    fn park(&self, timeout: Duration, only_if_empty: bool) {
        self.parked.store(true, Ordering::SeqCst);
        if !only_if_empty || self.rx.is_empty() {
            std::thread::park_timeout(timeout);
        }
        self.parked.store(false, Ordering::SeqCst);
    }

    fn sync(&mut self) -> bool {
        match tracked(&self.stats, &*self.clock, false, || self.sink.sync()) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(target: "portcullis_audit_log", sink = %self.name, %error, "audit sink sync failed");
                false
            }
        }
    }

    /// Time-based checkpoints and the overflow report.
    fn housekeeping(&mut self) {
        if let Some(chain) = &self.chain
            && chain.since_checkpoint > 0
            && chain.last_checkpoint.elapsed() >= chain.every
        {
            self.checkpoint_alone(CheckpointReason::Periodic);
        }
        if self.last_report.elapsed() >= self.report_interval {
            self.last_report = Instant::now();
            let overflowed = self.stats.overflowed.load(Ordering::Relaxed);
            if overflowed > self.reported_overflow {
                tracing::warn!(
                    target: "portcullis_audit_log",
                    sink = %self.name,
                    dropped = overflowed - self.reported_overflow,
                    total = overflowed,
                    "audit records dropped: the sink's queue was full (fail-open)",
                );
                self.reported_overflow = overflowed;
            }
            let failed = self.stats.failed.load(Ordering::Relaxed);
            if failed > self.reported_failed {
                tracing::warn!(
                    target: "portcullis_audit_log",
                    sink = %self.name,
                    lost = failed - self.reported_failed,
                    total = failed,
                    "audit records lost: the sink failed",
                );
                self.reported_failed = failed;
            }
        }
    }

    /// Appends a checkpoint line to `self.bytes`: the chain head it follows (none at
    /// the genesis), signed over the whole line when there is a signer.
    fn push_checkpoint(&mut self, now: SystemTime, reason: CheckpointReason) {
        let Some(state) = self.chain.as_mut() else {
            return;
        };
        let head = state.chain.head().clone();
        let timestamp = rfc3339(now);
        self.line.clear();
        let mut w = JsonWriter::new(&mut self.line);
        w.str("@timestamp", &timestamp);
        w.open("event");
        w.str("id", &format!("checkpoint:{}", head.next_seq));
        w.str("kind", "event");
        w.str("action", "checkpoint");
        w.str("reason", reason.as_str());
        w.str("dataset", "portcullis.audit");
        w.close();
        w.open("checkpoint");
        if !head.is_genesis() {
            w.u64("head_seq", head.next_seq - 1);
            w.str("head_hash", &head.hash);
        }
        if let Some(signer) = &state.signer {
            w.str("public_key", &signer.public_key_hex());
        }
        w.close();
        w.finish();
        state.chain.link(&mut self.line);
        if let Some(signer) = &state.signer {
            signer.sign_line(&mut self.line);
        }
        state.chain.commit(&self.line);
        state.since_checkpoint = 0;
        state.last_checkpoint = Instant::now();
        state.unsealed = !reason.is_seal();
        if reason.is_start() {
            state.start = None;
        }
        self.bytes.extend_from_slice(&self.line);
        self.bytes.push(b'\n');
        self.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
    }

    /// The `open` or `restart` checkpoint, if the current file still needs it.
    fn push_start(&mut self, now: SystemTime) {
        if let Some(start) = self.chain.as_ref().and_then(|state| state.start) {
            self.push_checkpoint(now, start);
        }
    }

    /// Writes a checkpoint on its own (after the file's start checkpoint, if due)
    /// when records came since the last one.
    fn checkpoint_alone(&mut self, reason: CheckpointReason) {
        if self
            .chain
            .as_ref()
            .is_none_or(|chain| chain.since_checkpoint == 0)
        {
            return;
        }
        self.write_checkpoint(reason);
    }

    /// Seals the current file, if this writer wrote to it since it was last sealed.
    fn seal(&mut self, reason: CheckpointReason) {
        if self.chain.as_ref().is_none_or(|chain| !chain.unsealed) {
            return;
        }
        self.write_checkpoint(reason);
    }

    fn write_checkpoint(&mut self, reason: CheckpointReason) {
        let now = self.clock.now();
        self.bytes.clear();
        let mark = self.chain.as_ref().map(ChainState::mark);
        self.push_start(now);
        self.push_checkpoint(now, reason);
        let text = std::str::from_utf8(&self.bytes).unwrap_or_default();
        let ends = text
            .match_indices('\n')
            .map(|(at, _)| (None, at + 1))
            .collect();
        let batch = Batch::new(text, ends);
        if let Err(error) = tracked(&self.stats, &*self.clock, true, || self.sink.write(&batch)) {
            tracing::error!(target: "portcullis_audit_log", sink = %self.name, %error, "cannot write an audit checkpoint");
            if let (Some(state), Some(mark)) = (self.chain.as_mut(), mark) {
                state.rewind(mark);
            }
        }
    }

    fn write_batch(&mut self, batch: &mut Vec<(Arc<Record>, Option<AckToken>)>) {
        let now = self.clock.now();
        if self.sink.rotation_due(now) {
            self.seal(CheckpointReason::Rotation);
            if self.options.fsync {
                self.sync();
            }
            if let Err(error) = self.sink.rotate(now) {
                tracing::error!(target: "portcullis_audit_log", sink = %self.name, %error, "audit file rotation failed");
            }
            // The next file starts with where it continues from (and so does this
            // one, if it could not be left: after its seal).
            if let Some(state) = self.chain.as_mut() {
                state.start = Some(CheckpointReason::Open);
            }
        }
        self.bytes.clear();
        let mark = self.chain.as_ref().map(ChainState::mark);
        let mut ends = Vec::with_capacity(batch.len() + 2);
        if self
            .chain
            .as_ref()
            .is_some_and(|state| state.start.is_some())
        {
            self.push_start(now);
            ends.push((None, self.bytes.len()));
        }
        for (index, (record, _)) in batch.iter().enumerate() {
            let start = self.bytes.len();
            record.write_json(&mut self.bytes);
            if let Some(state) = self.chain.as_mut() {
                state.chain.advance_at(&mut self.bytes, start);
                state.since_checkpoint += 1;
                state.unsealed = true;
            }
            self.bytes.push(b'\n');
            ends.push((Some(index), self.bytes.len()));
            let due = self
                .chain
                .as_ref()
                .is_some_and(|state| state.since_checkpoint >= state.every_records);
            if due {
                self.push_checkpoint(now, CheckpointReason::Periodic);
                ends.push((None, self.bytes.len()));
            }
        }
        let bytes = std::mem::take(&mut self.bytes);
        let text = std::str::from_utf8(&bytes).unwrap_or_default();
        let entries = ends
            .iter()
            .map(|(index, end)| (index.map(|i| &*batch[i].0), *end))
            .collect();
        let to_write = Batch::new(text, entries);
        let fsync = self.options.fsync;
        let mut written = false;
        let result = tracked(&self.stats, &*self.clock, true, || {
            self.sink.write(&to_write)?;
            written = true;
            if fsync { self.sink.sync() } else { Ok(()) }
        });
        if !written && let (Some(state), Some(mark)) = (self.chain.as_mut(), mark) {
            // The chain goes on from the last line written, not from lines lost.
            state.rewind(mark);
        }
        self.bytes = bytes;
        let count = batch.len() as u64;
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        let ok = match result {
            Ok(()) => {
                self.stats.written.fetch_add(count, Ordering::Relaxed);
                true
            }
            Err(error) => {
                self.stats.failed.fetch_add(count, Ordering::Relaxed);
                tracing::error!(target: "portcullis_audit_log", sink = %self.name, records = count, %error, "audit sink write failed");
                false
            }
        };
        for (record, token) in batch.drain(..) {
            if let Some(token) = token {
                token.complete(ok);
            }
            match self.pool.spend(record) {
                Spent::Whole(record) => self.whole.push(record),
                Spent::Bare(record) => self.bare.push(record),
                Spent::Held => {}
            }
        }
        self.pool.give(&mut self.whole, &mut self.bare);
    }
}
