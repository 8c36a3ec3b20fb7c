//! The PostgreSQL `LISTEN/NOTIFY` channel (feature `postgres`).
//!
//! Publishing is one `SELECT pg_notify($1, $2)` on a connection of your pool, outside
//! any transaction, so it is delivered at once. Each subscription is a
//! [`PgListener`] on a connection of its own, taken from the same pool and held for
//! as long as the subscription stands (count one connection per subscriber in the
//! pool's size). After 10 s without a notification the receiver runs `SELECT 1` on
//! that connection and gives up on it when the answer takes longer than 2 s, so a
//! silently dead connection ends the subscription as surely as a terminated one, and
//! the [`Subscriber`](super::Subscriber) makes a new one.
//!
//! `NOTIFY` keeps nothing for a listener that is not connected at the time (see the
//! [revocation guarantee](super#the-guarantee)). A notification goes through the
//! server's queue; through a connection pooler such as PgBouncer in transaction mode,
//! `LISTEN` does not work: give the pool a direct connection.
//!
//! # Example
//!
//! `no_run`: it needs a PostgreSQL server (the crate's `tests/` run the channel against
//! one).
//!
//! ```no_run
//! use std::time::Duration;
//! use portcullis_api_keys::revocation::{RevocationChannel, Subscriber};
//! use portcullis_api_keys::revocation::postgres::PostgresChannel;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = sqlx::PgPool::connect("postgres://app@db.internal/app").await?;
//! // Every instance: the same database, the same channel name.
//! let channel = PostgresChannel::new(pool).name("billing_api_keys")?;
//! let subscriber = Subscriber::new(channel.clone()).spawn(); // .sink(cache)
//! tokio::time::timeout(Duration::from_secs(5), subscriber.connected()).await?;
//! assert!(subscriber.is_connected());
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::time::Instant;

use super::channel::timed;
use super::payload;
use super::{ChannelError, Receiver, RevocationChannel};
use crate::invalidation::Invalidation;

/// The channel name unless set: `portcullis_api_keys`.
///
/// ```
/// use portcullis_api_keys::revocation::postgres::DEFAULT_CHANNEL;
/// assert_eq!(DEFAULT_CHANNEL, "portcullis_api_keys");
/// ```
pub const DEFAULT_CHANNEL: &str = "portcullis_api_keys";

/// PostgreSQL's longest identifier, in bytes (`NAMEDATALEN - 1`).
const MAX_NAME_LEN: usize = 63;
/// How long a subscription may be quiet before the receiver checks it.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// How long connecting, listening, publishing and a health check may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A [`RevocationChannel`] over PostgreSQL `LISTEN/NOTIFY`; clones share the pool.
/// See the [module docs](self).
///
/// ```
/// use portcullis_api_keys::revocation::postgres::PostgresChannel;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), portcullis_api_keys::revocation::ChannelError> {
/// let pool = sqlx::PgPool::connect_lazy("postgres://postgres@127.0.0.1/app").unwrap();
/// let channel = PostgresChannel::new(pool).name("api_keys")?;
/// assert_eq!(channel.channel_name(), "api_keys");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresChannel {
    pool: PgPool,
    name: Arc<str>,
    health_check_interval: Duration,
    timeout: Duration,
}

