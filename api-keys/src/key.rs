//! Keys in hand: a presented key that passed the format check ([`ParsedKey`]), a newly
//! issued one ([`PlaintextKey`]), and the form safe to show and store
//! ([`MaskedKey`]).
//!
//! The plaintext never reaches `Debug`, `Display` or a log: both print the masked form,
//! prefix and last 4 (`sk_live_…a1b2`), and reading the secret takes an explicit
//! [`expose_secret`](PlaintextKey::expose_secret). A [`PlaintextKey`] wipes its memory
//! when dropped.
//!
//! The last 4 characters are checksum digits: showing them reveals at most 24 bits
//! about the key: a body keeps more than 104 unknown bits even at the 128-bit minimum.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::format::KeyFormat;
//!
//! let key = KeyFormat::default().generate();
//! let secret = key.expose_secret();
//! let masked = format!("sk_live_…{}", &secret[secret.len() - 4..]);
//!
//! assert_eq!(key.to_string(), masked);
//! assert_eq!(format!("{key:?}"), format!("PlaintextKey({masked})"));
//! assert_eq!(key.masked().as_str(), masked);
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::KeyError;

/// How many characters of the end of a key the masked form shows.
const SHOWN: usize = 4;

/// The environment a key belongs to: the `live` or `test` in `sk_live_…`.
///
/// Parsing accepts keys of either environment and tells which
/// ([`ParsedKey::environment`]); whether a deployment accepts test keys is the
/// verification layer's decision.
///
/// ```
/// use portcullis_api_keys::key::Environment;
/// assert_eq!(Environment::default(), Environment::Live);
/// assert_eq!(Environment::Test.as_str(), "test");
/// assert_eq!("live".parse::<Environment>(), Ok(Environment::Live));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Environment {
    /// Production keys: `live`.
    #[default]
    Live,
    /// Sandbox keys: `test`.
    Test,
}

impl Environment {
    /// The tag as written in a key.
    ///
    /// ```
    /// assert_eq!(portcullis_api_keys::key::Environment::Live.as_str(), "live");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    pub(crate) fn from_tag(tag: &[u8]) -> Option<Self> {
        match tag {
            b"live" => Some(Self::Live),
            b"test" => Some(Self::Test),
            _ => None,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = KeyError;

    fn from_str(tag: &str) -> Result<Self, KeyError> {
        Self::from_tag(tag.as_bytes()).ok_or(KeyError::UnknownEnvironment)
    }
}

/// A presented key that passed [`KeyFormat::parse`](crate::format::KeyFormat::parse):
/// right prefix, known environment, valid checksum. It borrows the presented text and
/// is `Copy`; hash it with a [`KeyHasher`](crate::hash::KeyHasher) to look it up.
///
/// `Debug` and `Display` print the masked form.
///
/// ```
/// use portcullis_api_keys::format::{Environment, KeyFormat};
///
/// let format = KeyFormat::default();
/// let issued = format.generate();
/// let presented: &str = issued.expose_secret(); // from a request header, say
///
/// let parsed = format.parse(presented).unwrap();
/// assert_eq!(parsed.prefix(), "sk");
/// assert_eq!(parsed.environment(), Environment::Live);
/// assert_eq!(parsed.expose_secret(), presented);
/// assert!(!format!("{parsed:?}").contains(&presented[8..]));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    key: &'a str,
    environment: Environment,
    prefix_len: usize,
}

impl<'a> ParsedKey<'a> {
    /// A key already known to be valid.
    pub(crate) fn new(key: &'a str, environment: Environment, prefix_len: usize) -> Self {
        Self {
            key,
            environment,
            prefix_len,
        }
    }

