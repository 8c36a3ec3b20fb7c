//! The key format: `{prefix}_{env}_{body}{checksum}`.
//!
//! ```text
//! sk_live_C8ug9ZwB5ScTqEBm1hj5BDKgLNeYYhVOmoiWTksUla50QOcyb
//! └┘ └──┘ └───────────────── body ──────────────────┘└────┘
//! ```
//!
//! - **prefix**: 1 to 16 characters among `a-z0-9`, `sk` by default. It names the
//!   issuer so that secret scanners (and people) recognise a leaked key.
//! - **env**: `live` or `test` ([`Environment`]).
//! - **body**: CSPRNG bytes (256 bits by default, 128 at least, 512 at most) written in
//!   base62 (`0-9A-Za-z`) as one big-endian number with a fixed number of digits: 43
//!   for 256 bits, 22 for 128.
//! - **checksum**: the CRC32 (IEEE) of everything before it, in exactly 6 base62
//!   digits, as GitHub tokens carry: a typo or a truncated copy is rejected offline,
//!   before any cache or store is asked, and a scanner can tell a real key from a
//!   look-alike.
//!
//! Keys use no character that needs escaping in a header, a URL or a shell, and a
//! double click selects a whole key.
//!
//! [`KeyFormat::parse`] is the cheap, allocation-free first gate of verification;
//! [`KeyFormat::generate`] issues keys; [`KeyFormat::scanner_pattern`] is the regular
//! expression to register with secret scanners.
//!
//! # Example
//!
//! ```
//! use portcullis_api_keys::error::KeyError;
//! use portcullis_api_keys::format::{Environment, KeyFormat};
//!
//! let format = KeyFormat::new("acme")?.environment(Environment::Test).body_bits(128)?;
//! let key = format.generate();
//! assert!(key.expose_secret().starts_with("acme_test_"));
//! assert_eq!(key.expose_secret().len(), "acme_test_".len() + 22 + 6);
//!
//! let parsed = format.parse(key.expose_secret())?;
//! assert_eq!(parsed.environment(), Environment::Test);
//!
//! // One character off: caught by the checksum.
//! let mut typo = key.expose_secret().to_owned();
//! let last = if typo.ends_with('a') { "b" } else { "a" };
//! typo.replace_range(typo.len() - 1.., last);
//! assert_eq!(format.parse(&typo).unwrap_err(), KeyError::BadChecksum);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use rand::RngCore;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::base62::{self, CHECKSUM_LEN};
use crate::error::{ConfigError, KeyError};
use crate::key::{ParsedKey, PlaintextKey};

/// The default prefix, as in `sk_live_…`.
///
/// ```
/// use portcullis_api_keys::format::{DEFAULT_PREFIX, KeyFormat};
/// assert_eq!(KeyFormat::default().prefix(), DEFAULT_PREFIX);
/// ```
pub const DEFAULT_PREFIX: &str = "sk";

/// The regular expression that finds keys of the default format (prefix `sk`, 256-bit
/// body) in text: the pattern to register with a secret scanner (GitHub secret
/// scanning, gitleaks, trufflehog). It uses only syntax that PCRE, RE2 and Rust's
/// `regex` share. Other formats: [`KeyFormat::scanner_pattern`].
///
/// ```
/// use portcullis_api_keys::format::{DEFAULT_SCANNER_PATTERN, KeyFormat};
/// assert_eq!(DEFAULT_SCANNER_PATTERN, KeyFormat::default().scanner_pattern());
/// ```
pub const DEFAULT_SCANNER_PATTERN: &str = portcullis_core::secret::API_KEY_SCANNER_PATTERN;

const MIN_BODY_BITS: u32 = 128;
const MAX_BODY_BITS: u32 = 512;
const DEFAULT_BODY_BITS: u32 = 256;
const MAX_PREFIX_LEN: usize = 16;
/// The length of `live` and `test`.
const ENVIRONMENT_LEN: usize = 4;

/// The environment a key belongs to; it lives in [`crate::key`] beside the keys that
/// carry it, and is named here too, where the format is.
pub use crate::key::Environment;

