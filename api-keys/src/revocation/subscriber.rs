//! [`Subscriber`]: the task that applies what other instances publish to this one's
//! caches, and reconnects by itself.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{ChannelError, Receiver, RevocationChannel};
use crate::invalidation::InvalidationSink;

/// The first delay before subscribing again after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest delay between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

type Hook = Arc<dyn Fn() + Send + Sync + 'static>;

/// Subscribes to a [`RevocationChannel`] on a Tokio task and hands every invalidation
/// to the local [`InvalidationSink`]s (the verification cache) (feature `tokio`).
///
/// When the channel fails (a connection killed, a server restarting, a receiver that
/// lagged behind), the task subscribes again after a backoff that starts at 100 ms,
/// doubles per failed attempt up to 5 s, and is jittered down by up to half. It logs
/// with `tracing` once per transition: a warning when the channel is lost or cannot
/// be reached, an info event when it is subscribed again (each further failed
/// attempt only at debug level). [`SubscriberHandle::is_connected`] tells the state.
///
/// Invalidations published while no subscription stands are lost. The
/// [`on_reconnect`](Self::on_reconnect) hook runs whenever that may have happened,
/// each time a subscription is made after a failure; clear the cache there. Without
/// it, a key changed during the gap keeps its cached state on this instance until
/// the cache entry expires (the cache's positive TTL).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use portcullis_api_keys::invalidation::{Invalidation, InvalidationSink};
/// use portcullis_api_keys::revocation::{RevocationChannel, Subscriber};
/// use portcullis_api_keys::revocation::in_process::InProcessChannel;
/// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::KeyId};
///
/// #[derive(Default)]
/// struct Cache(Mutex<Vec<Invalidation>>);
///
/// impl InvalidationSink for Cache {
///     fn invalidate(&self, invalidation: &Invalidation) {
///         self.0.lock().unwrap().push(*invalidation);
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let channel = InProcessChannel::new();
/// let cache = Arc::new(Cache::default());
/// let subscriber = Subscriber::new(channel.clone())
///     .sink(cache.clone())
///     .on_reconnect({
///         let cache = cache.clone();
///         move || cache.0.lock().unwrap().clear() // a real cache drops every entry
///     })
///     .spawn();
/// subscriber.connected().await;
///
/// # let hash = KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed());
/// let invalidation = Invalidation::new(KeyId::generate(), hash);
/// channel.publish(&invalidation).await.unwrap(); // on another instance, say
/// while subscriber.received() == 0 {
///     tokio::task::yield_now().await;
/// }
/// assert_eq!(*cache.0.lock().unwrap(), [invalidation]);
/// # });
/// ```
#[must_use = "a subscriber does nothing until spawned"]
pub struct Subscriber<C> {
    channel: C,
    sinks: Vec<Arc<dyn InvalidationSink>>,
    on_reconnect: Option<Hook>,
    min_backoff: Duration,
    max_backoff: Duration,
}

impl<C: fmt::Debug> fmt::Debug for Subscriber<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("channel", &self.channel)
            .field("sinks", &self.sinks.len())
            .field("on_reconnect", &self.on_reconnect.is_some())
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

impl<C: RevocationChannel> Subscriber<C> {
    /// A subscriber to `channel`, with no sink yet.
    pub fn new(channel: C) -> Self {
        Self {
            channel,
            sinks: Vec::new(),
            on_reconnect: None,
            min_backoff: MIN_BACKOFF,
            max_backoff: MAX_BACKOFF,
        }
    }