    /// The environment the key belongs to.
    ///
    /// ```
    /// use portcullis_api_keys::format::{Environment, KeyFormat};
    /// let key = KeyFormat::default().environment(Environment::Test).generate();
    /// assert_eq!(key.parsed().environment(), Environment::Test);
    /// ```
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The prefix (`sk`).
    ///
    /// ```
    /// let key = portcullis_api_keys::format::KeyFormat::default().generate();
    /// assert_eq!(key.parsed().prefix(), "sk");
    /// ```
    pub fn prefix(&self) -> &'a str {
        &self.key[..self.prefix_len]
    }

    /// The masked form to store and show: `sk_live_…a1b2`.
    ///
    /// ```
    /// let key = portcullis_api_keys::format::KeyFormat::default().generate();
    /// assert_eq!(key.parsed().masked(), key.masked());
    /// ```
    pub fn masked(&self) -> MaskedKey {
        MaskedKey::new(self.to_string())
    }

    /// The whole key as presented: the secret. Hash it, never log or store it.
    ///
    /// ```
    /// let key = portcullis_api_keys::format::KeyFormat::default().generate();
    /// assert_eq!(key.parsed().expose_secret(), key.expose_secret());
    /// ```
    pub fn expose_secret(&self) -> &'a str {
        self.key
    }
}

/// Writes `sk_live_…a1b2` for a valid key with a prefix of `prefix_len` bytes.
fn write_masked(f: &mut fmt::Formatter<'_>, key: &str, prefix_len: usize) -> fmt::Result {
    // `{prefix}_{env}_`, then the last characters. Keys are ASCII.
    let head = prefix_len + 1 + Environment::Live.as_str().len() + 1;
    f.write_str(&key[..head])?;
    f.write_str("…")?;
    f.write_str(&key[key.len() - SHOWN..])
}

impl fmt::Display for ParsedKey<'_> {
    /// The masked form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_masked(f, self.key, self.prefix_len)
    }
}

impl fmt::Debug for ParsedKey<'_> {
    /// The masked form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ParsedKey(")?;
        write_masked(f, self.key, self.prefix_len)?;
        f.write_str(")")
    }
}

/// A newly generated key, from [`KeyFormat::generate`](crate::format::KeyFormat::generate):
/// the secret to hand to its owner once.
///
/// `Debug` and `Display` print the masked form; the memory holding the key is wiped
/// when it is dropped ([`ZeroizeOnDrop`]). It is deliberately not `Clone`, nor
/// `Serialize`: read it with [`expose_secret`](Self::expose_secret) where it leaves the
/// process.
///
/// ```
/// use portcullis_api_keys::format::KeyFormat;
/// use portcullis_api_keys::hash::KeyHasher;
///
/// let key = KeyFormat::default().generate();
/// let hash = KeyHasher::sha256().hash(&key.parsed());
/// let masked = key.masked();
/// // Store `hash` and `masked`, answer `key.expose_secret()` once, drop `key`.
/// assert!(masked.as_str().starts_with("sk_live_…"));
/// ```
pub struct PlaintextKey {
    /// Exactly as long as the key, so wiping covers every byte it was ever in.
    secret: Box<str>,
    environment: Environment,
    prefix_len: usize,
}

impl PlaintextKey {
    /// A key already known to be valid.
    pub(crate) fn new(key: &str, environment: Environment, prefix_len: usize) -> Self {
        Self {
            secret: Box::from(key),
            environment,
            prefix_len,
        }
    }

    /// The key itself: show it to its owner once, never log or store it.
    ///
    /// ```
    /// let key = portcullis_api_keys::format::KeyFormat::default().generate();
    /// assert!(key.expose_secret().starts_with("sk_live_"));
    /// ```
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }

    /// The key as a [`ParsedKey`], to hash it (no parsing happens: it is valid by
    /// construction).
    ///
    /// ```
    /// use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher};
    /// let format = KeyFormat::default();
    /// let key = format.generate();
    /// let hasher = KeyHasher::sha256();
    /// let presented = format.parse(key.expose_secret()).unwrap();
    /// assert_eq!(hasher.hash(&key.parsed()), hasher.hash(&presented));
    /// ```
    pub fn parsed(&self) -> ParsedKey<'_> {
        ParsedKey::new(&self.secret, self.environment, self.prefix_len)
    }

    /// The environment the key belongs to.
    ///
    /// ```
    /// use portcullis_api_keys::format::{Environment, KeyFormat};
    /// assert_eq!(KeyFormat::default().generate().environment(), Environment::Live);
    /// ```
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The masked form to store and show: `sk_live_…a1b2`.
    ///
    /// ```
    /// let key = portcullis_api_keys::format::KeyFormat::default().generate();
    /// assert_eq!(key.masked().as_str(), key.to_string());
    /// ```
    pub fn masked(&self) -> MaskedKey {
        self.parsed().masked()
    }

    /// Overwrites the key with zeros, as dropping does.
    fn wipe(&mut self) {
        self.secret.zeroize();
    }
}

