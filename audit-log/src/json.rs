//! A small streaming JSON writer for records: no intermediate values, keys written once.

use std::cell::Cell;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Writes one JSON object, tracking commas per nesting level.
///
/// Allocation-free: the nesting is a bit stack (one bit per open object: whether a
/// member was written in it already), so objects nest at most 64 deep.
pub(crate) struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Bit `n`: whether the object at depth `n` has a member already.
    written: u64,
    /// Open objects.
    depth: u32,
}

impl<'a> JsonWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self {
            out,
            written: 0,
            depth: 1,
        }
    }

    #[inline]
    fn comma(&mut self) {
        if self.depth == 0 {
            return;
        }
        let bit = 1u64 << (self.depth - 1);
        if self.written & bit == 0 {
            self.written |= bit;
        } else {
            self.out.push(b',');
        }
    }

    #[inline]
    fn key(&mut self, key: &str) {
        self.comma();
        write_str(self.out, key);
        self.out.push(b':');
    }

    /// Members known in advance, already encoded (`"a":1,"b":"c"`).
    #[inline]
    pub(crate) fn raw(&mut self, members: &str) {
        self.comma();
        self.out.extend_from_slice(members.as_bytes());
    }

    /// Opens a nested object member.
    #[inline]
    pub(crate) fn open(&mut self, key: &str) {
        debug_assert!(self.depth < 64, "JSON objects nest at most 64 deep");
        self.key(key);
        self.out.push(b'{');
        self.depth += 1;
        self.written &= !(1u64 << (self.depth - 1));
    }

    /// Closes the innermost object.
    #[inline]
    pub(crate) fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.out.push(b'}');
    }

    #[inline]
    pub(crate) fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        write_str(self.out, value);
    }

    /// A string member whose value is the concatenation of `parts`.
    pub(crate) fn str_concat(&mut self, key: &str, parts: &[&str]) {
        self.key(key);
        self.out.push(b'"');
        for part in parts {
            write_str_content(self.out, part);
        }
        self.out.push(b'"');
    }

    /// A string member whose value is known to need no escaping (digits, hex,
    /// timestamps), written as is.
    pub(crate) fn plain_str(&mut self, key: &str, value: &[u8]) {
        debug_assert!(value.iter().all(|&byte| ESCAPE[usize::from(byte)] == 0));
        self.key(key);
        self.out.push(b'"');
        self.out.extend_from_slice(value);
        self.out.push(b'"');
    }

    /// An RFC 3339 timestamp member (see [`write_rfc3339`]).
    pub(crate) fn timestamp(&mut self, key: &str, time: SystemTime) {
        self.key(key);
        self.out.push(b'"');
        write_rfc3339(self.out, time);
        self.out.push(b'"');
    }

    #[inline]
    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    #[inline]
    pub(crate) fn u64(&mut self, key: &str, value: u64) {
        self.key(key);
        write_u64(self.out, value);
    }

    #[inline]
    pub(crate) fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    pub(crate) fn str_array<'v>(&mut self, key: &str, values: impl IntoIterator<Item = &'v str>) {
        self.key(key);
        self.out.push(b'[');
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.out.push(b',');
            }
            write_str(self.out, value);
        }
        self.out.push(b']');
    }

    /// Closes the outermost object.
    pub(crate) fn finish(mut self) {
        while self.depth > 0 {
            self.close();
        }
    }
}

/// For each byte: 0 when it stands for itself in a JSON string, else the character
/// after the backslash of its short escape, or `u` for `\u00XX`.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x7f] = b'u';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table
};

/// Writes `value` as a JSON string.
#[inline]
pub(crate) fn write_str(out: &mut Vec<u8>, value: &str) {
    out.reserve(value.len() + 2);
    out.push(b'"');
    write_str_content(out, value);
    out.push(b'"');
}

/// Writes `value` escaped, without the quotes.
#[inline]
fn write_str_content(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    // Most strings need no escaping: find the first byte that does, eight at a time.
    let mut clean = 0;
    while clean + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[clean..clean + 8]);
        if needs_escape(u64::from_le_bytes(word)) {
            break;
        }
        clean += 8;
    }
    while clean < bytes.len() && ESCAPE[usize::from(bytes[clean])] == 0 {
        clean += 1;
    }
    out.extend_from_slice(&bytes[..clean]);
    if clean < bytes.len() {
        write_escaped(out, &bytes[clean..]);
    }
}

/// Whether any of the eight bytes in `word` is below 0x20, `"`, `\\` or 0x7f.
#[inline]
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
    below_space
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
        || has_zero(word ^ (ONES * 0x7f))
}

/// The escaping loop, from the first byte that may need it.
#[cold]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..index]);
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(DIGITS[usize::from(byte >> 4)]);
            out.push(DIGITS[usize::from(byte & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Writes `value` in decimal.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends the lower-case hex of `bytes` to `out`.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
}

/// `fmt::Write` into a byte buffer.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    push_hex(&mut text, bytes);
    text
}

/// Bytes from hex (either case); `None` on odd length or a non-hex digit.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn split(time: SystemTime) -> (i64, u32, u32, u64, u64, u64, u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (
        year,
        month,
        day,
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        since.subsec_micros(),
    )
}

/// RFC 3339 UTC with microseconds: `2025-01-31T12:00:00.123456Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let mut out = Vec::with_capacity(27);
    write_rfc3339(&mut out, time);
    // Digits and ASCII punctuation only.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`rfc3339`] of `time` to `out`, without allocating.
