//! What a store keeps instead of the key: a [`KeyHash`], made by a [`KeyHasher`].
//!
//! Keys are long random strings, so a single fast hash suffices (no password hashing
//! is needed: there is nothing to brute-force). Two algorithms:
//!
//! - [`HashAlgorithm::Sha256`]: SHA-256 of the whole key. Anyone holding the key can
//!   compute it, so a leaked table only lets someone confirm a key they already have.
//! - [`HashAlgorithm::HmacSha256`]: HMAC-SHA256 of the whole key under a server-side
//!   *pepper* that never sits in the database, so a leaked table confirms nothing
//!   without the pepper too. Each pepper has a version number.
//!
//! Every hash carries its algorithm (and pepper version), so the algorithm or the
//! pepper can change while older keys keep working: issue new keys with the new
//! hasher and, when verifying, hash the presented key with each hasher in use (newest
//! first) and look each hash up until one is found. Stores look keys up by hash, so
//! the only secret-dependent comparison is between digests, and [`KeyHash`] compares
//! digests in constant time.
//!
//! Hashes from another system can be imported with [`KeyHash::from_digest`] when they
//! are SHA-256 (or HMAC-SHA256) digests of the whole key as presented.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::format::KeyFormat;
//! use portcullis_api_keys::hash::{HashAlgorithm, KeyHasher};
//!
//! let format = KeyFormat::default();
//! let hasher = KeyHasher::hmac_sha256(2, b"a 32-byte secret from the vault!")?;
//!
//! let issued = format.generate();
//! let stored = hasher.hash(&issued.parsed());
//! assert_eq!(stored.algorithm(), HashAlgorithm::HmacSha256 { pepper_version: 2 });
//!
//! let presented = format.parse(issued.expose_secret())?;
//! assert_eq!(hasher.hash(&presented), stored);
//! assert_ne!(KeyHasher::sha256().hash(&presented), stored);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ConfigError, ParseError};
use crate::key::ParsedKey;

/// The length of every digest: SHA-256.
pub const DIGEST_LEN: usize = 32;

const MIN_PEPPER_LEN: usize = 16;
const SHA256_NAME: &str = "sha256";
const HMAC_SHA256_NAME: &str = "hmac-sha256";

/// How a [`KeyHash`] was computed: the algorithm and, for HMAC, the pepper's version.
///
/// Its text form, for a database column: `sha256`, or `hmac-sha256.{pepper_version}`.
///
/// ```
/// use portcullis_api_keys::hash::HashAlgorithm;
/// let algorithm = HashAlgorithm::HmacSha256 { pepper_version: 3 };
/// assert_eq!(algorithm.to_string(), "hmac-sha256.3");
/// assert_eq!("hmac-sha256.3".parse::<HashAlgorithm>().unwrap(), algorithm);
/// assert_eq!("sha256".parse::<HashAlgorithm>().unwrap(), HashAlgorithm::Sha256);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256 of the key.
    Sha256,
    /// HMAC-SHA256 of the key under the pepper of this version.
    HmacSha256 {
        /// Which pepper: the number you gave [`KeyHasher::hmac_sha256`].
        pepper_version: u32,
    },
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sha256 => f.write_str(SHA256_NAME),
            Self::HmacSha256 { pepper_version } => {
                write!(f, "{HMAC_SHA256_NAME}.{pepper_version}")
            }
        }
    }
}

impl FromStr for HashAlgorithm {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        if text == SHA256_NAME {
            return Ok(Self::Sha256);
        }
        text.strip_prefix(HMAC_SHA256_NAME)
            .and_then(|rest| rest.strip_prefix('.'))
            // Canonical decimal only, so the text form round-trips exactly.
            .filter(|version| {
                !version.starts_with('+') && (*version == "0" || !version.starts_with('0'))
            })
            .and_then(|version| version.parse().ok())
            .map(|pepper_version| Self::HmacSha256 { pepper_version })
            .ok_or_else(|| ParseError::HashAlgorithm {
                value: text.to_owned(),
            })
    }
}

