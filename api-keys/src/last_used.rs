//! Batched `last_used_at` writes (feature `tokio`): [`LastUsedBatcher`] takes every
//! key use from verification without waiting and writes them to the store in
//! batches, never once per request.
//!
//! - **Coalescing**: pending uses sit in one map, the latest time per key id, so
//!   10,000 requests with 100 keys make 100 entries.
//! - **Writes**: a flush takes the whole map (a swap under a mutex held for
//!   nanoseconds) and writes it with *one*
//!   [`KeyStore::record_last_used`] call,
//!   ids sorted (so that batches of several instances lock rows in the same order).
//!   A background task flushes every `interval` (10 s by default) and as soon as
//!   `flush_at` keys are pending (1,000), whichever comes first; one flush runs at a
//!   time.
//! - **Never blocking**: [`record_use`](UsageRecorder::record_use) updates the map
//!   and, at most, wakes the task; it never waits on the store.
//! - **Failures**: a failed flush puts its uses back, merged with those recorded
//!   meanwhile (the later time wins), logs a `tracing` warning once per failing
//!   streak, and is retried at the next interval (not earlier, however full the map
//!   gets). The map is bounded: at `max_pending` keys (100,000), uses of keys not
//!   already pending are **dropped** and counted ([`dropped`](LastUsedBatcher::dropped));
//!   uses of pending keys still advance their time. A dropped use only means an
//!   older `last_used_at` until the key's next use after the store recovers.
//! - **Shutdown**: [`shutdown`](LastUsedBatcher::shutdown)`.await` stops the task and
//!   flushes everything pending. Dropping the batcher cannot wait for a write (`Drop`
//!   is not async): it tells the task to make one last flush and stop, which happens
//!   only if the runtime keeps running; a runtime shutting down cancels it. Call
//!   `shutdown` before the runtime ends (after the server has drained).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
//! use portcullis_api_keys::invalidation::UsageRecorder;
//! use portcullis_api_keys::last_used::{BatchConfig, LastUsedBatcher};
//! use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
//! use portcullis_api_keys::store::memory::MemoryKeyStore;
//! use portcullis_api_keys::timestamp::Timestamp;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let store = MemoryKeyStore::new();
//! let keys = KeyLifecycle::new(store.clone(), KeyFormat::default(), KeyHasher::sha256());
//! let id = keys.create(NewKey::new(TenantId::new("acme"))).await?.record.id;
//!
//! let batcher = Arc::new(LastUsedBatcher::spawn(
//!     store.clone(),
//!     BatchConfig::new().interval(Duration::from_secs(30)),
//! ));
//! let recorder: Arc<dyn UsageRecorder> = batcher.clone(); // for the verification layer
//! for micros in 1..=1_000 {
//!     recorder.record_use(id, Timestamp::from_unix_micros(micros));
//! }
//! assert_eq!(batcher.pending(), 1);
//!
//! batcher.shutdown().await?; // one write
//! assert_eq!(keys.get(&id).await?.last_used_at, Some(Timestamp::from_unix_micros(1_000)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::future::poll_fn;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::id::KeyId;
use crate::invalidation::UsageRecorder;
use crate::store::{KeyStore, StoreError};
use crate::timestamp::Timestamp;

/// How a [`LastUsedBatcher`] batches: when it flushes, and how much it holds.
///
/// ```
/// use std::time::Duration;
/// use portcullis_api_keys::last_used::BatchConfig;
///
/// let config = BatchConfig::new()
///     .interval(Duration::from_secs(5))
///     .flush_at(500)
///     .max_pending(50_000);
/// assert_eq!(config, BatchConfig::default().interval(Duration::from_secs(5)).flush_at(500).max_pending(50_000));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct BatchConfig {
    interval: Duration,
    flush_at: usize,
    max_pending: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchConfig {
    /// Flush every 10 s or at 1,000 pending keys; hold at most 100,000 keys.
    pub fn new() -> Self {
        Self {
            interval: Duration::from_secs(10),
            flush_at: 1_000,
            max_pending: 100_000,
        }
    }

    /// How often the task flushes, and how long it waits before retrying a failed
    /// flush. Taken as at least 1 ms.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How many distinct keys pending make the task flush before the interval ends
    /// (the size of a write). Taken as at least 1.
    pub fn flush_at(mut self, keys: usize) -> Self {
        self.flush_at = keys.max(1);
        self
    }

    /// How many distinct keys may be pending at most (while the store fails); uses of
    /// other keys beyond that are dropped and counted. Taken as at least 1.
    pub fn max_pending(mut self, keys: usize) -> Self {
        self.max_pending = keys.max(1);
        self
    }
}