pub(crate) fn write_rfc3339(out: &mut Vec<u8>, time: SystemTime) {
    thread_local! {
        /// The second last written on this thread, as `YYYY-MM-DDTHH:MM:SS`: records
        /// come many to the second.
        static SECOND: Cell<Option<(u64, [u8; 19])>> = const { Cell::new(None) };
    }
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    match SECOND.get() {
        Some((cached, prefix)) if cached == secs => out.extend_from_slice(&prefix),
        _ => {
            let start = out.len();
            write_second(out, time);
            if let Ok(prefix) = <[u8; 19]>::try_from(&out[start..]) {
                SECOND.set(Some((secs, prefix)));
            }
        }
    }
    out.push(b'.');
    push_digits(out, u64::from(since.subsec_micros()), 6);
    out.push(b'Z');
}

/// `YYYY-MM-DDTHH:MM:SS` of `time`.
fn write_second(out: &mut Vec<u8>, time: SystemTime) {
    let (y, mo, d, h, mi, s, _) = split(time);
    if (0..10_000).contains(&y) {
        push_digits(out, y as u64, 4);
    } else {
        // Outside RFC 3339's range; written as `format!("{y:04}")` would.
        let _ = write!(VecWriter(out), "{y:04}");
    }
    out.push(b'-');
    push_digits(out, u64::from(mo), 2);
    out.push(b'-');
    push_digits(out, u64::from(d), 2);
    out.push(b'T');
    push_digits(out, h, 2);
    out.push(b':');
    push_digits(out, mi, 2);
    out.push(b':');
    push_digits(out, s, 2);
}

/// Appends the last `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let mut digits = [b'0'; 8];
    for at in (0..width).rev() {
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// Compact UTC for file names: `20250131T120000Z`.
pub(crate) fn compact(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s, _) = split(time);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let time = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(rfc3339(time), "2023-11-14T22:13:20.123456Z");
        assert_eq!(compact(time), "20231114T221320Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(compact(leap), "20000229T000000Z");
    }

    #[test]
    fn strings_are_escaped_and_parse_back() {
        let mut out = Vec::new();
        let mut writer = JsonWriter::new(&mut out);
        writer.str("a\"b", "line\nbreak \u{1} \\ é");
        writer.open("n");
        writer.u64("x", 42);
        writer.bool("y", true);
        writer.str_array("z", ["p", "q"]);
        writer.close();
        writer.finish();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["a\"b"], "line\nbreak \u{1} \\ é");
        assert_eq!(value["n"]["x"], 42);
        assert_eq!(value["n"]["z"][1], "q");
    }

    /// The escaping as first written: a `match` per byte and `format!` for `\u00XX`.
    fn reference_str(value: &str) -> Vec<u8> {
        let mut out = vec![b'"'];
        for &byte in value.as_bytes() {
            match byte {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
                _ => out.push(byte),
            }
        }
        out.push(b'"');
        out
    }

    #[test]
    fn every_byte_is_escaped_as_before() {
        for code in 0u32..0x800 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let text = format!("a{c}b{c}");
            let mut out = Vec::new();
            write_str(&mut out, &text);
            assert_eq!(out, reference_str(&text), "U+{code:04X}");
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, text);
        }
    }

    proptest::proptest! {
        #[test]
        fn long_strings_are_escaped_as_before(text in "[\\x00-\\x7f\"\\\\aé€😀]{0,80}") {
            let mut out = Vec::new();
            write_str(&mut out, &text);
            proptest::prop_assert_eq!(out, reference_str(&text));
        }

        #[test]
        fn one_escape_anywhere_in_clean_text_is_found(
            before in "[a-z0-9 /é]{0,40}",
            special in "[\\x00-\\x1f\"\\\\\\x7f]",
            after in "[a-z0-9 /é]{0,40}",
        ) {
            let text = format!("{before}{special}{after}");
            let mut out = Vec::new();
            write_str(&mut out, &text);
            proptest::prop_assert_eq!(out, reference_str(&text));
        }
    }

    #[test]
    fn numbers_and_timestamps_match_the_formatter() {
        for value in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, value);
            assert_eq!(out, value.to_string().into_bytes());
        }
        let mut micros = 0u64;
        while micros < 300_000_000_000_000_000 {
            let time = UNIX_EPOCH + Duration::from_micros(micros);
            let (y, mo, d, h, mi, s, us) = split(time);
            let expected = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z");
            assert_eq!(rfc3339(time), expected);
            micros = micros * 3 + 7_777_777;
        }
    }

    #[test]
    fn timestamps_in_one_second_share_the_cached_part() {
        let second = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let times = [
            second + Duration::from_micros(1),
            second + Duration::from_micros(999_999),
            second + Duration::from_secs(1),
            second,
            UNIX_EPOCH + Duration::from_secs(400_000_000_000),
            second + Duration::from_micros(7),
        ];
        for time in times {
            let (y, mo, d, h, mi, s, us) = split(time);
            let expected = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z");
            assert_eq!(rfc3339(time), expected);
        }
    }

    #[test]
    fn nesting_tracks_commas_per_level() {
        let mut out = Vec::new();
        let mut writer = JsonWriter::new(&mut out);
        writer.open("a");
        writer.open("b");
        writer.close();
        writer.u64("c", 1);
        writer.close();
        writer.open("d");
        writer.str_concat("e", &["x\"", ":", "y"]);
        writer.close();
        writer.str_array("f", ["1", "2"]);
        writer.finish();
        assert_eq!(
            out,
            br#"{"a":{"b":{},"c":1},"d":{"e":"x\":y"},"f":["1","2"]}"#
        );
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex("00AB10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }
}
