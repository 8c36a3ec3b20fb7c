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
                matched |= tags_equal(&tag, &candidate);
            }
            if found.is_none() && bool::from(matched) {
                found = Some(name);
            }
        }
        found
    }
}

/// Whether two tags are equal, in constant time: the words' differences are OR-ed
/// without a branch, and `subtle` compares the result with zero.
fn tags_equal(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> subtle::Choice {
    let mut difference = 0u64;
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().unwrap_or([0; 8]));
        difference |= word(a) ^ word(b);
    }
    difference.ct_eq(&0)
}

/// The value of each hexadecimal digit, either case; `0xff` for anything else.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Decodes 64 hex digits into a tag, by table, without branching per digit.
pub(crate) fn decode_hex_tag(text: &[u8]) -> Option<[u8; TAG_LEN]> {
    let text: &[u8; 2 * TAG_LEN] = text.try_into().ok()?;
    let mut tag = [0; TAG_LEN];
    let mut invalid = 0;
    for (i, byte) in tag.iter_mut().enumerate() {
        let high = HEX_VALUES[usize::from(text[2 * i])];
        let low = HEX_VALUES[usize::from(text[2 * i + 1])];
        invalid |= high | low;
        *byte = (high << 4) | (low & 0x0f);
    }
    (invalid & 0xf0 == 0).then_some(tag)
}

/// How a signature is written in its header.
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
            Self::Hex => return decode_hex_tag(text),
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
    fn hex_table_matches_the_hex_crate() {
        for _ in 0..64 {
            let bytes: [u8; TAG_LEN] = std::array::from_fn(|i| (i * 37 + 11) as u8);
            let text = hex::encode(bytes);
            assert_eq!(decode_hex_tag(text.as_bytes()), Some(bytes));
            assert_eq!(decode_hex_tag(text.to_uppercase().as_bytes()), Some(bytes));
        }
        for bad in [b'g', b' ', b'-', 0xff, b'G', b':', b'/', b'@', b'`'] {
            let mut text = hex::encode([0u8; TAG_LEN]).into_bytes();
            text[17] = bad;
            assert_eq!(decode_hex_tag(&text), None, "{bad}");
        }
    }

    #[test]
    fn tags_compare_by_every_byte() {
        let a = [7u8; TAG_LEN];
        assert!(bool::from(tags_equal(&a, &a)));
        for i in 0..TAG_LEN {
            let mut b = a;
            b[i] ^= 1;
            assert!(!bool::from(tags_equal(&a, &b)));
        }
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
