//! Cross-instance revocation: a change made on one instance reaches every other
//! instance's cache.
//!
//! [`KeyLifecycle`](crate::lifecycle::KeyLifecycle) follows every revocation,
//! rotation and update with an [`Invalidation`](crate::invalidation::Invalidation)
//! (the key's id and hash, never a secret), which it publishes on every
//! [`RevocationChannel`] it has. The payload is text, `<key id> <key hash>`
//! ([`payload`]).

pub(crate) mod channel;
pub mod payload;

pub use channel::{ChannelError, Receiver, RevocationChannel};