/// A key format: prefix, environment of generated keys, body size. Generates, parses
/// and describes keys. See the [module docs](self).
///
/// Built with validating setters (invalid values are a [`ConfigError`], never a
/// panic later) or deserialized from configuration:
///
/// ```
/// use portcullis_api_keys::format::{Environment, KeyFormat};
///
/// let built = KeyFormat::new("sk")?.environment(Environment::Live).body_bits(256)?;
/// assert_eq!(built, KeyFormat::default());
///
/// let loaded: KeyFormat =
///     serde_json::from_str(r#"{ "prefix": "acme", "environment": "test", "body_bits": 128 }"#)?;
/// assert_eq!(loaded.prefix(), "acme");
/// assert!(serde_json::from_str::<KeyFormat>(r#"{ "body_bits": 64 }"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "FormatConfig")]
pub struct KeyFormat {
    prefix: Arc<str>,
    environment: Environment,
    body_bytes: usize,
    /// Base62 digits of the body.
    body_len: usize,
}

/// What a [`KeyFormat`] is deserialized from.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatConfig {
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default)]
    environment: Environment,
    #[serde(default = "default_body_bits")]
    body_bits: u32,
}

fn default_prefix() -> String {
    DEFAULT_PREFIX.to_owned()
}

fn default_body_bits() -> u32 {
    DEFAULT_BODY_BITS
}

impl TryFrom<FormatConfig> for KeyFormat {
    type Error = ConfigError;

    fn try_from(config: FormatConfig) -> Result<Self, ConfigError> {
        Self::new(config.prefix)?
            .environment(config.environment)
            .body_bits(config.body_bits)
    }
}

impl Default for KeyFormat {
    /// `sk`, `live`, 256 bits.
    fn default() -> Self {
        Self::with_prefix(Arc::from(DEFAULT_PREFIX))
    }
}

