//! Parsing `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`, in one pass.

use http::HeaderName;

use crate::error::VerifyError;
use crate::scheme::{Encoding, TAG_LEN, parse_timestamp};

/// The `Stripe-Signature` header name.
pub(crate) static STRIPE_SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");

/// How many decoded `v1` signatures are kept inline; a header with more (never seen
/// from Stripe) is read again for the rest.
const INLINE: usize = 4;

/// The parts of a `Stripe-Signature` header the verification uses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParsedHeader<'h> {
    /// The timestamp's digits exactly as sent: they are what Stripe signed.
    pub(crate) timestamp_text: &'h [u8],
    pub(crate) timestamp: i64,
    /// How many `v1` items the header holds.
    pub(crate) candidates: usize,
    /// The first well-formed `v1` signatures, decoded.
    decoded: [[u8; TAG_LEN]; INLINE],
    decoded_len: usize,
    /// Whether more than `INLINE` `v1` items are present.
    overflow: bool,
    header: &'h [u8],
}

fn malformed(reason: &'static str) -> VerifyError {
    VerifyError::MalformedHeader {
        header: STRIPE_SIGNATURE.clone(),
        reason,
    }
}

/// The `key=value` items of a header, spaces around them trimmed; items without `=`
/// are skipped.
type Items<'a> = std::iter::FilterMap<
    std::slice::Split<'a, u8, fn(&u8) -> bool>,
    fn(&'a [u8]) -> Option<(&'a [u8], &'a [u8])>,
>;

fn is_comma(byte: &u8) -> bool {
    *byte == b','
}

fn key_value(item: &[u8]) -> Option<(&[u8], &[u8])> {
    let item = item.trim_ascii();
    let equals = item.iter().position(|&b| b == b'=')?;
    Some((&item[..equals], &item[equals + 1..]))
}

fn items(header: &[u8]) -> Items<'_> {
    header
        .split(is_comma as fn(&u8) -> bool)
        .filter_map(key_value as fn(&[u8]) -> Option<(&[u8], &[u8])>)
}

/// The length of `v1=` and a whole hex signature.
const V1_ITEM: usize = 3 + 2 * TAG_LEN;

impl<'h> ParsedHeader<'h> {
    pub(crate) fn parse(header: &'h [u8]) -> Result<Self, VerifyError> {
        let mut parsed = Self {
            timestamp_text: &[],
            timestamp: 0,
            candidates: 0,
            decoded: [[0; TAG_LEN]; INLINE],
            decoded_len: 0,
            overflow: false,
            header,
        };
        let mut timestamp = false;
        let len = header.len();
        let mut position = 0;
        while position < len {
            while position < len && header[position].is_ascii_whitespace() {
                position += 1;
            }
            let start = position;
            // The usual item, `v1=` and 64 hex digits, read without searching its end.
            // Only hex digits: 64 bytes holding a `,` are several items, read below.
            if header[start..].starts_with(b"v1=")
                && len - start >= V1_ITEM
                && header[start + 3..start + V1_ITEM]
                    .iter()
                    .all(u8::is_ascii_hexdigit)
            {
                let mut next = start + V1_ITEM;
                while next < len && header[next].is_ascii_whitespace() {
                    next += 1;
                }
                if next == len || header[next] == b',' {
                    parsed.candidate(&header[start + 3..start + V1_ITEM]);
                    position = next + 1;
                    continue;
                }
            }
            let end = header[start..]
                .iter()
                .position(|&b| b == b',')
                .map_or(len, |offset| start + offset);
            let item = header[start..end].trim_ascii();
            position = end + 1;
            let Some(equals) = item.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (key, value) = (&item[..equals], &item[equals + 1..]);
            match key {
                b"t" => {
                    if timestamp {
                        return Err(malformed("more than one timestamp `t=`"));
                    }
                    parsed.timestamp = parse_timestamp(value)
                        .ok_or_else(|| malformed("the timestamp `t=` is not a Unix time"))?;
                    parsed.timestamp_text = value;
                    timestamp = true;
                }
                b"v1" => parsed.candidate(value),
                _ => {}
            }
        }
        if !timestamp {
            return Err(if header.trim_ascii().is_empty() {
                malformed("empty")
            } else {
                malformed("no timestamp `t=`")
            });
        }
        if parsed.candidates == 0 {
            return Err(VerifyError::NoSignature { scheme: "v1" });
        }
        Ok(parsed)
    }