impl fmt::Debug for PostgresChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresChannel")
            .field("name", &self.name)
            .field("health_check_interval", &self.health_check_interval)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresChannel {
    /// A channel on `pool`'s database, named [`DEFAULT_CHANNEL`].
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            name: Arc::from(DEFAULT_CHANNEL),
            health_check_interval: HEALTH_CHECK_INTERVAL,
            timeout: TIMEOUT,
        }
    }

    /// Sets the notification channel. Every instance of a service uses the same;
    /// different services (or test runs) sharing a database use different ones. Any
    /// text of 1 to 63 bytes without NUL; it is case-sensitive (quoted in `LISTEN`).
    ///
    /// ```
    /// use portcullis_api_keys::revocation::{ChannelError, postgres::PostgresChannel};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pool = sqlx::PgPool::connect_lazy("postgres://postgres@127.0.0.1/app").unwrap();
    /// assert!(PostgresChannel::new(pool.clone()).name("Billing API keys").is_ok());
    /// let error = PostgresChannel::new(pool).name("x".repeat(64)).unwrap_err();
    /// assert!(matches!(error, ChannelError::InvalidName { .. }));
    /// # }
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Result<Self, ChannelError> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > MAX_NAME_LEN {
            Some("PostgreSQL channel names have at most 63 bytes")
        } else if name.contains('\0') {
            Some("it contains NUL")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ChannelError::InvalidName { name, reason });
        }
        self.name = Arc::from(name);
        Ok(self)
    }

    /// How long a subscription may be quiet before it is checked (10 s), and how long
    /// connecting, listening, publishing and a check may take (2 s). A subscription
    /// that fails a check ends with [`ChannelError::Unresponsive`]. Zero durations are
    /// taken as 1 ms.
    #[must_use]
    pub fn health_check(mut self, interval: Duration, timeout: Duration) -> Self {
        self.health_check_interval = interval.max(Duration::from_millis(1));
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The notification channel's name.
    ///
    /// ```
    /// use portcullis_api_keys::revocation::postgres::{DEFAULT_CHANNEL, PostgresChannel};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pool = sqlx::PgPool::connect_lazy("postgres://postgres@127.0.0.1/app").unwrap();
    /// assert_eq!(PostgresChannel::new(pool).channel_name(), DEFAULT_CHANNEL);
    /// # }
    /// ```
    pub fn channel_name(&self) -> &str {
        &self.name
    }

    async fn timed<T>(
        &self,
        operation: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, ChannelError> {
        timed(self.timeout, operation).await
    }
}

impl RevocationChannel for PostgresChannel {
    type Receiver = PostgresReceiver;

    async fn publish(&self, invalidation: &Invalidation) -> Result<(), ChannelError> {
        let query = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&*self.name)
            .bind(payload::encode(invalidation));
        self.timed(query.execute(&self.pool)).await?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<PostgresReceiver, ChannelError> {
        let mut listener = self.timed(PgListener::connect_with(&self.pool)).await?;
        // A lost connection ends the subscription; the subscriber reconnects.
        listener.eager_reconnect(false);
        self.timed(listener.listen(&self.name)).await?;
        Ok(PostgresReceiver {
            listener,
            name: self.name.clone(),
            health_check_interval: self.health_check_interval,
            timeout: self.timeout,
            check_at: Instant::now() + self.health_check_interval,
        })
    }
}

/// A subscription to a [`PostgresChannel`]: one listening connection.
///
/// (`no_run`: it needs a PostgreSQL server.)
///
/// ```no_run
/// use portcullis_api_keys::revocation::{Receiver, RevocationChannel};
/// use portcullis_api_keys::revocation::postgres::PostgresChannel;
/// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::KeyId, invalidation::Invalidation};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::PgPool::connect("postgres://app@db.internal/app").await?;
/// let channel = PostgresChannel::new(pool).name(format!("doctest_{}", KeyId::generate()))?;
/// let mut receiver = channel.subscribe().await?;
/// # let hash = KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed());
/// let invalidation = Invalidation::new(KeyId::generate(), hash);
/// channel.publish(&invalidation).await?;
/// assert_eq!(receiver.recv().await?, invalidation);
/// # Ok(()) }
/// ```
pub struct PostgresReceiver {
    listener: PgListener,
    name: Arc<str>,
    health_check_interval: Duration,
    timeout: Duration,
    /// When to check the connection unless a notification arrives first.
    check_at: Instant,
}

impl fmt::Debug for PostgresReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresReceiver")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Receiver for PostgresReceiver {
    async fn recv(&mut self) -> Result<Invalidation, ChannelError> {
        loop {
            // `try_recv` is cancel-safe while its connection stands (it reads whole
            // messages only), so timing it out loses nothing.
            match tokio::time::timeout_at(self.check_at, self.listener.try_recv()).await {
                Ok(Ok(Some(notification))) => {
                    self.check_at = Instant::now() + self.health_check_interval;
                    if notification.channel() != &*self.name {
                        continue;
                    }
                    if let Some(invalidation) =
                        payload::decode_or_warn(notification.payload(), &self.name)
                    {
                        return Ok(invalidation);
                    }
                }
                Ok(Ok(None)) => return Err(ChannelError::Disconnected),
                Ok(Err(error)) => return Err(ChannelError::backend(error)),
                Err(_) => {
                    // Notifications arriving meanwhile are buffered for `try_recv`.
                    let check = sqlx::query("SELECT 1").execute(&mut self.listener);
                    timed(self.timeout, check).await?;
                    self.check_at = Instant::now() + self.health_check_interval;
                }
            }
        }
    }
}
/// The channel under its former name: [`PostgresChannel`] (backends are named
/// `Memory…`, `Redis…`, `Postgres…`, `Sqlite…` in every Portcullis crate).
pub type PgChannel = PostgresChannel;

/// The receiver under its former name: [`PostgresReceiver`].
pub type PgReceiver = PostgresReceiver;