impl Serialize for HashAlgorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HashAlgorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The stored form of a key: its digest under a [`HashAlgorithm`]. Stores look keys up
/// by it.
///
/// Two hashes are equal when algorithm and digest are; digests are compared in
/// constant time. Its text form is `{algorithm}:{digest in unpadded base64url}`, one
/// string for a unique column or a Redis key, and its serde form; a SQL backend may as
/// well keep [`algorithm`](Self::algorithm) and [`digest`](Self::digest) in two columns
/// under one unique index.
///
/// ```
/// use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
///
/// let hash = KeyHash::from_digest(HashAlgorithm::Sha256, &[7; 32])?;
/// let text = hash.to_string();
/// assert_eq!(text, "sha256:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc");
/// assert_eq!(text.parse::<KeyHash>()?, hash);
/// # Ok::<(), portcullis_api_keys::error::ParseError>(())
/// ```
#[derive(Clone, Copy)]
pub struct KeyHash {
    algorithm: HashAlgorithm,
    digest: [u8; DIGEST_LEN],
}

impl KeyHash {
    /// A hash from its parts: to read one back from a store, or to import the digests
    /// of another system (which must be digests of the whole key as presented, by this
    /// algorithm). Fails unless `digest` is 32 bytes long.
    ///
    /// ```
    /// use portcullis_api_keys::{error::ParseError, hash::{HashAlgorithm, KeyHash}};
    ///
    /// // A hex column of a system being migrated.
    /// let legacy = "5c1fa7267ea50971ef7c6f46f093fc0716119856de66e1cdc47e19a682803558";
    /// let digest: Vec<u8> = (0..legacy.len())
    ///     .step_by(2)
    ///     .map(|i| u8::from_str_radix(&legacy[i..i + 2], 16).unwrap())
    ///     .collect();
    /// let hash = KeyHash::from_digest(HashAlgorithm::Sha256, &digest).unwrap();
    /// assert_eq!(hash.digest()[0], 0x5c);
    ///
    /// let short = KeyHash::from_digest(HashAlgorithm::Sha256, &digest[..20]);
    /// assert_eq!(short.unwrap_err(), ParseError::DigestLength { len: 20 });
    /// ```
    pub fn from_digest(algorithm: HashAlgorithm, digest: &[u8]) -> Result<Self, ParseError> {
        let digest = digest
            .try_into()
            .map_err(|_| ParseError::DigestLength { len: digest.len() })?;
        Ok(Self { algorithm, digest })
    }

    /// The algorithm (and pepper version) that made this hash.
    ///
    /// ```
    /// use portcullis_api_keys::{format::KeyFormat, hash::{HashAlgorithm, KeyHasher}};
    /// let key = KeyFormat::default().generate();
    /// assert_eq!(KeyHasher::sha256().hash(&key.parsed()).algorithm(), HashAlgorithm::Sha256);
    /// ```
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The digest.
    ///
    /// ```
    /// use portcullis_api_keys::hash::{HashAlgorithm, KeyHash};
    /// let hash = KeyHash::from_digest(HashAlgorithm::Sha256, &[1; 32]).unwrap();
    /// assert_eq!(hash.digest(), &[1; 32]);
    /// ```
    pub fn digest(&self) -> &[u8; DIGEST_LEN] {
        &self.digest
    }
}

impl PartialEq for KeyHash {
    fn eq(&self, other: &Self) -> bool {
        self.algorithm == other.algorithm && bool::from(self.digest.ct_eq(&other.digest))
    }
}

impl Eq for KeyHash {}

impl Hash for KeyHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.algorithm.hash(state);
        self.digest.hash(state);
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.algorithm)?;
        let mut encoded = [0u8; 43];
        let len = URL_SAFE_NO_PAD
            .encode_slice(self.digest, &mut encoded)
            .map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&encoded[..len]).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({self})")
    }
}

impl FromStr for KeyHash {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        let invalid = || ParseError::KeyHash {
            value: text.to_owned(),
        };
        let (algorithm, digest) = text.split_once(':').ok_or_else(invalid)?;
        let algorithm = algorithm.parse()?;
        let mut decoded = [0u8; DIGEST_LEN];
        // 43 characters exactly: the canonical encoding of 32 bytes.
        if digest.len() != 43 {
            return Err(invalid());
        }
        match URL_SAFE_NO_PAD.decode_slice(digest, &mut decoded) {
            Ok(DIGEST_LEN) => Ok(Self {
                algorithm,
                digest: decoded,
            }),
            _ => Err(invalid()),
        }
    }
}