    fn candidate(&mut self, value: &[u8]) {
        self.candidates += 1;
        if let Some(tag) = Encoding::Hex.decode(value) {
            if self.decoded_len < INLINE {
                self.decoded[self.decoded_len] = tag;
                self.decoded_len += 1;
            } else {
                self.overflow = true;
            }
        }
    }

    /// Every well-formed `v1` signature, decoded; malformed ones are skipped (they
    /// match nothing anyway).
    pub(crate) fn v1(&self) -> Candidates<'_> {
        if self.overflow {
            Candidates::Reread(items(self.header))
        } else {
            Candidates::Inline(self.decoded[..self.decoded_len].iter())
        }
    }
}

/// The decoded `v1` signatures of a header.
#[derive(Clone, Debug)]
pub(crate) enum Candidates<'a> {
    Inline(std::slice::Iter<'a, [u8; TAG_LEN]>),
    Reread(Items<'a>),
}

impl Iterator for Candidates<'_> {
    type Item = [u8; TAG_LEN];

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Inline(iter) => iter.next().copied(),
            Self::Reread(items) => loop {
                let (key, value) = items.next()?;
                if key == b"v1"
                    && let Some(tag) = Encoding::Hex.decode(value)
                {
                    return Some(tag);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150";

    #[test]
    fn parses_spaces_several_v1_and_ignores_v0() {
        let header = format!("t=1700000000, v1={SIG},  v1=abcd, v0={SIG}, x=y,junk");
        let parsed = ParsedHeader::parse(header.as_bytes()).unwrap();
        assert_eq!(parsed.timestamp, 1_700_000_000);
        assert_eq!(parsed.timestamp_text, b"1700000000");
        assert_eq!(parsed.candidates, 2);
        assert_eq!(parsed.v1().count(), 1);
        // Trailing spaces before a comma, and at the end.
        let header = format!("v1={SIG} ,t=1 ,v1={SIG}  ");
        let parsed = ParsedHeader::parse(header.as_bytes()).unwrap();
        assert_eq!((parsed.timestamp, parsed.candidates), (1, 2));
        assert_eq!(parsed.v1().count(), 2);
    }

    #[test]
    fn many_signatures_are_all_read() {
        let mut header = String::from("t=1");
        for i in 0..10 {
            header.push_str(&format!(",v1={:064x}", i));
        }
        header.push_str(&format!(",junk,v1={SIG}"));
        let parsed = ParsedHeader::parse(header.as_bytes()).unwrap();
        assert_eq!(parsed.candidates, 11);
        let all: Vec<_> = parsed.v1().collect();
        assert_eq!(all.len(), 11);
        assert_eq!(hex::encode(all[10]), SIG);
    }

    /// Found by `fuzz/fuzz_targets/stripe_signature.rs`: the fast path took any 64
    /// bytes after `v1=` as one item, so a `,t=` inside them was never read and a
    /// second timestamp went unrefused.
    #[test]
    fn a_timestamp_inside_a_short_v1_item_is_still_read() {
        let header = format!("t=1,v1={SIG},v1=x,t=2{}", " ".repeat(59));
        let error = ParsedHeader::parse(header.as_bytes()).unwrap_err();
        assert_eq!(error.kind(), "malformed_header", "{header:?}");
    }

    #[test]
    fn refuses_what_cannot_be_verified() {
        let cases: [(&str, &str); 6] = [
            ("", "malformed_header"),
            ("   ", "malformed_header"),
            ("v1=aa", "malformed_header"),
            ("t=abc,v1=aa", "malformed_header"),
            ("t=1,t=2,v1=aa", "malformed_header"),
            ("t=1,v0=aa", "no_signature"),
        ];
        for (header, kind) in cases {
            let error = ParsedHeader::parse(header.as_bytes()).unwrap_err();
            assert_eq!(error.kind(), kind, "{header:?}");
        }
    }
}