impl Drop for PlaintextKey {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl ZeroizeOnDrop for PlaintextKey {}

impl fmt::Display for PlaintextKey {
    /// The masked form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_masked(f, &self.secret, self.prefix_len)
    }
}

impl fmt::Debug for PlaintextKey {
    /// The masked form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlaintextKey(")?;
        write_masked(f, &self.secret, self.prefix_len)?;
        f.write_str(")")
    }
}

/// The form of a key that is safe to store, list and show: prefix, environment and
/// last 4 characters, `sk_live_…a1b2`, so a person can tell their keys apart.
///
/// Made by [`PlaintextKey::masked`] or [`ParsedKey::masked`]; [`MaskedKey::new`] takes
/// any text, for records read back from a store or imported from another system (whose
/// keys may be masked differently). Serialized as a plain string.
///
/// ```
/// use portcullis_api_keys::key::MaskedKey;
/// let masked = MaskedKey::new("sk_live_…a1b2");
/// assert_eq!(masked.to_string(), "sk_live_…a1b2");
/// assert_eq!(serde_json::to_string(&masked).unwrap(), r#""sk_live_…a1b2""#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MaskedKey(Box<str>);

impl MaskedKey {
    /// A masked form as stored.
    ///
    /// ```
    /// use portcullis_api_keys::key::MaskedKey;
    /// assert_eq!(MaskedKey::new("legacy…wxyz").as_str(), "legacy…wxyz");
    /// ```
    pub fn new(masked: impl Into<String>) -> Self {
        Self(masked.into().into_boxed_str())
    }

    /// The text.
    ///
    /// ```
    /// use portcullis_api_keys::key::MaskedKey;
    /// assert_eq!(MaskedKey::new("sk_test_…0000").as_str(), "sk_test_…0000");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MaskedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::KeyFormat;

    fn body(key: &str) -> &str {
        &key[key.find("_live_").unwrap() + "_live_".len()..]
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let format = KeyFormat::new("acme").unwrap().body_bits(128).unwrap();
        for _ in 0..100 {
            let key = format.generate();
            let secret = key.expose_secret().to_owned();
            let parsed = format.parse(&secret).unwrap();
            let tail = &secret[secret.len() - SHOWN..];
            let masked = format!("acme_live_…{tail}");
            let shown = [
                key.to_string(),
                format!("{key:?}"),
                format!("{key:#?}"),
                parsed.to_string(),
                format!("{parsed:?}"),
                format!("{:?}", Some(&key)),
                key.masked().to_string(),
            ];
            for text in shown {
                assert!(text.contains(&masked), "{text}");
                // Nothing of the body but the last 4 shown characters.
                let hidden = &body(&secret)[..body(&secret).len() - SHOWN];
                for window in hidden.as_bytes().windows(5) {
                    let window = std::str::from_utf8(window).unwrap();
                    assert!(!text.contains(window), "{text} shows {window}");
                }
            }
        }
    }

    #[test]
    fn debug_names_the_type() {
        let key = KeyFormat::default().generate();
        let tail = &key.expose_secret()[key.expose_secret().len() - SHOWN..];
        assert_eq!(format!("{key:?}"), format!("PlaintextKey(sk_live_…{tail})"));
        let parsed = key.parsed();
        assert_eq!(format!("{parsed:?}"), format!("ParsedKey(sk_live_…{tail})"));
    }

    #[test]
    fn wiping_zeroes_every_byte_of_the_key() {
        let mut key = KeyFormat::default().generate();
        let len = key.expose_secret().len();
        key.wipe();
        assert_eq!(key.expose_secret().len(), len);
        assert!(key.expose_secret().bytes().all(|b| b == 0));
    }

    #[test]
    fn plaintext_keys_zeroize_on_drop() {
        fn zeroizes_on_drop<T: ZeroizeOnDrop>() {}
        zeroizes_on_drop::<PlaintextKey>();
    }

    #[test]
    fn masked_keys_round_trip_through_serde() {
        let masked = KeyFormat::default().generate().masked();
        let json = serde_json::to_string(&masked).unwrap();
        assert_eq!(serde_json::from_str::<MaskedKey>(&json).unwrap(), masked);
    }
}