/// A [`UsageRecorder`] that coalesces key uses and writes `last_used_at` in batches
/// from a background task. See the [module docs](self).
pub struct LastUsedBatcher<S> {
    inner: Arc<Inner<S>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

struct Inner<S> {
    store: S,
    config: BatchConfig,
    pending: Mutex<HashMap<KeyId, Timestamp>>,
    /// `flush_at` keys are pending.
    full: Notify,
    /// The handle asked the task to stop.
    stop: Notify,
    /// One flush at a time.
    flushing: tokio::sync::Mutex<()>,
    /// Whether the last flush failed (to log once per streak).
    failing: AtomicBool,
    dropped: AtomicU64,
    failed_flushes: AtomicU64,
}

impl<S> fmt::Debug for LastUsedBatcher<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LastUsedBatcher")
            .field("config", &self.inner.config)
            .field("pending", &self.inner.lock().len())
            .field("dropped", &self.inner.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<S: KeyStore> LastUsedBatcher<S> {
    /// Starts batching into `store` (give it a clone of the store verification reads
    /// from) on a Tokio task.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (with its timer enabled).
    pub fn spawn(store: S, config: BatchConfig) -> Self {
        let inner = Arc::new(Inner {
            store,
            config,
            pending: Mutex::new(HashMap::new()),
            full: Notify::new(),
            stop: Notify::new(),
            flushing: tokio::sync::Mutex::new(()),
            failing: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            failed_flushes: AtomicU64::new(0),
        });
        let task = tokio::spawn(run(inner.clone()));
        Self {
            inner,
            task: Mutex::new(Some(task)),
        }
    }

    /// Writes every pending use now, in one store call (none if nothing is pending),
    /// and returns how many keys it wrote. On failure the uses stay pending.
    ///
    /// Cancelling the returned future while it waits on the store loses the batch it
    /// took.
    ///
    /// ```
    /// use portcullis_api_keys::{id::KeyId, timestamp::Timestamp};
    /// use portcullis_api_keys::invalidation::UsageRecorder;
    /// use portcullis_api_keys::last_used::{BatchConfig, LastUsedBatcher};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let batcher = LastUsedBatcher::spawn(MemoryKeyStore::new(), BatchConfig::new());
    /// batcher.record_use(KeyId::generate(), Timestamp::from_unix_micros(1));
    /// batcher.record_use(KeyId::generate(), Timestamp::from_unix_micros(2));
    /// assert_eq!(batcher.flush().await?, 2);
    /// assert_eq!(batcher.flush().await?, 0);
    /// # Ok::<(), portcullis_api_keys::store::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn flush(&self) -> Result<usize, StoreError> {
        self.inner.flush().await
    }

    /// Stops the background task and writes everything pending; the error if that
    /// last write fails (the uses then stay pending: [`flush`](Self::flush) may be
    /// retried). Uses recorded afterwards stay pending until a `flush`. Waits for a
    /// write in progress: bound it with a timeout if the store may hang.
    ///
    /// ```
    /// use portcullis_api_keys::{id::KeyId, timestamp::Timestamp};
    /// use portcullis_api_keys::invalidation::UsageRecorder;
    /// use portcullis_api_keys::last_used::{BatchConfig, LastUsedBatcher};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let batcher = LastUsedBatcher::spawn(MemoryKeyStore::new(), BatchConfig::new());
    /// batcher.record_use(KeyId::generate(), Timestamp::from_unix_micros(1));
    /// batcher.shutdown().await?;
    /// assert_eq!(batcher.pending(), 0);
    /// # Ok::<(), portcullis_api_keys::store::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            self.inner.stop.notify_one();
            // The task only ends by itself; a panic in the store would end it too.
            let _ = task.await;
        }
        self.inner.flush().await.map(|_| ())
    }

    /// How many distinct keys have uses waiting to be written.
    ///
    /// ```
    /// use portcullis_api_keys::{id::KeyId, timestamp::Timestamp};
    /// use portcullis_api_keys::invalidation::UsageRecorder;
    /// use portcullis_api_keys::last_used::{BatchConfig, LastUsedBatcher};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let batcher = LastUsedBatcher::spawn(MemoryKeyStore::new(), BatchConfig::new());
    /// let id = KeyId::generate();
    /// batcher.record_use(id, Timestamp::from_unix_micros(1));
    /// batcher.record_use(id, Timestamp::from_unix_micros(2));
    /// assert_eq!(batcher.pending(), 1);
    /// # });
    /// ```
    pub fn pending(&self) -> usize {
        self.inner.lock().len()
    }

    /// How many uses were dropped because `max_pending` keys were already pending.
    ///
    /// ```
    /// use portcullis_api_keys::{id::KeyId, timestamp::Timestamp};
    /// use portcullis_api_keys::invalidation::UsageRecorder;
    /// use portcullis_api_keys::last_used::{BatchConfig, LastUsedBatcher};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let config = BatchConfig::new().max_pending(1).flush_at(10);
    /// let batcher = LastUsedBatcher::spawn(MemoryKeyStore::new(), config);
    /// batcher.record_use(KeyId::generate(), Timestamp::from_unix_micros(1));
    /// batcher.record_use(KeyId::generate(), Timestamp::from_unix_micros(1));
    /// assert_eq!(batcher.dropped(), 1);
    /// # });
    /// ```
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// How many flushes have failed.
    ///
    /// ```
    /// use portcullis_api_keys::last_used::{BatchConfig, LastUsedBatcher};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let batcher = LastUsedBatcher::spawn(MemoryKeyStore::new(), BatchConfig::new());
    /// assert_eq!(batcher.failed_flushes(), 0);
    /// # });
    /// ```
    pub fn failed_flushes(&self) -> u64 {
        self.inner.failed_flushes.load(Ordering::Relaxed)
    }
}