    /// Adds a sink that receives every invalidation, on the subscriber's task: it must
    /// not block. A sink that panics is logged and does not stop the subscriber.
    pub fn sink(mut self, sink: Arc<dyn InvalidationSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Runs `hook` each time a subscription is made after a failure (a lost connection,
    /// a failed attempt, a lagging receiver): invalidations may have been missed, so
    /// drop every cached record there. Not run on a first subscription that succeeds
    /// at once. It runs on the subscriber's task and must not block.
    pub fn on_reconnect(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_reconnect = Some(Arc::new(hook));
        self
    }

    /// The delay before the first attempt after a failure, and the longest delay;
    /// 100 ms and 5 s by default. The delay doubles with each failed attempt and
    /// starts again from `min` once a subscription has stood for `max`. `max` below
    /// `min` is taken as `min`; a zero `min` is taken as 1 ms.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min.max(Duration::from_millis(1));
        self.max_backoff = max.max(self.min_backoff);
        self
    }

    /// Starts the task. Keep the handle for as long as the instance serves: dropping
    /// it stops the task.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (with its timer enabled).
    ///
    /// ```
    /// use portcullis_api_keys::revocation::{Subscriber, in_process::InProcessChannel};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let subscriber = Subscriber::new(InProcessChannel::new()).spawn();
    /// subscriber.connected().await;
    /// assert!(subscriber.is_connected());
    /// # });
    /// ```
    pub fn spawn(self) -> SubscriberHandle {
        let state = Arc::new(State {
            connected: watch::Sender::new(false),
            received: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
        });
        let task = tokio::spawn(run(self, state.clone()));
        SubscriberHandle { task, state }
    }
}

/// What the task shares with its handle.
#[derive(Debug)]
struct State {
    connected: watch::Sender<bool>,
    received: AtomicU64,
    reconnects: AtomicU64,
}

/// The running [`Subscriber`]: its state, and the means to stop it. Dropping the
/// handle stops the task.
///
/// ```
/// use portcullis_api_keys::revocation::{Subscriber, in_process::InProcessChannel};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let subscriber = Subscriber::new(InProcessChannel::new()).spawn();
/// subscriber.connected().await;
/// assert_eq!((subscriber.received(), subscriber.reconnects()), (0, 0));
/// subscriber.shutdown().await;
/// # });
/// ```
#[derive(Debug)]
#[must_use = "dropping the handle stops the subscriber"]
pub struct SubscriberHandle {
    task: JoinHandle<()>,
    state: Arc<State>,
}

impl SubscriberHandle {
    /// Whether a subscription stands now. While it does not, invalidations from other
    /// instances are missed (see [`Subscriber`]).
    ///
    /// ```
    /// use portcullis_api_keys::revocation::{Subscriber, in_process::InProcessChannel};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let subscriber = Subscriber::new(InProcessChannel::new()).spawn();
    /// assert!(!subscriber.is_connected()); // the task has not run yet
    /// subscriber.connected().await;
    /// assert!(subscriber.is_connected());
    /// # });
    /// ```
    pub fn is_connected(&self) -> bool {
        *self.state.connected.borrow()
    }

    /// Waits until a subscription stands (at once if one does). After a failure the
    /// [`on_reconnect`](Subscriber::on_reconnect) hook has run by then.
    pub async fn connected(&self) {
        let mut state = self.state.connected.subscribe();
        // The sender lives in `self.state`: waiting cannot fail while `self` lives.
        let _ = state.wait_for(|connected| *connected).await;
    }

    /// How many invalidations the task has handed to the sinks.
    ///
    /// ```
    /// use portcullis_api_keys::revocation::{Subscriber, in_process::InProcessChannel};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let subscriber = Subscriber::new(InProcessChannel::new()).spawn();
    /// assert_eq!(subscriber.received(), 0);
    /// # });
    /// ```
    pub fn received(&self) -> u64 {
        self.state.received.load(Ordering::Relaxed)
    }

    /// How many subscriptions were made after a failure: how often the
    /// [`on_reconnect`](Subscriber::on_reconnect) hook ran.
    ///
    /// ```
    /// use portcullis_api_keys::revocation::{Subscriber, in_process::InProcessChannel};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let subscriber = Subscriber::new(InProcessChannel::new()).spawn();
    /// subscriber.connected().await;
    /// assert_eq!(subscriber.reconnects(), 0);
    /// # });
    /// ```
    pub fn reconnects(&self) -> u64 {
        self.state.reconnects.load(Ordering::Relaxed)
    }

    /// Stops the task and waits until it has stopped (its subscription dropped).
    ///
    /// ```
    /// use portcullis_api_keys::revocation::{RevocationChannel, Subscriber};
    /// use portcullis_api_keys::revocation::in_process::InProcessChannel;
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let channel = InProcessChannel::new();
    /// let subscriber = Subscriber::new(channel.clone()).spawn();
    /// subscriber.connected().await;
    /// assert_eq!(channel.receivers(), 1);
    /// subscriber.shutdown().await;
    /// assert_eq!(channel.receivers(), 0);
    /// # });
    /// ```
    pub async fn shutdown(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for SubscriberHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Exponential backoff with jitter.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
        }
    }

    /// The next delay: between half and all of the current step, which then doubles.
    fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (step * 2).min(self.max);
        let nanos = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(nanos / 2..=nanos))
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