impl Serialize for KeyHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Turns a [`ParsedKey`] into the [`KeyHash`] a store keeps: SHA-256, or HMAC-SHA256
/// with a server-side pepper. Cheap to clone.
///
/// `Debug` shows the algorithm, never the pepper.
///
/// ```
/// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher};
///
/// let hasher = KeyHasher::hmac_sha256(1, b"0123456789abcdef0123456789abcdef").unwrap();
/// assert_eq!(
///     format!("{hasher:?}"),
///     "KeyHasher { algorithm: HmacSha256 { pepper_version: 1 }, .. }"
/// );
/// let key = KeyFormat::default().generate();
/// assert_eq!(hasher.hash(&key.parsed()), hasher.clone().hash(&key.parsed()));
/// ```
#[derive(Clone)]
pub struct KeyHasher {
    algorithm: HashAlgorithm,
    /// HMAC keyed with the pepper (the pepper itself is not kept; this state is as
    /// secret, and the `hmac` crate does not wipe it).
    mac: Option<Hmac<Sha256>>,
}

impl KeyHasher {
    /// SHA-256 of the key.
    ///
    /// ```
    /// use portcullis_api_keys::hash::{HashAlgorithm, KeyHasher};
    /// assert_eq!(KeyHasher::sha256().algorithm(), HashAlgorithm::Sha256);
    /// ```
    pub fn sha256() -> Self {
        Self {
            algorithm: HashAlgorithm::Sha256,
            mac: None,
        }
    }

    /// HMAC-SHA256 of the key under `pepper`, a random secret of at least 16 bytes (32
    /// recommended) kept outside the database (a vault, an environment variable).
    /// `pepper_version` is recorded in every hash so peppers can rotate; give each
    /// pepper its own.
    ///
    /// ```
    /// use portcullis_api_keys::{error::ConfigError, hash::{HashAlgorithm, KeyHasher}};
    ///
    /// let hasher = KeyHasher::hmac_sha256(7, [42u8; 32]).unwrap();
    /// assert_eq!(hasher.algorithm(), HashAlgorithm::HmacSha256 { pepper_version: 7 });
    /// assert_eq!(
    ///     KeyHasher::hmac_sha256(7, b"short").unwrap_err(),
    ///     ConfigError::ShortPepper { len: 5 }
    /// );
    /// ```
    pub fn hmac_sha256(pepper_version: u32, pepper: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let pepper = pepper.as_ref();
        if pepper.len() < MIN_PEPPER_LEN {
            return Err(ConfigError::ShortPepper { len: pepper.len() });
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(pepper)
            .map_err(|_| ConfigError::ShortPepper { len: pepper.len() })?;
        Ok(Self {
            algorithm: HashAlgorithm::HmacSha256 { pepper_version },
            mac: Some(mac),
        })
    }

    /// The algorithm of the hashes this hasher makes.
    ///
    /// ```
    /// use portcullis_api_keys::hash::{HashAlgorithm, KeyHasher};
    /// assert_eq!(KeyHasher::sha256().algorithm(), HashAlgorithm::Sha256);
    /// ```
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The hash of `key` (of the whole key text, prefix and checksum included).
    ///
    /// ```
    /// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher};
    /// let format = KeyFormat::default();
    /// let key = format.generate();
    /// let hash = KeyHasher::sha256().hash(&format.parse(key.expose_secret()).unwrap());
    /// assert_eq!(hash, KeyHasher::sha256().hash(&key.parsed()));
    /// ```
    pub fn hash(&self, key: &ParsedKey<'_>) -> KeyHash {
        let bytes = key.expose_secret().as_bytes();
        let digest = match &self.mac {
            None => Sha256::digest(bytes).into(),
            Some(keyed) => {
                let mut mac = keyed.clone();
                mac.update(bytes);
                mac.finalize().into_bytes().into()
            }
        };
        KeyHash {
            algorithm: self.algorithm,
            digest,
        }
    }
}

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyHasher")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::KeyFormat;

    /// A valid key of the default format (its body is the bytes 1 to 32).
    const KEY: &str = "sk_live_0Eoh211G4c8wtVWM00my5rsNSFlKgaWqQ4mb8gdEqno4FCgrK";
    const PEPPER: &[u8] = b"pepper-0123456789abcdef-0123456789";

    fn hex(digest: &[u8]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn parsed() -> ParsedKey<'static> {
        KeyFormat::default().parse(KEY).unwrap()
    }

    #[test]
    fn sha256_of_the_whole_key() {
        // sha256sum of the key text.
        let hash = KeyHasher::sha256().hash(&parsed());
        assert_eq!(
            hex(hash.digest()),
            "5c1fa7267ea50971ef7c6f46f093fc0716119856de66e1cdc47e19a682803558"
        );
        assert_eq!(
            hash.to_string(),
            "sha256:XB-nJn6lCXHvfG9G8JP8BxYRmFbeZuHNxH4ZpoKANVg"
        );
    }

