//! [`LifecycleError`]: why a key could not be created, found, changed or rotated.

use crate::id::KeyId;
use crate::record::KeyStatus;
use crate::store::StoreError;

/// Why a [`KeyLifecycle`](super::KeyLifecycle) operation failed.
///
/// ```
/// use portcullis_api_keys::id::KeyId;
/// use portcullis_api_keys::lifecycle::LifecycleError;
/// use portcullis_api_keys::record::KeyStatus;
/// use portcullis_api_keys::store::StoreError;
///
/// let id: KeyId = "key_0123456789ABCDEFabcdef".parse().unwrap();
/// let error = LifecycleError::UnknownKey { id };
/// assert_eq!(error.to_string(), "no API key with id `key_0123456789ABCDEFabcdef`");
///
/// let error = LifecycleError::NotActive { id, status: KeyStatus::Revoked };
/// assert_eq!(error.to_string(), "API key `key_0123456789ABCDEFabcdef` is revoked");
///
/// let error = LifecycleError::from(StoreError::backend("connection reset"));
/// assert_eq!(error.to_string(), "API key store failed: connection reset");
/// assert!(std::error::Error::source(&error).is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// No key has this id (map it to `404 Not Found`).
    #[error("no API key with id `{id}`")]
    UnknownKey {
        /// The id asked for.
        id: KeyId,
    },
    /// The key no longer works, so it cannot be rotated (map it to `409 Conflict`);
    /// create a new key instead.
    #[error("API key `{id}` is {}", status_text(*status))]
    NotActive {
        /// The key's id.
        id: KeyId,
        /// Its status at the time of the call.
        status: KeyStatus,
    },
    /// The store failed; its error (and that error's source) is kept.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn status_text(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Active => "active",
        KeyStatus::Expired => "expired",
        KeyStatus::Revoked => "revoked",
    }
}
