//! Precomputed HMAC-SHA256 key states and the constant-time comparison of candidates.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The length of an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// One keyed HMAC state per named secret: the key is absorbed once, at build time,
/// and each verification clones the state instead of re-keying.
#[derive(Clone)]
pub(crate) struct KeySet {
    keys: Arc<[(Arc<str>, Hmac<Sha256>)]>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(name, _)| name))
            .finish()
    }
}

impl KeySet {
    pub(crate) fn new<'a>(keys: impl IntoIterator<Item = (Arc<str>, &'a [u8])>) -> Self {
        let keys: Vec<_> = keys
            .into_iter()
            .map(|(name, key)| {
                // HMAC takes keys of any length.
                let mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
                (name, mac)
            })
            .collect();
        Self { keys: keys.into() }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The tag of the concatenation of `parts` under the key at `index`.
    pub(crate) fn tag(&self, index: usize, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        self.tag_with(index, |mac| {
            for part in parts {
                mac.update(part);
            }
        })
    }

    /// The tag of what `feed` writes into the MAC, under the key at `index`.
    pub(crate) fn tag_with(&self, index: usize, feed: impl Fn(&mut Hmac<Sha256>)) -> [u8; TAG_LEN] {
        let mut mac = self.keys[index].1.clone();
        feed(&mut mac);
        mac.finalize().into_bytes().into()
    }

    /// The name of the first secret whose tag of `parts` equals one of the candidates.
    pub(crate) fn find(
        &self,
        parts: &[&[u8]],
        candidates: impl Iterator<Item = [u8; TAG_LEN]> + Clone,
    ) -> Option<&Arc<str>> {
        self.find_with(
            |mac| {
                for part in parts {
                    mac.update(part);
                }
            },
            candidates,
        )
    }

    /// The name of the first secret whose tag of what `feed` writes equals one of the
    /// candidates. Every candidate is compared with every tag, each comparison in
    /// constant time.
    pub(crate) fn find_with(
        &self,
        feed: impl Fn(&mut Hmac<Sha256>),
        candidates: impl Iterator<Item = [u8; TAG_LEN]> + Clone,
    ) -> Option<&Arc<str>> {
        let mut found = None;
        for (index, (name, _)) in self.keys.iter().enumerate() {
            let tag = self.tag_with(index, &feed);
            let mut matched = subtle::Choice::from(0);
            for candidate in candidates.clone() {
                matched |= tag.ct_eq(&candidate);
            }
            if found.is_none() && bool::from(matched) {
                found = Some(name);
            }
        }
        found
    }
}

/// How a signature is written in its header.
///
/// ```
/// use portcullis_stripe_webhook::scheme::Encoding;
/// assert_eq!(Encoding::default(), Encoding::Hex);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Encoding {
    /// Hexadecimal, either case.
    #[default]
    Hex,
    /// Standard base64, padded or not.
    Base64,
}

impl Encoding {
    /// Decodes one signature; `None` unless it is exactly a 32-byte tag.
    pub(crate) fn decode(self, text: &[u8]) -> Option<[u8; TAG_LEN]> {
        let mut tag = [0; TAG_LEN];
        match self {
            Self::Hex => hex::decode_to_slice(text, &mut tag).ok()?,
            Self::Base64 => {
                let text = trim_padding(text);
                if text.len() != 43 {
                    return None;
                }
                let mut buffer = [0; 33];
                let written = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode_slice(text, &mut buffer)
                    .ok()?;
                if written != TAG_LEN {
                    return None;
                }
                tag.copy_from_slice(&buffer[..TAG_LEN]);
            }
        }
        Some(tag)
    }

    /// Encodes a tag (hex in lowercase, base64 padded).
    pub(crate) fn encode(self, tag: &[u8]) -> String {
        match self {
            Self::Hex => hex::encode(tag),
            Self::Base64 => base64::engine::general_purpose::STANDARD.encode(tag),
        }
    }
}

fn trim_padding(text: &[u8]) -> &[u8] {
    let mut end = text.len();
    while end > 0 && text[end - 1] == b'=' {
        end -= 1;
    }
    &text[..end]
}

/// Decodes a base64 secret, padded or not.
pub(crate) fn decode_base64_secret(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::STANDARD_NO_PAD.decode(trim_padding(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_only_whole_tags() {
        let hex = "4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150";
        assert!(Encoding::Hex.decode(hex.as_bytes()).is_some());
        assert!(
            Encoding::Hex
                .decode(hex.to_uppercase().as_bytes())
                .is_some()
        );
        assert!(Encoding::Hex.decode(&hex.as_bytes()[2..]).is_none());
        assert!(Encoding::Hex.decode(b"zz").is_none());
        let b64 = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(Encoding::Base64.decode(b64.as_bytes()).is_some());
        assert!(Encoding::Base64.decode(&b64.as_bytes()[..43]).is_some());
        assert!(Encoding::Base64.decode(b"AAAA").is_none());
        assert!(Encoding::Base64.decode(&[0xff; 43]).is_none());
    }

    #[test]
    fn find_names_the_matching_secret() {
        let keys = KeySet::new([
            (Arc::from("old"), &b"k1"[..]),
            (Arc::from("new"), &b"k2"[..]),
        ]);
        let tag = keys.tag(1, &[b"a", b"b"]);
        let other = [0u8; TAG_LEN];
        let found = keys.find(&[b"ab"], [other, tag].into_iter());
        assert_eq!(found.map(|n| &**n), Some("new"));
        assert!(keys.find(&[b"ab"], [other].into_iter()).is_none());
    }
}
