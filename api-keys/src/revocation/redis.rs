//! The Redis pub/sub channel (feature `redis`).
//!
//! Publishing is one `PUBLISH <channel> <payload>` on a multiplexed connection that
//! reconnects by itself (a [`ConnectionManager`]). Each subscription is a dedicated
//! RESP2 pub/sub connection that `SUBSCRIBE`s to the channel; the receiver `PING`s it
//! after every 10 s without traffic and gives up on it when the answer takes longer
//! than 2 s, so a silently dead connection (a half-open socket, a paused server) ends
//! the subscription as surely as a closed one, and the
//! [`Subscriber`](super::Subscriber) makes a new one.
//!
//! Pub/sub is fire and forget: Redis keeps nothing for a subscriber that is not
//! connected at the moment of the `PUBLISH` (see the
//! [revocation guarantee](super#the-guarantee)). On Redis Cluster, `PUBLISH` reaches
//! the subscribers of every node.
//!
//! # Example
//!
//! `no_run`: it needs a Redis server (the crate's `tests/` run the channel against one).
//!
//! ```no_run
//! use std::time::Duration;
//! use portcullis_api_keys::revocation::{RevocationChannel, Subscriber};
//! use portcullis_api_keys::revocation::redis::RedisChannel;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Every instance: the same server, the same channel name.
//! let channel = RedisChannel::open("redis://127.0.0.1:6379")?.name("billing-api:key-invalidations");
//! let subscriber = Subscriber::new(channel.clone()).spawn(); // .sink(cache)
//! tokio::time::timeout(Duration::from_secs(5), subscriber.connected()).await?;
//! assert!(subscriber.is_connected());
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_core::Stream;
use redis::aio::{ConnectionManager, PubSubSink, PubSubStream};
use tokio::time::Instant;

use super::channel::timed;
use super::payload;
use super::{ChannelError, Receiver, RevocationChannel};
use crate::invalidation::Invalidation;

/// The channel name unless set: `portcullis:api-keys:invalidations`.
///
/// ```
/// use portcullis_api_keys::revocation::redis::DEFAULT_CHANNEL;
/// assert_eq!(DEFAULT_CHANNEL, "portcullis:api-keys:invalidations");
/// ```
pub const DEFAULT_CHANNEL: &str = "portcullis:api-keys:invalidations";

/// How long a subscription may be quiet before the receiver pings it.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// How long connecting, subscribing and a health check may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A [`RevocationChannel`] over Redis pub/sub; clones share the publishing
/// connection. See the [module docs](self).
///
/// ```
/// use portcullis_api_keys::revocation::redis::RedisChannel;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Connects on first use: a server that is down is no error yet.
/// let channel = RedisChannel::open("redis://127.0.0.1:1").unwrap();
/// assert_eq!(channel.channel_name(), "portcullis:api-keys:invalidations");
/// assert!(RedisChannel::open("not a url").is_err());
/// # }
/// ```
#[derive(Clone)]
pub struct RedisChannel {
    client: redis::Client,
    publisher: ConnectionManager,
    name: Arc<str>,
    health_check_interval: Duration,
    timeout: Duration,
}

