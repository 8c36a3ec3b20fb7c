//! Parsing `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`.

use http::HeaderName;

use crate::error::VerifyError;
use crate::scheme::{Encoding, TAG_LEN, parse_timestamp};

/// The `Stripe-Signature` header name.
pub(crate) static STRIPE_SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");

/// The parts of a `Stripe-Signature` header the verification uses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParsedHeader<'h> {
    /// The timestamp's digits exactly as sent: they are what Stripe signed.
    pub(crate) timestamp_text: &'h [u8],
    pub(crate) timestamp: i64,
    /// How many `v1` items the header holds.
    pub(crate) candidates: usize,
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
fn items(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
    header.split(|&b| b == b',').filter_map(|item| {
        let item = item.trim_ascii();
        let equals = item.iter().position(|&b| b == b'=')?;
        Some((&item[..equals], &item[equals + 1..]))
    })
}

impl<'h> ParsedHeader<'h> {
    pub(crate) fn parse(header: &'h [u8]) -> Result<Self, VerifyError> {
        if header.trim_ascii().is_empty() {
            return Err(malformed("empty"));
        }
        let mut timestamp = None;
        let mut candidates = 0;
        for (key, value) in items(header) {
            match key {
                b"t" => {
                    if timestamp.is_some() {
                        return Err(malformed("more than one timestamp `t=`"));
                    }
                    let parsed = parse_timestamp(value)
                        .ok_or_else(|| malformed("the timestamp `t=` is not a Unix time"))?;
                    timestamp = Some((value, parsed));
                }
                b"v1" => candidates += 1,
                _ => {}
            }
        }
        let (timestamp_text, timestamp) =
            timestamp.ok_or_else(|| malformed("no timestamp `t=`"))?;
        if candidates == 0 {
            return Err(VerifyError::NoSignature { scheme: "v1" });
        }
        Ok(Self {
            timestamp_text,
            timestamp,
            candidates,
            header,
        })
    }

    /// Every well-formed `v1` signature, decoded; malformed ones are skipped (they
    /// match nothing anyway).
    pub(crate) fn v1(&self) -> impl Iterator<Item = [u8; TAG_LEN]> + Clone + 'h {
        items(self.header)
            .filter(|(key, _)| *key == b"v1")
            .filter_map(|(_, value)| Encoding::Hex.decode(value))
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
