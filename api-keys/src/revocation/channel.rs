//! The [`RevocationChannel`] trait, its [`Receiver`], and [`ChannelError`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::invalidation::Invalidation;
use crate::store::{BoxError, BoxFuture};

/// Why a revocation channel could not publish, subscribe or receive.
///
/// ```
/// use portcullis_api_keys::revocation::ChannelError;
/// let error = ChannelError::backend(std::io::Error::other("connection reset"));
/// assert_eq!(error.to_string(), "revocation channel failed: connection reset");
/// assert!(std::error::Error::source(&error).is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The backend failed (connection, protocol, query).
    #[error("revocation channel failed: {source}")]
    Backend {
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// The subscription's connection was closed.
    #[error("revocation channel connection closed")]
    Disconnected,
    /// The connection did not answer a health check in time.
    #[error("revocation channel did not answer a health check within {timeout:?}")]
    Unresponsive {
        /// How long it was given.
        timeout: Duration,
    },
    /// The receiver fell behind and invalidations were lost (the in-process channel
    /// keeps a bounded backlog per receiver).
    #[error("revocation channel receiver lagged behind and missed {missed} invalidations")]
    Lagged {
        /// How many were lost.
        missed: u64,
    },
    /// A channel name the backend cannot use.
    #[error("invalid revocation channel name `{name}`: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ChannelError {
    /// Wraps a backend error.
    ///
    /// ```
    /// use portcullis_api_keys::revocation::ChannelError;
    /// assert!(matches!(ChannelError::backend("timed out"), ChannelError::Backend { .. }));
    /// ```
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend {
            source: source.into(),
        }
    }
}

/// A publish/subscribe channel that carries [`Invalidation`]s between the instances of
/// a service: what one instance revokes, rotates or updates, every other instance
/// drops from its cache.
///
/// Delivery is at most once and only to receivers subscribed at the time (Redis
/// pub/sub and PostgreSQL `LISTEN/NOTIFY` keep nothing for absent listeners); a
/// [`Subscriber`](super::Subscriber) resubscribes after a failure and reports the gap
/// through its `on_reconnect` hook. An instance also receives what it publishes
/// itself; invalidating twice is harmless.
///
/// Implementations: [`InProcessChannel`](super::in_process::InProcessChannel)
/// (feature `tokio`), [`RedisChannel`](super::redis::RedisChannel) (feature `redis`),
/// [`PostgresChannel`](super::postgres::PostgresChannel) (feature `postgres`). Clones share their
/// connections.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use portcullis_api_keys::invalidation::Invalidation;
/// use portcullis_api_keys::revocation::{ChannelError, Receiver, RevocationChannel};
///
/// /// Remembers what it is asked to publish; its receivers never hear anything.
/// #[derive(Clone, Default)]
/// struct Recorded(Arc<Mutex<Vec<Invalidation>>>);
///
/// struct Silent;
///
/// impl Receiver for Silent {
///     async fn recv(&mut self) -> Result<Invalidation, ChannelError> {
///         std::future::pending().await
///     }
/// }
///
/// impl RevocationChannel for Recorded {
///     type Receiver = Silent;
///
///     async fn publish(&self, invalidation: &Invalidation) -> Result<(), ChannelError> {
///         self.0.lock().unwrap().push(*invalidation);
///         Ok(())
///     }
///
///     async fn subscribe(&self) -> Result<Silent, ChannelError> {
///         Ok(Silent)
///     }
/// }
///
/// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::KeyId};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let hash = KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed());
/// let channel = Recorded::default();
/// let invalidation = Invalidation::new(KeyId::generate(), hash);
/// channel.publish(&invalidation).await.unwrap();
/// assert_eq!(*channel.0.lock().unwrap(), [invalidation]);
/// # });
/// ```
pub trait RevocationChannel: Send + Sync + 'static {
    /// What [`subscribe`](Self::subscribe) returns.
    type Receiver: Receiver;

    /// Sends `invalidation` to every current subscriber. `Ok` means the backend took
    /// it, not that anyone received it.
    fn publish(
        &self,
        invalidation: &Invalidation,
    ) -> impl Future<Output = Result<(), ChannelError>> + Send;

    /// Subscribes: a new connection (or receiver) that hears everything published
    /// from the moment this returns.
    fn subscribe(&self) -> impl Future<Output = Result<Self::Receiver, ChannelError>> + Send;
}

/// One subscription to a [`RevocationChannel`].
pub trait Receiver: Send + 'static {
    /// The next invalidation. An error ends the subscription: the caller drops this
    /// receiver and subscribes again. Payloads that are not invalidations are skipped
    /// (with a `tracing` warning), never returned as errors.
    fn recv(&mut self) -> impl Future<Output = Result<Invalidation, ChannelError>> + Send;
}

/// `operation`, or [`ChannelError::Unresponsive`] when it takes longer than `timeout`:
/// how the server-backed channels bound each call.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) async fn timed<T, E: Into<BoxError>>(
    timeout: Duration,
    operation: impl Future<Output = Result<T, E>>,
) -> Result<T, ChannelError> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(result) => result.map_err(ChannelError::backend),
        Err(_) => Err(ChannelError::Unresponsive { timeout }),
    }
}

/// The object-safe publishing half of a channel, for holding channels of different
/// types side by side.
pub(crate) trait Publish: Send + Sync + 'static {
    fn publish_boxed<'a>(
        &'a self,
        invalidation: &'a Invalidation,
    ) -> BoxFuture<'a, Result<(), ChannelError>>;

    fn type_name(&self) -> &'static str;
}

impl<C: RevocationChannel> Publish for C {
    fn publish_boxed<'a>(
        &'a self,
        invalidation: &'a Invalidation,
    ) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(self.publish(invalidation))
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<C>()
    }
}

/// A shared publisher, as the key lifecycle holds it.
#[derive(Clone)]
pub(crate) struct Publisher(pub(crate) Arc<dyn Publish>);

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.type_name())
    }
}