impl KeyFormat {
    /// A format with this prefix, generating `live` keys with 256-bit bodies.
    ///
    /// The prefix is 1 to 16 characters among `a-z` and `0-9` (no `_`: it separates
    /// the parts).
    ///
    /// ```
    /// use portcullis_api_keys::{error::ConfigError, format::KeyFormat};
    /// assert_eq!(KeyFormat::new("acme").unwrap().prefix(), "acme");
    /// assert!(matches!(KeyFormat::new("Acme"), Err(ConfigError::InvalidPrefix { .. })));
    /// assert!(KeyFormat::new("sk_x").is_err());
    /// assert!(KeyFormat::new("").is_err());
    /// ```
    pub fn new(prefix: impl Into<String>) -> Result<Self, ConfigError> {
        let prefix = prefix.into();
        let valid = (1..=MAX_PREFIX_LEN).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(ConfigError::InvalidPrefix { prefix });
        }
        Ok(Self::with_prefix(Arc::from(prefix)))
    }

    fn with_prefix(prefix: Arc<str>) -> Self {
        let body_bytes = (DEFAULT_BODY_BITS / 8) as usize;
        Self {
            prefix,
            environment: Environment::Live,
            body_bytes,
            body_len: base62::encoded_len(body_bytes),
        }
    }

    /// Sets the environment of generated keys (`live` by default). Parsing accepts
    /// both.
    ///
    /// ```
    /// use portcullis_api_keys::format::{Environment, KeyFormat};
    /// let format = KeyFormat::default().environment(Environment::Test);
    /// assert!(format.generate().expose_secret().starts_with("sk_test_"));
    /// ```
    #[must_use]
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Sets the size of the random body: a multiple of 8 from 128 to 512 bits (256 by
    /// default). Fewer than 128 bits could be guessed; the key length grows by about
    /// one character per 6 bits.
    ///
    /// ```
    /// use portcullis_api_keys::format::KeyFormat;
    /// let format = KeyFormat::default().body_bits(512).unwrap();
    /// assert_eq!(format.key_len(), "sk_live_".len() + 86 + 6);
    /// assert!(KeyFormat::default().body_bits(120).is_err());
    /// assert!(KeyFormat::default().body_bits(132).is_err());
    /// ```
    pub fn body_bits(mut self, bits: u32) -> Result<Self, ConfigError> {
        if !(MIN_BODY_BITS..=MAX_BODY_BITS).contains(&bits) || !bits.is_multiple_of(8) {
            return Err(ConfigError::BodyBits { bits });
        }
        self.body_bytes = (bits / 8) as usize;
        self.body_len = base62::encoded_len(self.body_bytes);
        Ok(self)
    }

    /// The prefix.
    ///
    /// ```
    /// assert_eq!(portcullis_api_keys::format::KeyFormat::default().prefix(), "sk");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The length of every key of this format, in bytes (all ASCII).
    ///
    /// ```
    /// // sk _ live _ 43 body digits, 6 checksum digits
    /// assert_eq!(portcullis_api_keys::format::KeyFormat::default().key_len(), 57);
    /// ```
    pub fn key_len(&self) -> usize {
        self.prefix.len() + 1 + ENVIRONMENT_LEN + 1 + self.body_len + CHECKSUM_LEN
    }

    /// A new key: a body of random bits from the
    /// thread-local CSPRNG (`rand`'s ChaCha12 `ThreadRng`, seeded and periodically
    /// reseeded from the operating system). Every intermediate copy of the secret is
    /// wiped.
    ///
    /// Show the plaintext to its owner once; store only its
    /// [hash](crate::hash::KeyHasher) and [masked form](PlaintextKey::masked).
    ///
    /// ```
    /// use portcullis_api_keys::format::KeyFormat;
    ///
    /// let format = KeyFormat::default();
    /// let (a, b) = (format.generate(), format.generate());
    /// assert_ne!(a.expose_secret(), b.expose_secret());
    /// assert!(format.parse(a.expose_secret()).is_ok());
    /// assert_eq!(a.to_string(), format!("sk_live_…{}", &a.expose_secret()[53..]));
    /// ```
    pub fn generate(&self) -> PlaintextKey {
        let mut random = Zeroizing::new([0u8; base62::MAX_BYTES]);
        let random = &mut random[..self.body_bytes];
        rand::rng().fill_bytes(random);

        // Exactly the key's length, so the buffer never reallocates (which would leave
        // an unwiped copy behind).
        let mut key = Zeroizing::new(String::with_capacity(self.key_len()));
        key.push_str(&self.prefix);
        key.push('_');
        key.push_str(self.environment.as_str());
        key.push('_');
        base62::encode_bytes(random, &mut key);
        base62::encode_u32(crc32fast::hash(key.as_bytes()), &mut key);
        debug_assert_eq!(key.len(), self.key_len());
        PlaintextKey::new(&key, self.environment, self.prefix.len())
    }

    /// Checks that `key` is a key of this format with a valid checksum, without
    /// allocating or looking anything up: the first gate of verification, a few dozen
    /// nanoseconds.
    ///
    /// Checks, in order: the prefix ([`KeyError::WrongPrefix`] if `key` starts with
    /// another `{prefix}_`), the environment tag ([`KeyError::UnknownEnvironment`]),
    /// the length and alphabet of body and checksum ([`KeyError::Malformed`], also for
    /// anything not shaped like a key at all), then the checksum
    /// ([`KeyError::BadChecksum`]). Keys of both environments are accepted. Nothing is
    /// trimmed: strip whitespace and schemes (`Bearer `) before.
    ///
    /// ```
    /// use portcullis_api_keys::{error::KeyError, format::{Environment, KeyFormat}};
    ///
    /// let format = KeyFormat::default();
    /// let key = format.generate();
    /// let parsed = format.parse(key.expose_secret()).unwrap();
    /// assert_eq!(parsed.environment(), Environment::Live);
    ///
    /// assert_eq!(format.parse("").unwrap_err(), KeyError::Malformed);
    /// assert_eq!(format.parse("sk_prod_abc").unwrap_err(), KeyError::UnknownEnvironment);
    /// assert_eq!(format.parse("sk_live_abc").unwrap_err(), KeyError::Malformed);
    /// ```
    pub fn parse<'a>(&self, key: &'a str) -> Result<ParsedKey<'a>, KeyError> {
        let bytes = key.as_bytes();
        let prefix = self.prefix.as_bytes();
        let Some([b'_', rest @ ..]) = bytes.strip_prefix(prefix) else {
            return Err(match tag_before_underscore(bytes) {
                Some(_) => KeyError::WrongPrefix,
                None => KeyError::Malformed,
            });
        };
        let environment = match rest.split_at_checked(ENVIRONMENT_LEN) {
            Some((tag, [b'_', ..])) => Environment::from_tag(tag),
            _ => None,
        };
        let Some(environment) = environment else {
            return Err(match tag_before_underscore(rest) {
                Some(_) => KeyError::UnknownEnvironment,
                None => KeyError::Malformed,
            });
        };
        if bytes.len() != self.key_len() {
            return Err(KeyError::Malformed);
        }
        let head_len = prefix.len() + 1 + ENVIRONMENT_LEN + 1;
        let Some((signed, checksum)) = bytes.split_last_chunk::<CHECKSUM_LEN>() else {
            return Err(KeyError::Malformed);
        };
        if !base62::all_digits(&signed[head_len..]) {
            return Err(KeyError::Malformed);
        }
        let Some(checksum) = base62::decode_checksum(checksum) else {
            return Err(KeyError::Malformed);
        };
        if checksum != u64::from(crc32fast::hash(signed)) {
            return Err(KeyError::BadChecksum);
        }
        Ok(ParsedKey::new(key, environment, prefix.len()))
    }

    /// The regular expression that finds keys of this format in text, for secret
    /// scanners: the prefix, either environment, and exactly as many base62 characters
    /// as body and checksum have, between word boundaries. It does not check the
    /// checksum; a scanner that can run code confirms a match with
    /// [`parse`](Self::parse) (or CRC32 of all but the last 6 characters) to drop
    /// look-alikes.
    ///
    /// ```
    /// use portcullis_api_keys::format::KeyFormat;
    /// let format = KeyFormat::new("acme").unwrap().body_bits(128).unwrap();
    /// assert_eq!(format.scanner_pattern(), r"\bacme_(?:live|test)_[0-9A-Za-z]{28}\b");
    /// ```
    pub fn scanner_pattern(&self) -> String {
        format!(
            r"\b{}_(?:live|test)_[0-9A-Za-z]{{{}}}\b",
            self.prefix,
            self.body_len + CHECKSUM_LEN
        )
    }
}