impl<S: KeyStore> UsageRecorder for LastUsedBatcher<S> {
    fn record_use(&self, id: KeyId, at: Timestamp) {
        let full = {
            let mut pending = self.inner.lock();
            let len = pending.len();
            match pending.entry(id) {
                Entry::Occupied(mut entry) => {
                    if at > *entry.get() {
                        entry.insert(at);
                    }
                    false
                }
                Entry::Vacant(_) if len >= self.inner.config.max_pending => {
                    self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Entry::Vacant(entry) => {
                    entry.insert(at);
                    len + 1 == self.inner.config.flush_at
                }
            }
        };
        if full {
            self.inner.full.notify_one();
        }
    }
}

impl<S> Drop for LastUsedBatcher<S> {
    fn drop(&mut self) {
        // The task makes a last flush and ends, if the runtime lets it.
        self.inner.stop.notify_one();
    }
}

impl<S> Inner<S> {
    fn lock(&self) -> MutexGuard<'_, HashMap<KeyId, Timestamp>> {
        // Every critical section leaves the map consistent.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S: KeyStore> Inner<S> {
    async fn flush(&self) -> Result<usize, StoreError> {
        let _one_at_a_time = self.flushing.lock().await;
        let mut batch: Vec<(KeyId, Timestamp)> = {
            let mut pending = self.lock();
            if pending.is_empty() {
                return Ok(0);
            }
            let capacity = pending.len();
            std::mem::replace(&mut *pending, HashMap::with_capacity(capacity))
                .into_iter()
                .collect()
        };
        batch.sort_unstable_by_key(|&(id, _)| id);
        match self.store.record_last_used(&batch).await {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(keys = batch.len(), "last_used_at writes succeed again");
                }
                Ok(batch.len())
            }
            Err(error) => {
                self.failed_flushes.fetch_add(1, Ordering::Relaxed);
                self.put_back(batch);
                if self.failing.swap(true, Ordering::Relaxed) {
                    tracing::debug!(%error, "last_used_at write failed again");
                } else {
                    tracing::warn!(
                        %error,
                        "last_used_at write failed; keeping the uses to retry"
                    );
                }
                Err(error)
            }
        }
    }

    /// Merges the uses of a failed batch with those recorded since.
    fn put_back(&self, batch: Vec<(KeyId, Timestamp)>) {
        let mut pending = self.lock();
        let mut dropped = 0;
        for (id, at) in batch {
            let len = pending.len();
            match pending.entry(id) {
                Entry::Occupied(mut entry) => {
                    if at > *entry.get() {
                        entry.insert(at);
                    }
                }
                Entry::Vacant(_) if len >= self.config.max_pending => dropped += 1,
                Entry::Vacant(entry) => {
                    entry.insert(at);
                }
            }
        }
        drop(pending);
        self.dropped.fetch_add(dropped, Ordering::Relaxed);
    }
}

/// What the task wakes up for.
enum Wake {
    Tick,
    Full,
    Stop,
}

async fn run<S: KeyStore>(inner: Arc<Inner<S>>) {
    let interval = inner.config.interval;
    let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // After a failure, only the next tick retries, however full the map gets.
    let mut backing_off = false;
    loop {
        let wake = {
            let mut stop = pin!(inner.stop.notified());
            let mut full = pin!(inner.full.notified());
            poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::Stop);
                }
                if ticker.poll_tick(cx).is_ready() {
                    return Poll::Ready(Wake::Tick);
                }
                if !backing_off && full.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::Full);
                }
                Poll::Pending
            })
            .await
        };
        match wake {
            Wake::Stop => {
                // Errors are logged; what failed stays pending for `shutdown`.
                let _ = inner.flush().await;
                return;
            }
            Wake::Tick | Wake::Full => {
                backing_off = inner.flush().await.is_err();
                if backing_off {
                    ticker.reset();
                }
            }
        }
    }
}
