//! Identifiers: [`KeyId`], a key's own random id, and [`TenantId`], its owner.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::id::{KeyId, TenantId};
//!
//! let id = KeyId::generate();
//! assert!(id.as_str().starts_with("key_"));
//! assert_eq!(id.as_str().parse::<KeyId>().unwrap(), id);
//!
//! let tenant = TenantId::new("acme");
//! assert_eq!(tenant.as_str(), "acme");
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::base62;
use crate::error::ParseError;

const KEY_ID_PREFIX: &str = "key_";
/// Random bytes in an id: 128 bits.
const KEY_ID_RANDOM: usize = 16;
/// Base62 digits of those bytes.
const KEY_ID_DIGITS: usize = base62::encoded_len(KEY_ID_RANDOM);
const KEY_ID_LEN: usize = KEY_ID_PREFIX.len() + KEY_ID_DIGITS;

/// The id of a key: `key_` and 22 base62 characters (128 random bits from a CSPRNG),
/// such as `key_3KMpd0WZ1x4q7nVtC9sB2e`. Safe in URLs and logs; it says nothing about
/// the secret. `Copy`; ordered as its text (byte order); serialized as its text.
///
/// ```
/// use portcullis_api_keys::id::KeyId;
/// let (a, b) = (KeyId::generate(), KeyId::generate());
/// assert_ne!(a, b);
/// assert_eq!(a.as_str().len(), 26);
/// assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// A new random id, from the thread-local CSPRNG.
    ///
    /// ```
    /// let id = portcullis_api_keys::id::KeyId::generate();
    /// assert!(id.as_str()[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    /// ```
    pub fn generate() -> Self {
        let mut random = [0u8; KEY_ID_RANDOM];
        rand::rng().fill_bytes(&mut random);
        let mut text = String::with_capacity(KEY_ID_LEN);
        text.push_str(KEY_ID_PREFIX);
        base62::encode_bytes(&random, &mut text);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(text.as_bytes());
        Self(id)
    }

    /// The id as text.
    ///
    /// ```
    /// use portcullis_api_keys::id::KeyId;
    /// let id: KeyId = "key_0123456789ABCDEFabcdef".parse().unwrap();
    /// assert_eq!(id.as_str(), "key_0123456789ABCDEFabcdef");
    /// ```
    pub fn as_str(&self) -> &str {
        // Only ASCII ever gets in: `generate` writes base62, `from_str` checks.
        std::str::from_utf8(&self.0).expect("key ids are ASCII")
    }
}

impl FromStr for KeyId {
    type Err = ParseError;

    /// Parses `key_` and 22 base62 characters, exactly.
    fn from_str(text: &str) -> Result<Self, ParseError> {
        let valid = text.len() == KEY_ID_LEN
            && text.starts_with(KEY_ID_PREFIX)
            && base62::all_digits(&text.as_bytes()[KEY_ID_PREFIX.len()..]);
        match text.as_bytes().try_into() {
            Ok(bytes) if valid => Ok(Self(bytes)),
            _ => Err(ParseError::KeyId {
                value: text.to_owned(),
            }),
        }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.as_str())
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The tenant (account, organization, user) that owns a key: whatever id your system
/// uses, taken as is. Cheap to clone; ordered as its text; serialized as its text.
///
/// ```
/// use portcullis_api_keys::id::TenantId;
/// let tenant = TenantId::new(String::from("org_42"));
/// assert_eq!(tenant, TenantId::new("org_42"));
/// assert_eq!(tenant.to_string(), "org_42");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// A tenant id.
    ///
    /// ```
    /// assert_eq!(portcullis_api_keys::id::TenantId::new("acme").as_str(), "acme");
    /// ```
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    ///
    /// ```
    /// assert_eq!(portcullis_api_keys::id::TenantId::new("acme").as_str(), "acme");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", &*self.0)
    }
}

impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::new(text.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_parse_and_differ() {
        let ids: HashSet<KeyId> = (0..1_000).map(|_| KeyId::generate()).collect();
        assert_eq!(ids.len(), 1_000);
        for id in ids {
            assert_eq!(id.as_str().parse::<KeyId>(), Ok(id));
            assert_eq!(format!("{id:?}"), format!("KeyId({id})"));
        }
    }

    #[test]
    fn only_the_exact_shape_parses() {
        for bad in [
            "",
            "key_",
            "key_0123456789ABCDEFabcde",
            "key_0123456789ABCDEFabcdefg",
            "KEY_0123456789ABCDEFabcdef",
            "kex_0123456789ABCDEFabcdef",
            "key_0123456789ABCDEF-bcdef",
            "key_0123456789ABCDEF_bcdef",
            "key_0123456789ABCDEFabcdé",
        ] {
            assert!(bad.parse::<KeyId>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<KeyId>("\"key_1\"").is_err());
    }

    #[test]
    fn ids_order_as_their_text() {
        let mut ids: Vec<KeyId> = (0..100).map(|_| KeyId::generate()).collect();
        ids.sort();
        assert!(ids.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
    }

    #[test]
    fn tenant_ids_round_trip_through_serde() {
        let tenant = TenantId::new("ключ ✓");
        let json = serde_json::to_string(&tenant).unwrap();
        assert_eq!(serde_json::from_str::<TenantId>(&json).unwrap(), tenant);
        assert_eq!(format!("{tenant:?}"), "TenantId(\"ключ ✓\")");
    }
}
