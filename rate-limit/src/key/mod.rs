//! Who a limit applies to: [`KeyExtractor`] and the built-in [`Key`].
//!
//! A key extractor writes the parts of a request that identify the limited party (the
//! client's address, an API key header, the tenant, the route) into a [`KeyBuilder`],
//! which hashes them into a 64-bit [`Fingerprint`]. Stores only ever see fingerprints:
//! raw header values are never stored.
//!
//! [`Key`] covers the common cases and their combinations in a line:
//!
//! | limit | key |
//! |---|---|
//! | per IP | `Key::client_ip()` |
//! | per IP behind a load balancer | `Key::client_ip_behind(trusted)` |
//! | per endpoint and IP | `Key::client_ip().and(Key::route())` |
//! | per API key | `Key::header(HeaderName::from_static("x-api-key"))` |
//! | per tenant | `Key::tenant()` |
//! | per tenant and endpoint | `Key::tenant().and(Key::route())` |
//! | one limit for all | `Key::global()` |
//!
//! # A missing key
//!
//! When a part is absent (no peer address was recorded, the header is missing) the
//! extractor returns [`MissingKey`], and the layer applies its
//! [`OnMissingKey`](crate::rate_limit::OnMissingKey) policy: by default it answers
//! `400 RATE_LIMIT_KEY_MISSING` (never a 500, never a panic).
//!
//! # Example
//!
//! ```
//! use http::{HeaderName, Request};
//! use portcullis_core::client_ip::PeerAddr;
//! use portcullis_rate_limit::key::{Key, KeyBuilder, KeyExtractor};
//! use portcullis_rate_limit::request::RequestHead;
//!
//! let key = Key::client_ip().and(Key::route());
//! let mut request = Request::get("/login").body(()).unwrap();
//! request.extensions_mut().insert(PeerAddr("203.0.113.9:5000".parse().unwrap()));
//!
//! let fingerprint = |request: &Request<()>| {
//!     let mut builder = KeyBuilder::default();
//!     key.extract(&RequestHead::new(request), &mut builder).map(|()| builder.finish())
//! };
//! let login = fingerprint(&request).unwrap();
//! *request.uri_mut() = "/search".parse().unwrap();
//! assert_ne!(fingerprint(&request).unwrap(), login);
//! ```

mod builtin;

use std::borrow::Cow;
use std::fmt;
use std::hash::Hasher;

use siphasher::sip::SipHasher13;

pub use builtin::Key;

use crate::request::RequestHead;

/// Writes what identifies the limited party of a request into a [`KeyBuilder`].
///
/// Implemented by [`Key`], by pairs of extractors (both parts count), and by closures
/// `Fn(&RequestHead<'_>, &mut KeyBuilder) -> Result<(), MissingKey>`.
///
/// ```
/// use portcullis_rate_limit::key::{KeyBuilder, KeyExtractor, MissingKey};
/// use portcullis_rate_limit::request::RequestHead;
///
/// // Per HTTP method, as a closure.
/// let per_method = |head: &RequestHead<'_>, key: &mut KeyBuilder| {
///     key.write_part(head.method().as_str().as_bytes());
///     Ok::<(), MissingKey>(())
/// };
/// let fingerprint = |request: http::Request<()>| {
///     let mut key = KeyBuilder::default();
///     per_method.extract(&RequestHead::new(&request), &mut key).unwrap();
///     key.finish()
/// };
/// let get = fingerprint(http::Request::get("/a").body(()).unwrap());
/// assert_eq!(get, fingerprint(http::Request::get("/b").body(()).unwrap()));
/// assert_ne!(get, fingerprint(http::Request::post("/a").body(()).unwrap()));
/// ```
pub trait KeyExtractor: Send + Sync + 'static {
    /// Writes the request's key parts, or says which part is missing.
    fn extract(&self, request: &RequestHead<'_>, key: &mut KeyBuilder) -> Result<(), MissingKey>;
}

impl<F> KeyExtractor for F
where
    F: Fn(&RequestHead<'_>, &mut KeyBuilder) -> Result<(), MissingKey> + Send + Sync + 'static,
{
    fn extract(&self, request: &RequestHead<'_>, key: &mut KeyBuilder) -> Result<(), MissingKey> {
        self(request, key)
    }
}

impl<A: KeyExtractor, B: KeyExtractor> KeyExtractor for (A, B) {
    fn extract(&self, request: &RequestHead<'_>, key: &mut KeyBuilder) -> Result<(), MissingKey> {
        self.0.extract(request, key)?;
        self.1.extract(request, key)
    }
}

/// The part of a key a request lacked.
///
/// ```
/// use portcullis_rate_limit::key::MissingKey;
/// let missing = MissingKey::new("header x-api-key");
/// assert_eq!(missing.to_string(), "the request has no header x-api-key to key its rate limit on");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingKey {
    what: Cow<'static, str>,
}