/// The leading `[a-z0-9]{1,16}` of `bytes` when a `_` follows it: how a prefix or an
/// environment tag looks.
fn tag_before_underscore(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes
        .iter()
        .take(MAX_PREFIX_LEN + 1)
        .position(|&b| b == b'_')?;
    let tag = &bytes[..end];
    let looks_like_tag = !tag.is_empty()
        && tag
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    looks_like_tag.then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key of the default format, written down once (by an independent Python
    /// implementation of the format): keys already issued must keep parsing. Its body
    /// is the bytes 1 to 32.
    const ISSUED: &str = "sk_live_0Eoh211G4c8wtVWM00my5rsNSFlKgaWqQ4mb8gdEqno4FCgrK";

    #[test]
    fn keys_issued_earlier_still_parse() {
        let parsed = KeyFormat::default().parse(ISSUED);
        assert!(parsed.is_ok(), "{parsed:?}");
        let bytes: Vec<u8> = (1..=32).collect();
        let mut body = String::new();
        base62::encode_bytes(&bytes, &mut body);
        assert_eq!(&ISSUED[8..51], body);
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        for bits in (128..=512).step_by(8) {
            let format = KeyFormat::new("acme").unwrap().body_bits(bits).unwrap();
            let key = format.generate();
            let text = key.expose_secret();
            assert_eq!(text.len(), format.key_len());
            assert!(text.starts_with("acme_live_"));
            let tail = &text["acme_live_".len()..];
            assert!(base62::all_digits(tail.as_bytes()));
            assert_eq!(format.parse(text).unwrap().expose_secret(), text);
        }
    }

    #[test]
    fn body_bits_outside_the_range_are_rejected() {
        for bits in [0, 8, 64, 120, 127, 129, 136 + 4, 520, 1024, u32::MAX] {
            assert_eq!(
                KeyFormat::default().body_bits(bits).unwrap_err(),
                ConfigError::BodyBits { bits },
                "{bits}"
            );
        }
        for bits in [128, 136, 256, 512] {
            assert!(KeyFormat::default().body_bits(bits).is_ok(), "{bits}");
        }
    }

    #[test]
    fn prefixes_are_lowercase_alphanumeric() {
        for good in ["sk", "a", "acme2", "0123456789abcdef"] {
            assert!(KeyFormat::new(good).is_ok(), "{good}");
        }
        for bad in ["", "SK", "s-k", "s_k", "sk ", "é", "0123456789abcdefg"] {
            assert!(KeyFormat::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let format = KeyFormat::default();
        let key = format.generate();
        let text = key.expose_secret();
        let body = &text["sk_live_".len()..];
        let cases = [
            (String::new(), KeyError::Malformed),
            ("sk".into(), KeyError::Malformed),
            ("sk_".into(), KeyError::Malformed),
            ("sk-live-abc".into(), KeyError::Malformed),
            (format!("pk_live_{body}"), KeyError::WrongPrefix),
            (format!("skx_live_{body}"), KeyError::WrongPrefix),
            (format!("Sk_live_{body}"), KeyError::Malformed),
            (format!("sk_prod_{body}"), KeyError::UnknownEnvironment),
            (format!("sk_LIVE_{body}"), KeyError::Malformed),
            (format!("sk_live{body}"), KeyError::Malformed),
            (format!("sk_live__{body}"), KeyError::Malformed),
            (format!("sk_live_{}", &body[1..]), KeyError::Malformed),
            (format!("sk_live_{body}0"), KeyError::Malformed),
            (format!("sk_live_{body} "), KeyError::Malformed),
            (format!(" sk_live_{body}"), KeyError::Malformed),
            (format!("sk_live_-{}", &body[1..]), KeyError::Malformed),
            (format!("sk_test_{body}"), KeyError::BadChecksum),
        ];
        for (input, expected) in cases {
            assert_eq!(format.parse(&input).unwrap_err(), expected, "{input:?}");
        }
    }

    #[test]
    fn a_checksum_above_u32_max_is_a_mismatch() {
        let format = KeyFormat::default();
        let key = format.generate();
        let text = key.expose_secret();
        let forged = format!("{}zzzzzz", &text[..text.len() - CHECKSUM_LEN]);
        assert_eq!(format.parse(&forged).unwrap_err(), KeyError::BadChecksum);
    }

    #[test]
    fn both_environments_parse_whatever_the_format_generates() {
        let live = KeyFormat::default();
        let test = KeyFormat::default().environment(Environment::Test);
        let key = test.generate();
        assert_eq!(
            live.parse(key.expose_secret()).unwrap().environment(),
            Environment::Test
        );
    }

    #[test]
    fn a_format_deserializes_with_defaults_and_validation() {
        let format: KeyFormat = serde_json::from_str("{}").unwrap();
        assert_eq!(format, KeyFormat::default());
        let format: KeyFormat = serde_json::from_str(r#"{"environment":"test"}"#).unwrap();
        assert_eq!(format, KeyFormat::default().environment(Environment::Test));
        for bad in [
            r#"{"prefix":"SK"}"#,
            r#"{"body_bits":96}"#,
            r#"{"environment":"prod"}"#,
            r#"{"bits":256}"#,
        ] {
            assert!(serde_json::from_str::<KeyFormat>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environment_tags_round_trip() {
        for environment in [Environment::Live, Environment::Test] {
            assert_eq!(environment.as_str().parse(), Ok(environment));
            assert_eq!(environment.to_string(), environment.as_str());
        }
        assert_eq!(
            "prod".parse::<Environment>(),
            Err(KeyError::UnknownEnvironment)
        );
    }
}