impl fmt::Debug for RedisChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisChannel")
            .field("name", &self.name)
            .field("health_check_interval", &self.health_check_interval)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisChannel {
    /// A channel on the Redis at `url`, connecting on first use. Only a malformed URL
    /// is an error.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn open(url: &str) -> Result<Self, ChannelError> {
        let client = redis::Client::open(url).map_err(ChannelError::backend)?;
        Self::new(client)
    }

    /// A channel through `client` (with your TLS, credentials, protocol), connecting
    /// on first use.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn new(client: redis::Client) -> Result<Self, ChannelError> {
        let config = portcullis_core::redis::connection_config()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let publisher = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(ChannelError::backend)?;
        Ok(Self {
            client,
            publisher,
            name: Arc::from(DEFAULT_CHANNEL),
            health_check_interval: HEALTH_CHECK_INTERVAL,
            timeout: TIMEOUT,
        })
    }

    /// Sets the Redis channel to publish and subscribe on. Every instance of a service
    /// uses the same; different services (or test runs) sharing a server use
    /// different ones.
    ///
    /// ```
    /// use portcullis_api_keys::revocation::redis::RedisChannel;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let channel = RedisChannel::open("redis://127.0.0.1:6379/").unwrap().name("billing:keys");
    /// assert_eq!(channel.channel_name(), "billing:keys");
    /// # }
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Arc::from(name.into());
        self
    }

    /// How long a subscription may be quiet before it is pinged (10 s), and how long
    /// connecting, subscribing and a ping may take (2 s). A subscription that fails a
    /// ping ends with [`ChannelError::Unresponsive`]. Zero durations are taken as 1 ms.
    #[must_use]
    pub fn health_check(mut self, interval: Duration, timeout: Duration) -> Self {
        self.health_check_interval = interval.max(Duration::from_millis(1));
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The Redis channel name.
    ///
    /// ```
    /// use portcullis_api_keys::revocation::redis::RedisChannel;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let channel = RedisChannel::open("redis://127.0.0.1:6379/").unwrap();
    /// assert_eq!(channel.channel_name(), portcullis_api_keys::revocation::redis::DEFAULT_CHANNEL);
    /// # }
    /// ```
    pub fn channel_name(&self) -> &str {
        &self.name
    }

    async fn timed<T>(
        &self,
        operation: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, ChannelError> {
        timed(self.timeout, operation).await
    }
}

impl RevocationChannel for RedisChannel {
    type Receiver = RedisReceiver;

    async fn publish(&self, invalidation: &Invalidation) -> Result<(), ChannelError> {
        let mut connection = self.publisher.clone();
        let mut command = redis::cmd("PUBLISH");
        command.arg(&*self.name).arg(payload::encode(invalidation));
        // The reply counts the subscribers that got it; none is no error.
        command
            .query_async::<i64>(&mut connection)
            .await
            .map_err(ChannelError::backend)?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<RedisReceiver, ChannelError> {
        let mut pubsub = self.timed(self.client.get_async_pubsub()).await?;
        self.timed(pubsub.subscribe(&*self.name)).await?;
        let (sink, stream) = pubsub.split();
        Ok(RedisReceiver {
            sink,
            stream,
            name: self.name.clone(),
            health_check_interval: self.health_check_interval,
            timeout: self.timeout,
            check_at: Instant::now() + self.health_check_interval,
        })
    }
}

/// A subscription to a [`RedisChannel`]: one pub/sub connection.
///
/// (`no_run`: it needs a Redis server.)
///
/// ```no_run
/// use portcullis_api_keys::revocation::{Receiver, RevocationChannel};
/// use portcullis_api_keys::revocation::redis::RedisChannel;
/// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::KeyId, invalidation::Invalidation};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let channel = RedisChannel::open("redis://127.0.0.1:6379")?.name(format!("doctest:{}", KeyId::generate()));
/// let mut receiver = channel.subscribe().await?;
/// # let hash = KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed());
/// let invalidation = Invalidation::new(KeyId::generate(), hash);
/// channel.publish(&invalidation).await?;
/// assert_eq!(receiver.recv().await?, invalidation);
/// # Ok(()) }
/// ```
pub struct RedisReceiver {
    sink: PubSubSink,
    stream: PubSubStream,
    name: Arc<str>,
    health_check_interval: Duration,
    timeout: Duration,
    /// When to ping unless a message arrives first.
    check_at: Instant,
}

impl fmt::Debug for RedisReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReceiver")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What a wait on a subscription ends with.
enum Event {
    Message(Option<redis::Msg>),
    CheckDue,
}

impl Receiver for RedisReceiver {
    async fn recv(&mut self) -> Result<Invalidation, ChannelError> {
        loop {
            let event = {
                let mut due = pin!(tokio::time::sleep_until(self.check_at));
                let stream = &mut self.stream;
                poll_fn(|cx| {
                    if let Poll::Ready(message) = Pin::new(&mut *stream).poll_next(cx) {
                        return Poll::Ready(Event::Message(message));
                    }
                    due.as_mut().poll(cx).map(|()| Event::CheckDue)
                })
                .await
            };
            match event {
                Event::Message(None) => return Err(ChannelError::Disconnected),
                Event::Message(Some(message)) => {
                    self.check_at = Instant::now() + self.health_check_interval;
                    if message.get_channel_name() != &*self.name {
                        continue;
                    }
                    let text = String::from_utf8_lossy(message.get_payload_bytes());
                    if let Some(invalidation) = payload::decode_or_warn(&text, &self.name) {
                        return Ok(invalidation);
                    }
                }
                Event::CheckDue => {
                    match tokio::time::timeout(self.timeout, self.sink.ping::<redis::Value>()).await
                    {
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => return Err(ChannelError::backend(error)),
                        Err(_) => {
                            return Err(ChannelError::Unresponsive {
                                timeout: self.timeout,
                            });
                        }
                    }
                    self.check_at = Instant::now() + self.health_check_interval;
                }
            }
        }
    }
}
