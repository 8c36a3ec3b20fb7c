//! Base62 (`0-9A-Za-z`, in ASCII order) for key bodies, checksums and ids.
//!
//! Bytes are encoded as one big-endian number, written with a fixed number of digits
//! (the fewest that can hold any value of that many bytes), most significant first and
//! padded with `0`. Checksums are a `u32` in exactly [`CHECKSUM_LEN`] digits.

/// The digits, in ASCII order so encoded values sort like the numbers they hold.
pub(crate) const ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Digits of a checksum: 62^6 > 2^32.
pub(crate) const CHECKSUM_LEN: usize = 6;

/// The largest number of bytes [`encode_bytes`] takes (512 bits).
pub(crate) const MAX_BYTES: usize = 64;

/// Not a base62 digit, in [`DECODE`].
const INVALID: u8 = 0xff;

/// The value of each byte as a base62 digit, or [`INVALID`].
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// The value of `byte` as a base62 digit.
#[inline]
pub(crate) fn digit(byte: u8) -> Option<u8> {
    match DECODE[usize::from(byte)] {
        INVALID => None,
        value => Some(value),
    }
}

/// Whether every byte is a base62 digit.
#[inline]
pub(crate) fn all_digits(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| DECODE[usize::from(b)] != INVALID)
}

/// How many digits encode any value of `bytes` bytes: the least `n` with
/// 62^n ≥ 256^bytes.
pub(crate) const fn encoded_len(bytes: usize) -> usize {
    // log2(62) = 5.954196310386876: n = ceil(8 * bytes / log2(62)), computed in
    // fixed point with 30 fractional bits (exact for every length up to MAX_BYTES, as
    // `encoded_len_is_the_least_that_fits` checks against the big-number arithmetic).
    const LOG2_62_FIXED: u64 = 6_393_269_607; // ceil(log2(62) * 2^30)
    let bits = (bytes as u64 * 8) << 30;
    bits.div_ceil(LOG2_62_FIXED) as usize
}

/// Appends `bytes` (at most [`MAX_BYTES`]) to `out` as exactly
/// `encoded_len(bytes.len())` digits. The working copy of the number is wiped.
pub(crate) fn encode_bytes(bytes: &[u8], out: &mut String) {
    debug_assert!(bytes.len() <= MAX_BYTES);
    let len = encoded_len(bytes.len());
    let mut number = zeroize::Zeroizing::new([0u8; MAX_BYTES]);
    let number = &mut number[..bytes.len()];
    number.copy_from_slice(bytes);
    let mut digits = zeroize::Zeroizing::new([0u8; encoded_len(MAX_BYTES)]);
    // Long division by 62, least significant digit first.
    for slot in digits[..len].iter_mut().rev() {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            remainder = acc % 62;
        }
        *slot = ALPHABET[remainder as usize];
    }
    debug_assert!(number.iter().all(|&b| b == 0), "encoded_len too small");
    out.extend(digits[..len].iter().map(|&d| char::from(d)));
}

/// Appends `value` as exactly [`CHECKSUM_LEN`] digits.
pub(crate) fn encode_u32(value: u32, out: &mut String) {
    let mut digits = [b'0'; CHECKSUM_LEN];
    let mut rest = u64::from(value);
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(rest % 62) as usize];
        rest /= 62;
    }
    out.extend(digits.iter().map(|&d| char::from(d)));
}

/// The value of [`CHECKSUM_LEN`] digits; `None` if one is not a digit. The result may
/// exceed `u32::MAX` (62^6 > 2^32): such a value matches no checksum.
#[inline]
pub(crate) fn decode_checksum(digits: &[u8; CHECKSUM_LEN]) -> Option<u64> {
    let mut value = 0u64;
    for &byte in digits {
        value = value * 62 + u64::from(digit(byte)?);
    }
    Some(value)
}

/// The `bytes`-byte number that `digits` encode; `None` if one is not a digit or the
/// value needs more than `bytes` bytes. The inverse of [`encode_bytes`].
#[cfg(test)]
pub(crate) fn decode_bytes(digits: &str, bytes: usize) -> Option<Vec<u8>> {
    let mut number = vec![0u8; bytes];
    for byte in digits.bytes() {
        let mut carry = u32::from(digit(byte)?);
        for slot in number.iter_mut().rev() {
            let acc = u32::from(*slot) * 62 + carry;
            *slot = acc as u8;
            carry = acc >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn alphabet_is_in_ascii_order_and_decodes() {
        assert!(ALPHABET.windows(2).all(|w| w[0] < w[1]));
        for (value, &byte) in ALPHABET.iter().enumerate() {
            assert_eq!(digit(byte), Some(value as u8));
        }
        assert_eq!(digit(b'_'), None);
        assert_eq!(digit(b'-'), None);
        assert_eq!(digit(0xff), None);
    }

    #[test]
    fn encoded_len_is_the_least_that_fits() {
        for bytes in 1..=MAX_BYTES {
            let len = encoded_len(bytes);
            // The largest value needs every digit: its first digit is not `0`.
            let mut out = String::new();
            encode_bytes(&vec![0xff; bytes], &mut out);
            assert_eq!(out.len(), len, "{bytes} bytes");
            assert_ne!(out.as_bytes()[0], b'0', "{bytes} bytes: one digit too many");
            assert_eq!(decode_bytes(&out, bytes), Some(vec![0xff; bytes]));
        }
        assert_eq!(encoded_len(16), 22);
        assert_eq!(encoded_len(32), 43);
        assert_eq!(encoded_len(64), 86);
    }

    #[test]
    fn known_values() {
        let mut out = String::new();
        encode_u32(0, &mut out);
        encode_u32(61, &mut out);
        encode_u32(62, &mut out);
        encode_u32(u32::MAX, &mut out);
        assert_eq!(out, "00000000000z0000104gfFC3");
        let mut out = String::new();
        encode_bytes(&[0, 0, 1, 0], &mut out);
        assert_eq!(out, "000048"); // 256 = 4 × 62 + 8
    }

    proptest! {
        #[test]
        fn bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 1..=MAX_BYTES)) {
            let mut out = String::new();
            encode_bytes(&bytes, &mut out);
            prop_assert_eq!(out.len(), encoded_len(bytes.len()));
            prop_assert!(all_digits(out.as_bytes()));
            prop_assert_eq!(decode_bytes(&out, bytes.len()), Some(bytes));
        }

        #[test]
        fn checksums_round_trip(value in any::<u32>()) {
            let mut out = String::new();
            encode_u32(value, &mut out);
            let digits: [u8; CHECKSUM_LEN] = out.as_bytes().try_into().unwrap();
            prop_assert_eq!(decode_checksum(&digits), Some(u64::from(value)));
        }

        #[test]
        fn encoding_preserves_order(a in any::<u32>(), b in any::<u32>()) {
            let (mut x, mut y) = (String::new(), String::new());
            encode_u32(a, &mut x);
            encode_u32(b, &mut y);
            prop_assert_eq!(a.cmp(&b), x.cmp(&y));
        }
    }
}