impl MissingKey {
    /// `what` is missing, e.g. `"client address"` or `"header x-api-key"`.
    ///
    /// ```
    /// let missing = portcullis_rate_limit::key::MissingKey::new("tenant");
    /// assert_eq!(missing.what(), "tenant");
    /// ```
    pub fn new(what: impl Into<Cow<'static, str>>) -> Self {
        Self { what: what.into() }
    }

    /// What is missing.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::key::MissingKey::new("client address").what(), "client address");
    /// ```
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl fmt::Display for MissingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request has no {} to key its rate limit on",
            self.what
        )
    }
}

impl std::error::Error for MissingKey {}

/// Hashes key parts into a [`Fingerprint`] with SipHash-1-3 (64 bits), keyed by a
/// secret.
///
/// The same secret gives the same fingerprints in every process, which is what shared
/// stores (Redis) need; set your own secret with
/// [`RateLimitLayer::key_secret`](crate::rate_limit::RateLimitLayer::key_secret) so nobody
/// can precompute fingerprints. Parts are length-prefixed, so `("ab", "c")` and
/// `("a", "bc")` differ.
///
/// ```
/// use portcullis_rate_limit::key::KeyBuilder;
///
/// let mut a = KeyBuilder::default();
/// a.write_part(b"ab");
/// a.write_part(b"c");
/// let mut b = KeyBuilder::default();
/// b.write_part(b"a");
/// b.write_part(b"bc");
/// assert_ne!(a.finish(), b.finish());
/// ```
#[derive(Clone, Debug)]
pub struct KeyBuilder {
    k0: u64,
    k1: u64,
    // Parts are gathered here and hashed in one go (`SipHasher13::hash`): most keys
    // fit. Longer keys spill into the streaming hasher, which computes the same
    // function.
    len: usize,
    buffer: [u8; BUFFER],
    spilled: Option<Box<SipHasher13>>,
}

const BUFFER: usize = 64;

/// The key secret used when none is set.
pub(crate) const DEFAULT_SECRET: [u8; 16] = *b"portcullis-rl-v1";

impl Default for KeyBuilder {
    fn default() -> Self {
        Self::with_secret(&DEFAULT_SECRET)
    }
}

impl KeyBuilder {
    /// A builder keyed by `secret`.
    ///
    /// ```
    /// use portcullis_rate_limit::key::KeyBuilder;
    /// let mut a = KeyBuilder::with_secret(&[1; 16]);
    /// let mut b = KeyBuilder::with_secret(&[2; 16]);
    /// a.write_part(b"x");
    /// b.write_part(b"x");
    /// assert_ne!(a.finish(), b.finish());
    /// ```
    pub fn with_secret(secret: &[u8; 16]) -> Self {
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = *secret;
        Self {
            k0: u64::from_le_bytes([a, b, c, d, e, f, g, h]),
            k1: u64::from_le_bytes([i, j, k, l, m, n, o, p]),
            len: 0,
            buffer: [0; BUFFER],
            spilled: None,
        }
    }

    /// Writes one part, prefixed by its length (as 8 little-endian bytes, so
    /// fingerprints are the same on every platform).
    #[inline]
    pub fn write_part(&mut self, bytes: &[u8]) {
        self.push(&(bytes.len() as u64).to_le_bytes());
        self.push(bytes);
    }

    /// Writes a tag byte separating kinds of parts.
    ///
    /// ```
    /// use portcullis_rate_limit::key::KeyBuilder;
    /// let (mut a, mut b) = (KeyBuilder::default(), KeyBuilder::default());
    /// a.write_tag(1);
    /// b.write_tag(2);
    /// assert_ne!(a.finish(), b.finish());
    /// ```
    #[inline]
    pub fn write_tag(&mut self, tag: u8) {
        self.push(&[tag]);
    }

    /// Writes an IP address, tagged by family so the tag also fixes the length: the
    /// client-IP key part, and nothing else, writes addresses this way.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use portcullis_rate_limit::key::KeyBuilder;
    /// let fingerprint = |ip: &str| {
    ///     let mut key = KeyBuilder::default();
    ///     key.write_ip(ip.parse::<IpAddr>().unwrap());
    ///     key.finish()
    /// };
    /// assert_eq!(fingerprint("192.0.2.1"), fingerprint("192.0.2.1"));
    /// assert_ne!(fingerprint("192.0.2.1"), fingerprint("::ffff:192.0.2.1"));
    /// ```
    #[inline]
    pub fn write_ip(&mut self, ip: std::net::IpAddr) {
        match ip {
            std::net::IpAddr::V4(v4) => {
                self.write_tag(4);
                self.push(&v4.octets());
            }
            std::net::IpAddr::V6(v6) => {
                self.write_tag(6);
                self.push(&v6.octets());
            }
        }
    }

    #[inline(always)]
    fn push(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() <= BUFFER {
            self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            self.spill(bytes);
        }
    }

