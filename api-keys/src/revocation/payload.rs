//! The text an [`Invalidation`] travels as: the key id, a space, and the hash's text
//! form.
//!
//! ```text
//! key_3KMpd0WZ1x4q7nVtC9sB2e sha256:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc
//! ```
//!
//! Neither part is secret: the id is a random label, and the hash is what the store
//! keeps (a SHA-256 or peppered HMAC of a 256-bit key, which does not lead back to
//! the key). Any program can publish one, say a script that revoked keys in SQL by
//! hand. Fields after a second space are ignored, so later versions can append some
//! without breaking older receivers.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::KeyId};
//! use portcullis_api_keys::invalidation::Invalidation;
//! use portcullis_api_keys::revocation::payload;
//!
//! let key = KeyFormat::default().generate();
//! let invalidation = Invalidation::new(KeyId::generate(), KeyHasher::sha256().hash(&key.parsed()));
//! let text = payload::encode(&invalidation);
//! assert!(text.starts_with("key_") && !text.contains(key.expose_secret()));
//! assert_eq!(payload::decode(&text)?, invalidation);
//! # Ok::<(), payload::PayloadError>(())
//! ```

use crate::error::ParseError;
use crate::hash::KeyHash;
use crate::id::KeyId;
use crate::invalidation::Invalidation;

/// Why a received payload is not an [`Invalidation`].
///
/// ```
/// use portcullis_api_keys::revocation::payload::{self, PayloadError};
/// assert!(matches!(payload::decode("hello"), Err(PayloadError::Shape)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not two fields separated by a space.
    #[error("an invalidation payload is `<key id> <key hash>`")]
    Shape,
    /// The id or the hash does not parse.
    #[error("invalid invalidation payload: {0}")]
    Field(#[from] ParseError),
}

/// The payload of `invalidation`: `<id> <hash>`.
///
/// ```
/// use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
/// use portcullis_api_keys::invalidation::Invalidation;
/// use portcullis_api_keys::revocation::payload;
///
/// let hash = KeyHash::from_digest(HashAlgorithm::Sha256, &[7; 32]).unwrap();
/// let id = "key_0123456789ABCDEFabcdef".parse().unwrap();
/// assert_eq!(
///     payload::encode(&Invalidation::new(id, hash)),
///     "key_0123456789ABCDEFabcdef sha256:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"
/// );
/// ```
pub fn encode(invalidation: &Invalidation) -> String {
    format!("{} {}", invalidation.id, invalidation.hash)
}

/// Reads a payload written by [`encode`] (or by any program following the
/// [format](self)).
///
/// ```
/// use portcullis_api_keys::revocation::payload;
///
/// let text = "key_0123456789ABCDEFabcdef sha256:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";
/// let invalidation = payload::decode(text).unwrap();
/// assert_eq!(invalidation.id.as_str(), "key_0123456789ABCDEFabcdef");
/// // Later fields are ignored.
/// assert_eq!(payload::decode(&format!("{text} reason=rotated")).unwrap(), invalidation);
/// assert!(payload::decode("key_0123456789ABCDEFabcdef").is_err());
/// ```
pub fn decode(payload: &str) -> Result<Invalidation, PayloadError> {
    let mut fields = payload.split(' ');
    let (Some(id), Some(hash)) = (fields.next(), fields.next()) else {
        return Err(PayloadError::Shape);
    };
    let id: KeyId = id.parse()?;
    let hash: KeyHash = hash.parse()?;
    Ok(Invalidation::new(id, hash))
}

/// Decodes a received payload, or says why not in a `tracing` warning (naming the
/// channel, never echoing the payload, which comes from whoever can publish).
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) fn decode_or_warn(payload: &str, channel: &str) -> Option<Invalidation> {
    match decode(payload) {
        Ok(invalidation) => Some(invalidation),
        Err(error) => {
            tracing::warn!(
                channel,
                len = payload.len(),
                %error,
                "ignoring a message on the revocation channel that is not an invalidation"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::KeyFormat;
    use crate::hash::KeyHasher;

    #[test]
    fn every_hasher_round_trips() {
        let key = KeyFormat::default().generate();
        for hasher in [
            KeyHasher::sha256(),
            KeyHasher::hmac_sha256(7, [9u8; 32]).unwrap(),
        ] {
            let invalidation = Invalidation::new(KeyId::generate(), hasher.hash(&key.parsed()));
            let text = encode(&invalidation);
            assert_eq!(decode(&text), Ok(invalidation));
            assert!(text.len() < 100, "{text}");
        }
    }

    #[test]
    fn malformed_payloads_are_rejected() {
        let good = encode(&Invalidation::new(
            KeyId::generate(),
            KeyHasher::sha256().hash(&KeyFormat::default().generate().parsed()),
        ));
        let (id, hash) = good.split_once(' ').unwrap();
        for bad in [
            String::new(),
            " ".into(),
            id.into(),
            format!("{id}  {hash}"),
            format!("{hash} {id}"),
            format!("{id} {}", &hash[..hash.len() - 1]),
            format!("key_x {hash}"),
        ] {
            assert!(decode(&bad).is_err(), "{bad:?}");
        }
    }
}
