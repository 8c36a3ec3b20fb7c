//! The varying header values of one response: `RateLimit`'s text and the legacy
//! numbers, written on the stack and sharing one allocation (small numbers need none).

use bytes::Bytes;
use http::HeaderValue;

use super::mode::HeaderMode;

/// The varying header values of one response.
pub(super) struct Values {
    pub(super) ratelimit: Option<HeaderValue>,
    pub(super) remaining: HeaderValue,
    pub(super) reset: HeaderValue,
}

impl Values {
    /// The values for the quota named `quota` with `remaining` requests and `reset`
    /// seconds, as `mode` sends them: `"minute";r=59;t=1`, the legacy values slices of
    /// the same text.
    pub(super) fn new(mode: HeaderMode, quota: &str, remaining: u64, reset: u64) -> Self {
        let ietf = mode.ietf();
        let mut text = Text::default();
        if ietf {
            text.push(b"\"");
            text.push(quota.as_bytes());
            text.push(b"\";r=");
        }
        let remaining_at = text.push_number(remaining);
        if ietf {
            text.push(b";t=");
        }
        let reset_at = text.push_number(reset);
        let text = (ietf || remaining >= SMALL || reset >= SMALL).then(|| Bytes::from_owner(text));
        let number = |value: u64, at: std::ops::Range<usize>| match &text {
            Some(text) if value >= SMALL => HeaderValue::from_maybe_shared(text.slice(at))
                .unwrap_or_else(|_| HeaderValue::from(value)),
            _ => small_number(value),
        };
        Self {
            remaining: number(remaining, remaining_at),
            reset: number(reset, reset_at),
            ratelimit: text
                .filter(|_| ietf)
                .and_then(|text| HeaderValue::from_maybe_shared(text).ok()),
        }
    }
}

/// The varying header text of one response, written on the stack: a quoted quota name
/// (at most 64 bytes) and two numbers always fit.
struct Text {
    bytes: [u8; 128],
    len: usize,
}

impl Default for Text {
    fn default() -> Self {
        Self {
            bytes: [0; 128],
            len: 0,
        }
    }
}

impl Text {
    fn push(&mut self, bytes: &[u8]) {
        if let Some(slot) = self.bytes.get_mut(self.len..self.len + bytes.len()) {
            slot.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    /// Writes `value` in decimal; returns where it was written.
    fn push_number(&mut self, value: u64) -> std::ops::Range<usize> {
        let start = self.len;
        self.push(itoa::Buffer::new().format(value).as_bytes());
        start..self.len
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Numbers below this come from [`small_number`]'s table.
const SMALL: u64 = 64;

/// Header values of the numbers below [`SMALL`], checked at compile time.
static SMALL_NUMBERS: [HeaderValue; SMALL as usize] = {
    macro_rules! values {
        ($($text:literal)*) => { [$(HeaderValue::from_static($text)),*] };
    }
    values!(
        "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "10" "11" "12" "13" "14" "15" "16" "17" "18"
        "19" "20" "21" "22" "23" "24" "25" "26" "27" "28" "29" "30" "31" "32" "33" "34" "35"
        "36" "37" "38" "39" "40" "41" "42" "43" "44" "45" "46" "47" "48" "49" "50" "51" "52"
        "53" "54" "55" "56" "57" "58" "59" "60" "61" "62" "63"
    )
};

/// The header value of `value`: from the table when small, else formatted.
pub(super) fn small_number(value: u64) -> HeaderValue {
    match usize::try_from(value)
        .ok()
        .and_then(|index| SMALL_NUMBERS.get(index))
    {
        Some(value) => value.clone(),
        None => HeaderValue::from(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_come_from_the_table_and_large_ones_are_formatted() {
        assert_eq!(small_number(0), "0");
        assert_eq!(small_number(63), "63");
        assert_eq!(small_number(64), "64");
        assert_eq!(small_number(u64::MAX), u64::MAX.to_string().as_str());
    }

    #[test]
    fn legacy_values_share_the_ratelimit_text() {
        let values = Values::new(HeaderMode::Both, "minute", 299, 75);
        assert_eq!(values.ratelimit.unwrap(), "\"minute\";r=299;t=75");
        assert_eq!(values.remaining, "299");
        assert_eq!(values.reset, "75");
        let values = Values::new(HeaderMode::Legacy, "minute", 5, 1_000);
        assert_eq!(values.ratelimit, None);
        assert_eq!(
            (values.remaining, values.reset),
            ("5".parse().unwrap(), "1000".parse().unwrap())
        );
    }
}