    #[cold]
    #[inline(never)]
    fn spill(&mut self, bytes: &[u8]) {
        let (k0, k1) = (self.k0, self.k1);
        let hasher = self
            .spilled
            .get_or_insert_with(|| Box::new(SipHasher13::new_with_keys(k0, k1)));
        hasher.write(&self.buffer[..self.len]);
        hasher.write(bytes);
        self.len = 0;
    }

    /// The fingerprint of everything written.
    ///
    /// ```
    /// use portcullis_rate_limit::key::KeyBuilder;
    /// let (mut a, mut b) = (KeyBuilder::default(), KeyBuilder::default());
    /// a.write_part(b"same");
    /// b.write_part(b"same");
    /// assert_eq!(a.finish(), b.finish());
    /// ```
    #[inline]
    pub fn finish(self) -> Fingerprint {
        Fingerprint(match self.spilled {
            None => SipHasher13::new_with_keys(self.k0, self.k1).hash(&self.buffer[..self.len]),
            Some(mut hasher) => {
                hasher.write(&self.buffer[..self.len]);
                hasher.finish()
            }
        })
    }
}

/// Lets extractors feed any `Hash` value: `value.hash(&mut key)`.
impl Hasher for KeyBuilder {
    fn finish(&self) -> u64 {
        self.clone().finish().as_u64()
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.push(bytes);
    }
}

/// The 64-bit hash of a request's key: all a store sees of who is limited.
///
/// A fingerprint is the output of SipHash-1-3, a keyed pseudo-random function, under
/// the layer's [key secret](crate::rate_limit::RateLimitLayer::key_secret). 64 bits are
/// enough:
///
/// - Without the secret an attacker can neither aim a collision (make their requests
///   count against someone else's key) nor recover a header value from a fingerprint.
/// - Accidental collisions among `n` live keys happen with probability about
///   `n² / 2⁶⁵`: about 1 in a billion at 200,000 keys.
/// - A collision only makes two clients share one counter; it never lets a request
///   bypass a limit.
///
/// Its [`Display`](fmt::Display) form is 16 lowercase hex digits, for stores that name
/// keys in text (a Redis key).
///
/// ```
/// use portcullis_rate_limit::key::Fingerprint;
/// let fingerprint = Fingerprint::from_u64(0xabc);
/// assert_eq!(fingerprint.to_string(), "0000000000000abc");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// A fingerprint from its bits.
    ///
    /// ```
    /// use portcullis_rate_limit::key::Fingerprint;
    /// assert_eq!(Fingerprint::from_u64(5).as_u64(), 5);
    /// ```
    pub const fn from_u64(bits: u64) -> Self {
        Self(bits)
    }

    /// The bits.
    ///
    /// ```
    /// use portcullis_rate_limit::key::Fingerprint;
    /// assert_eq!(Fingerprint::from_u64(u64::MAX).as_u64(), u64::MAX);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Lowercase hex, as [`Display`](fmt::Display).
///
/// ```
/// use portcullis_rate_limit::key::Fingerprint;
/// assert_eq!(format!("{:x}", Fingerprint::from_u64(0xabc)), "0000000000000abc");
/// ```
impl fmt::LowerHex for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_hash_like_the_streaming_hasher() {
        let data: Vec<u8> = (0..=BUFFER as u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..=BUFFER {
            let mut key = KeyBuilder::with_secret(b"0123456789abcdef");
            key.write(&data[..len]);
            let mut streaming = SipHasher13::new_with_key(b"0123456789abcdef");
            streaming.write(&data[..len]);
            assert_eq!(key.finish().as_u64(), streaming.finish(), "length {len}");
        }
    }

    #[test]
    fn long_keys_spill_into_the_same_function() {
        let data: Vec<u8> = (0..500u32).map(|i| (i * 31) as u8).collect();
        for split in [0, 1, 63, 64, 65, 200, 500] {
            let mut a = KeyBuilder::default();
            a.write_part(&data[..split]);
            a.write_part(&data[split..]);
            let mut b = KeyBuilder::default();
            b.push(&(split as u64).to_le_bytes());
            b.push(&data[..split]);
            b.push(&((data.len() - split) as u64).to_le_bytes());
            for chunk in data[split..].chunks(7) {
                b.push(chunk);
            }
            let mut stream = Vec::new();
            stream.extend_from_slice(&(split as u64).to_le_bytes());
            stream.extend_from_slice(&data[..split]);
            stream.extend_from_slice(&((data.len() - split) as u64).to_le_bytes());
            stream.extend_from_slice(&data[split..]);
            let one_shot = SipHasher13::new_with_keys(a.k0, a.k1).hash(&stream);
            let a = a.finish();
            assert_eq!(a, b.finish(), "split {split}");
            assert_eq!(a.as_u64(), one_shot, "split {split}");
        }
    }
}