    #[test]
    fn hmac_sha256_of_the_whole_key() {
        // Python: hmac.new(PEPPER, KEY, sha256).
        let hasher = KeyHasher::hmac_sha256(4, PEPPER).unwrap();
        let hash = hasher.hash(&parsed());
        assert_eq!(
            hex(hash.digest()),
            "88d8cf5531989330530d0cd56d4e624511588c5c0382b2c139d3d7ad711e9565"
        );
        assert_eq!(
            hash.algorithm(),
            HashAlgorithm::HmacSha256 { pepper_version: 4 }
        );
        // The keyed state is reused, not consumed.
        assert_eq!(hasher.hash(&parsed()), hash);
    }

    #[test]
    fn the_algorithm_is_part_of_the_hash() {
        let a = KeyHash::from_digest(HashAlgorithm::Sha256, &[9; 32]).unwrap();
        let b = KeyHash::from_digest(HashAlgorithm::HmacSha256 { pepper_version: 0 }, &[9; 32])
            .unwrap();
        assert_ne!(a, b);
        let peppers = [1, 2].map(|v| KeyHasher::hmac_sha256(v, PEPPER).unwrap().hash(&parsed()));
        assert_ne!(peppers[0], peppers[1]);
        assert_eq!(peppers[0].digest(), peppers[1].digest());
    }

    #[test]
    fn short_peppers_are_rejected() {
        assert_eq!(
            KeyHasher::hmac_sha256(1, [0u8; 15]).unwrap_err(),
            ConfigError::ShortPepper { len: 15 }
        );
        assert!(KeyHasher::hmac_sha256(1, [0u8; 16]).is_ok());
    }

    #[test]
    fn debug_hides_the_pepper() {
        let hasher = KeyHasher::hmac_sha256(1, PEPPER).unwrap();
        let debug = format!("{hasher:?} {hasher:#?}");
        assert!(!debug.contains("pepper-"), "{debug}");
        assert!(!debug.contains("112"), "{debug}"); // no byte dumps
    }

    #[test]
    fn text_forms_round_trip() {
        for algorithm in [
            HashAlgorithm::Sha256,
            HashAlgorithm::HmacSha256 { pepper_version: 0 },
            HashAlgorithm::HmacSha256 {
                pepper_version: u32::MAX,
            },
        ] {
            assert_eq!(
                algorithm.to_string().parse::<HashAlgorithm>(),
                Ok(algorithm)
            );
            let hash = KeyHash::from_digest(algorithm, &[0xfe; 32]).unwrap();
            assert_eq!(hash.to_string().parse::<KeyHash>(), Ok(hash));
            let json = serde_json::to_string(&hash).unwrap();
            assert_eq!(json, format!("\"{hash}\""));
            assert_eq!(serde_json::from_str::<KeyHash>(&json).unwrap(), hash);
            let json = serde_json::to_string(&algorithm).unwrap();
            assert_eq!(
                serde_json::from_str::<HashAlgorithm>(&json).unwrap(),
                algorithm
            );
        }
    }

    #[test]
    fn malformed_text_forms_are_rejected() {
        for algorithm in [
            "",
            "SHA256",
            "sha-256",
            "hmac-sha256",
            "hmac-sha256.",
            "hmac-sha256.01",
            "hmac-sha256.+1",
            "hmac-sha256.-1",
            "hmac-sha256.4294967296",
            "hmac-sha256:1",
        ] {
            assert!(algorithm.parse::<HashAlgorithm>().is_err(), "{algorithm}");
        }
        let digest = "XB-nJn6lCXHvfG9G8JP8BxYRmFbeZuHNxH4ZpoKANVg";
        for hash in [
            String::new(),
            digest.to_owned(),
            format!("sha256{digest}"),
            format!("sha256:{digest}="),
            format!("sha256:{}", &digest[1..]),
            format!("sha256:{digest}A"),
            format!("sha256:{}", digest.replace('-', "+")),
            format!("md5:{digest}"),
            // Last character with bits beyond the 32 bytes: not canonical.
            format!("sha256:{}h", &digest[..42]),
        ] {
            assert!(hash.parse::<KeyHash>().is_err(), "{hash}");
        }
    }

    #[test]
    fn equal_hashes_hash_equally() {
        use std::collections::HashSet;
        let key = KeyFormat::default().generate();
        let a = KeyHasher::sha256().hash(&key.parsed());
        let b = KeyHash::from_digest(a.algorithm(), a.digest()).unwrap();
        let set: HashSet<KeyHash> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }
}
