//! The in-process channel (feature `tokio`): a Tokio broadcast channel, for a service
//! that runs as one instance, and for tests that play several instances in one
//! process.
//!
//! Each receiver keeps a backlog of up to `capacity` invalidations (1,024 by default);
//! a receiver that falls further behind loses the oldest and fails with
//! [`ChannelError::Lagged`], after which its [`Subscriber`](super::Subscriber)
//! subscribes again and calls its `on_reconnect` hook.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::KeyId};
//! use portcullis_api_keys::invalidation::Invalidation;
//! use portcullis_api_keys::revocation::{Receiver, RevocationChannel};
//! use portcullis_api_keys::revocation::in_process::InProcessChannel;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let channel = InProcessChannel::new();
//! let mut receiver = channel.subscribe().await?;
//!
//! let hash = KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed());
//! let invalidation = Invalidation::new(KeyId::generate(), hash);
//! channel.publish(&invalidation).await?;
//! assert_eq!(receiver.recv().await?, invalidation);
//! # Ok::<(), portcullis_api_keys::revocation::ChannelError>(())
//! # }).unwrap();
//! ```

use tokio::sync::broadcast;

use super::{ChannelError, Receiver, RevocationChannel};
use crate::invalidation::Invalidation;

/// The backlog a receiver keeps by default.
const DEFAULT_CAPACITY: usize = 1_024;

/// An in-process [`RevocationChannel`]; clones share it. See the [module docs](self).
///
/// ```
/// use portcullis_api_keys::revocation::in_process::InProcessChannel;
/// let channel = InProcessChannel::new();
/// let same = channel.clone();
/// assert_eq!(channel.receivers(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct InProcessChannel {
    sender: broadcast::Sender<Invalidation>,
}

impl Default for InProcessChannel {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessChannel {
    /// A channel whose receivers each keep a backlog of 1,024 invalidations.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A channel whose receivers each keep a backlog of `capacity` invalidations (at
    /// least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// How many receivers are subscribed now.
    ///
    /// ```
    /// use portcullis_api_keys::revocation::{RevocationChannel, in_process::InProcessChannel};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let channel = InProcessChannel::new();
    /// let receiver = channel.subscribe().await.unwrap();
    /// assert_eq!(channel.receivers(), 1);
    /// drop(receiver);
    /// assert_eq!(channel.receivers(), 0);
    /// # });
    /// ```
    pub fn receivers(&self) -> usize {
        self.sender.receiver_count()
    }
}

impl RevocationChannel for InProcessChannel {
    type Receiver = InProcessReceiver;

    /// Never fails: with no receiver, there is nobody to tell.
    async fn publish(&self, invalidation: &Invalidation) -> Result<(), ChannelError> {
        // An error only means that no receiver exists.
        let _ = self.sender.send(*invalidation);
        Ok(())
    }

    async fn subscribe(&self) -> Result<InProcessReceiver, ChannelError> {
        Ok(InProcessReceiver {
            receiver: self.sender.subscribe(),
        })
    }
}

/// A subscription to an [`InProcessChannel`].
///
/// ```
/// use portcullis_api_keys::revocation::{ChannelError, Receiver, RevocationChannel};
/// use portcullis_api_keys::revocation::in_process::InProcessChannel;
/// # use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::KeyId, invalidation::Invalidation};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let channel = InProcessChannel::with_capacity(1);
/// let mut receiver = channel.subscribe().await.unwrap();
/// # let hash = KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed());
/// # let (a, b) = (Invalidation::new(KeyId::generate(), hash), Invalidation::new(KeyId::generate(), hash));
/// channel.publish(&a).await.unwrap();
/// channel.publish(&b).await.unwrap(); // pushes `a` out of the backlog of 1
/// assert!(matches!(receiver.recv().await, Err(ChannelError::Lagged { missed: 1 })));
/// # });
/// ```
#[derive(Debug)]
pub struct InProcessReceiver {
    receiver: broadcast::Receiver<Invalidation>,
}

impl Receiver for InProcessReceiver {
    async fn recv(&mut self) -> Result<Invalidation, ChannelError> {
        match self.receiver.recv().await {
            Ok(invalidation) => Ok(invalidation),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                Err(ChannelError::Lagged { missed })
            }
            Err(broadcast::error::RecvError::Closed) => Err(ChannelError::Disconnected),
        }
    }
}
