//! SipHash-1-3 with a 128-bit output over one buffer: the same function as
//! `siphasher::sip128::SipHasher13`, without the streaming bookkeeping, for the short
//! keys of the hot path. Tested equal to the streaming hasher.

#[inline(always)]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-1-3-128 of the first `len` bytes of `buffer`, whose following bytes are
/// zero: every word, the last one too, is read whole.
#[inline]
pub(super) fn sip13_128_padded(k0: u64, k1: u64, buffer: &[u8; 72], len: usize) -> u128 {
    let len = len.min(64);
    let mut v = init(k0, k1);
    let words = len / 8;
    for index in 0..words {
        let m = word(buffer, index);
        compress(&mut v, m);
    }
    let b = word(buffer, words) | ((len as u64 & 0xff) << 56);
    finalize(v, b)
}

#[inline(always)]
fn word(buffer: &[u8; 72], index: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&buffer[index * 8..index * 8 + 8]);
    u64::from_le_bytes(bytes)
}

#[inline(always)]
fn init(k0: u64, k1: u64) -> [u64; 4] {
    [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f83,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ]
}

#[inline(always)]
fn compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    round(v);
    v[0] ^= m;
}

#[inline(always)]
fn finalize(mut v: [u64; 4], b: u64) -> u128 {
    compress(&mut v, b);
    v[2] ^= 0xee;
    for _ in 0..3 {
        round(&mut v);
    }
    let h1 = v[0] ^ v[1] ^ v[2] ^ v[3];
    v[1] ^= 0xdd;
    for _ in 0..3 {
        round(&mut v);
    }
    let h2 = v[0] ^ v[1] ^ v[2] ^ v[3];
    u128::from(h1) | (u128::from(h2) << 64)
}

/// SipHash-1-3-128 of `bytes` under the key (`k0`, `k1`), as `h1 | h2 << 64`.
#[cfg(test)]
pub(super) fn sip13_128(k0: u64, k1: u64, bytes: &[u8]) -> u128 {
    let mut v = init(k0, k1);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        compress(&mut v, u64::from_le_bytes(word));
    }
    let tail = chunks.remainder();
    let mut last = [0; 8];
    last[..tail.len()].copy_from_slice(tail);
    finalize(
        v,
        u64::from_le_bytes(last) | ((bytes.len() as u64 & 0xff) << 56),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use siphasher::sip128::{Hasher128, SipHasher13};
    use std::hash::Hasher;

    #[test]
    fn equals_the_streaming_hasher_for_every_length() {
        let key = *b"0123456789abcdef";
        let k0 = u64::from_le_bytes(key[..8].try_into().unwrap());
        let k1 = u64::from_le_bytes(key[8..].try_into().unwrap());
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            let mut streaming = SipHasher13::new_with_key(&key);
            streaming.write(&data[..len]);
            let expected = streaming.finish128().as_u128();
            assert_eq!(sip13_128(k0, k1, &data[..len]), expected, "length {len}");
            if len <= 64 {
                let mut buffer = [0; 72];
                buffer[..len].copy_from_slice(&data[..len]);
                assert_eq!(
                    sip13_128_padded(k0, k1, &buffer, len),
                    expected,
                    "padded {len}"
                );
            }
        }
    }
}