async fn run<C: RevocationChannel>(subscriber: Subscriber<C>, state: Arc<State>) {
    let Subscriber {
        channel,
        sinks,
        on_reconnect,
        min_backoff,
        max_backoff,
    } = subscriber;
    let name = std::any::type_name::<C>();
    let mut backoff = Backoff::new(min_backoff, max_backoff);
    // Whether invalidations may have been missed since the last subscription.
    let mut gap = false;
    // Whether the current outage has been logged at warning level.
    let mut warned = false;
    loop {
        match channel.subscribe().await {
            Ok(mut receiver) => {
                if gap {
                    state.reconnects.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(channel = name, "revocation channel subscribed again");
                    if let Some(hook) = &on_reconnect
                        && catch_unwind(AssertUnwindSafe(|| hook())).is_err()
                    {
                        tracing::error!(channel = name, "the on_reconnect hook panicked");
                    }
                } else {
                    tracing::info!(channel = name, "revocation channel subscribed");
                }
                state.connected.send_replace(true);
                let since = Instant::now();
                let error = deliver(&mut receiver, &sinks, &state).await;
                drop(receiver);
                state.connected.send_replace(false);
                // Lost: whatever is published until the next subscription is missed.
                gap = true;
                warned = true;
                tracing::warn!(
                    channel = name,
                    %error,
                    "revocation channel lost: until it is back, keys changed on other \
                     instances keep their cached state here until the cache entry expires"
                );
                if since.elapsed() >= max_backoff {
                    backoff.reset();
                }
            }
            Err(error) => {
                gap = true;
                if warned {
                    tracing::debug!(channel = name, %error, "revocation channel still unavailable");
                } else {
                    warned = true;
                    tracing::warn!(
                        channel = name,
                        %error,
                        "revocation channel unavailable; retrying with backoff"
                    );
                }
            }
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// Hands every invalidation to the sinks until the receiver fails.
async fn deliver(
    receiver: &mut impl Receiver,
    sinks: &[Arc<dyn InvalidationSink>],
    state: &State,
) -> ChannelError {
    loop {
        match receiver.recv().await {
            Ok(invalidation) => {
                for sink in sinks {
                    // A panicking sink must not end the subscription of the others.
                    let delivered =
                        catch_unwind(AssertUnwindSafe(|| sink.invalidate(&invalidation)));
                    if delivered.is_err() {
                        tracing::error!(key_id = %invalidation.id, "an invalidation sink panicked");
                    }
                }
                state.received.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => return error,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::io;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::Notify;

    use super::*;
    use crate::invalidation::Invalidation;

    /// A channel whose subscriptions fail or stand as scripted; `kill` ends the
    /// standing one.
    #[derive(Clone, Default)]
    struct Scripted {
        attempts: Arc<Mutex<VecDeque<bool>>>,
        kill: Arc<Notify>,
    }

    struct Killable(Arc<Notify>);

    impl Receiver for Killable {
        async fn recv(&mut self) -> Result<Invalidation, ChannelError> {
            self.0.notified().await;
            Err(ChannelError::Disconnected)
        }
    }

    impl RevocationChannel for Scripted {
        type Receiver = Killable;

        async fn publish(&self, _: &Invalidation) -> Result<(), ChannelError> {
            Ok(())
        }

        async fn subscribe(&self) -> Result<Killable, ChannelError> {
            let succeeds = self.attempts.lock().unwrap().pop_front().unwrap_or(true);
            if succeeds {
                Ok(Killable(self.kill.clone()))
            } else {
                Err(ChannelError::backend("connection refused"))
            }
        }
    }

    /// `tracing` output, captured.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self, level: &str, message: &str) -> usize {
            String::from_utf8_lossy(&self.0.lock().unwrap())
                .lines()
                .filter(|line| line.contains(level) && line.contains(message))
                .count()
        }
    }

    #[test]
    fn reconnects_with_backoff_and_logs_once_per_transition() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        // One thread, paused time: the task runs here, and backoffs pass at once.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let channel = Scripted::default();
            // Three failed attempts, a subscription; killed, two failures, a subscription.
            channel
                .attempts
                .lock()
                .unwrap()
                .extend([false, false, false, true, false, false, true]);
            let hooks = Arc::new(AtomicUsize::new(0));
            let handle = Subscriber::new(channel.clone())
                .on_reconnect({
                    let hooks = hooks.clone();
                    move || {
                        hooks.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .spawn();
            let started = Instant::now();
            handle.connected().await;
            // 100 + 200 + 400 ms of backoff, each jittered down by up to half.
            let waited = started.elapsed();
            assert!(
                waited >= Duration::from_millis(350) && waited <= Duration::from_millis(700),
                "{waited:?}"
            );
            assert_eq!((handle.reconnects(), hooks.load(Ordering::SeqCst)), (1, 1));

            channel.kill.notify_one();
            while handle.is_connected() {
                tokio::task::yield_now().await;
            }
            handle.connected().await;
            assert_eq!((handle.reconnects(), hooks.load(Ordering::SeqCst)), (2, 2));
        });
        assert_eq!(captured.lines("WARN", "revocation channel unavailable"), 1);
        assert_eq!(
            captured.lines("DEBUG", "revocation channel still unavailable"),
            4
        );
        assert_eq!(captured.lines("WARN", "revocation channel lost"), 1);
        assert_eq!(
            captured.lines("INFO", "revocation channel subscribed again"),
            2
        );
        assert_eq!(captured.lines("INFO", "revocation channel subscribed"), 2);
    }

    #[test]
    fn a_first_subscription_that_succeeds_calls_no_hook() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let hooks = Arc::new(AtomicUsize::new(0));
            let handle = Subscriber::new(Scripted::default())
                .on_reconnect({
                    let hooks = hooks.clone();
                    move || {
                        hooks.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .spawn();
            handle.connected().await;
            assert_eq!((handle.reconnects(), hooks.load(Ordering::SeqCst)), (0, 0));
        });
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let steps = [100, 200, 350, 350];
        for step in steps {
            let delay = backoff.next_delay();
            let step = Duration::from_millis(step);
            assert!(delay >= step / 2 && delay <= step, "{delay:?} for {step:?}");
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
