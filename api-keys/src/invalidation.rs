//! How a change to a key reaches every cache that may hold it.
//!
//! Verification caches records by hash. When a key is revoked, rotated or updated, the
//! instance that made the change drops it from its own cache at once and publishes an
//! [`Invalidation`] on a channel (Redis pub/sub, PostgreSQL `LISTEN/NOTIFY`) that every
//! other instance applies to its cache. A cache is an [`InvalidationSink`].
//!
//! Key usage flows the other way: verification reports each use to a [`UsageRecorder`]
//! without waiting, and the recorder coalesces uses into batched writes of
//! `last_used_at`.
//!
//! # Example
//!
//! ```
//! use std::sync::Mutex;
//! use portcullis_api_keys::hash::KeyHasher;
//! use portcullis_api_keys::format::KeyFormat;
//! use portcullis_api_keys::id::KeyId;
//! use portcullis_api_keys::invalidation::{Invalidation, InvalidationSink};
//!
//! #[derive(Default)]
//! struct Dropped(Mutex<Vec<Invalidation>>);
//!
//! impl InvalidationSink for Dropped {
//!     fn invalidate(&self, invalidation: &Invalidation) {
//!         self.0.lock().unwrap().push(*invalidation);
//!     }
//! }
//!
//! let key = KeyFormat::default().generate();
//! let hash = KeyHasher::sha256().hash(&key.parsed());
//! let sink = Dropped::default();
//! sink.invalidate(&Invalidation::new(KeyId::generate(), hash));
//! assert_eq!(sink.0.lock().unwrap().len(), 1);
//! ```

use crate::hash::KeyHash;
use crate::id::KeyId;
use crate::timestamp::Timestamp;

/// A key whose cached record is stale: drop it by id and by hash.
///
/// ```
/// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::KeyId};
/// use portcullis_api_keys::invalidation::Invalidation;
/// let hash = KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed());
/// let id = KeyId::generate();
/// let invalidation = Invalidation::new(id, hash);
/// assert_eq!(invalidation.id, id);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Invalidation {
    /// The key's id.
    pub id: KeyId,
    /// The key's stored hash, the cache's lookup key.
    pub hash: KeyHash,
}

impl Invalidation {
    /// The invalidation of key `id` with hash `hash`.
    ///
    /// ```
    /// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::KeyId};
    /// use portcullis_api_keys::invalidation::Invalidation;
    /// let hash = KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed());
    /// let invalidation = Invalidation::new(KeyId::generate(), hash);
    /// assert_eq!(invalidation.hash, hash);
    /// ```
    pub fn new(id: KeyId, hash: KeyHash) -> Self {
        Self { id, hash }
    }
}

/// Something that holds cached key records and drops them when told: the
/// verification cache.
pub trait InvalidationSink: Send + Sync + 'static {
    /// Drops whatever is cached for this key. Must not block: it runs on the task that
    /// delivers invalidations.
    fn invalidate(&self, invalidation: &Invalidation);
}

/// Where verification reports that a key was used, without waiting: an implementation
/// coalesces uses and writes `last_used_at` in batches, never once per request.
pub trait UsageRecorder: Send + Sync + 'static {
    /// Notes that key `id` was used at `at`. Must not block or wait on I/O.
    fn record_use(&self, id: KeyId, at: Timestamp);
}
