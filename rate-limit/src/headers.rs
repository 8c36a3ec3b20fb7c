//! The rate-limit response headers.
//!
//! - IETF [draft-ietf-httpapi-ratelimit-headers]: `RateLimit-Policy` lists every quota
//!   of the plan (`"minute";q=60;w=60, "day";q=1000;w=86400`), `RateLimit` reports the
//!   most constraining one (`"minute";r=0;t=42`: remaining and seconds to reset).
//! - Legacy: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds
//!   until reset) of the most constraining quota.
//! - [`Retry-After`](https://developer.mozilla.org/docs/Web/HTTP/Headers/Retry-After)
//!   on every 429, in whole seconds rounded up, so never earlier than the reset.
//!
//! Seconds are always rounded up. The most constraining quota is, when denied, the
//! denying quota with the longest wait; when allowed, the one with the least remaining.
//!
//! [draft-ietf-httpapi-ratelimit-headers]: https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
//!
//! # Example
//!
//! ```
//! use portcullis_rate_limit::headers::HeaderMode;
//! assert_eq!(HeaderMode::default(), HeaderMode::Both);
//! let mode: HeaderMode = serde_json::from_str("\"ietf\"").unwrap();
//! assert_eq!(mode, HeaderMode::Ietf);
//! ```

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use crate::decision::Decision;

/// `RateLimit-Policy`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::RATELIMIT_POLICY.as_str(), "ratelimit-policy");
/// ```
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::RATELIMIT.as_str(), "ratelimit");
/// ```
pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// `X-RateLimit-Limit`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::X_RATELIMIT_LIMIT.as_str(), "x-ratelimit-limit");
/// ```
pub static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `X-RateLimit-Remaining`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::X_RATELIMIT_REMAINING.as_str(), "x-ratelimit-remaining");
/// ```
pub static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `X-RateLimit-Reset`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::X_RATELIMIT_RESET.as_str(), "x-ratelimit-reset");
/// ```
pub static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// `X-RateLimit-Degraded`: on responses to requests limited while the store could
/// not answer, when [enabled](crate::layer::RateLimitLayer::degraded_header); its value
/// is the [`Degraded`](crate::decision::Degraded) mode: `fail-open`, `fail-closed` or
/// `fallback`.
///
/// ```
/// assert_eq!(portcullis_rate_limit::headers::X_RATELIMIT_DEGRADED.as_str(), "x-ratelimit-degraded");
/// ```
pub static X_RATELIMIT_DEGRADED: HeaderName = HeaderName::from_static("x-ratelimit-degraded");

/// Which rate-limit headers responses carry.
///
/// ```
/// use portcullis_rate_limit::{headers::HeaderMode, layer::RateLimitLayer};
/// let layer = RateLimitLayer::new().headers(HeaderMode::Legacy);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeaderMode {
    /// `RateLimit-Policy` and `RateLimit` (IETF draft).
    Ietf,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`.
    Legacy,
    /// Both sets.
    #[default]
    Both,
    /// None (`Retry-After` is still sent on 429).
    None,
}

impl HeaderMode {
    fn ietf(self) -> bool {
        matches!(self, Self::Ietf | Self::Both)
    }

    fn legacy(self) -> bool {
        matches!(self, Self::Legacy | Self::Both)
    }
}

/// Writes the headers of `decision` into `headers`; `Retry-After` when `rejected`.
///
/// Values that never change per plan (`RateLimit-Policy`, `X-RateLimit-Limit`) were
/// built with the plan; the varying numbers are written on the stack and share one
/// allocation (small numbers need none), and the map grows at most once.
pub(crate) fn apply(
    mode: HeaderMode,
    decision: &Decision,
    headers: &mut HeaderMap,
    rejected: bool,
) {
    let retry_after = if rejected {
        decision.retry_after_secs()
    } else {
        None
    };
    let index = decision.most_constraining_index();
    let quota = index.and_then(|index| Some((index, decision.plan().quotas().get(index)?)));
    let status = index.and_then(|index| decision.outcome().statuses().get(index));
    let (ietf, legacy) = (mode.ietf(), mode.legacy());
    let Some(((index, quota), status)) = quota.zip(status).filter(|_| ietf || legacy) else {
        if let Some(retry_after) = retry_after {
            headers.insert(RETRY_AFTER, small_number(retry_after));
        }
        return;
    };
    // Room for these headers and the `Content-Length` the framework adds after us, so
    // a map too small for them all grows once, before it holds them.
    headers.reserve(
        usize::from(ietf) * 2 + usize::from(legacy) * 3 + usize::from(retry_after.is_some()) + 1,
    );
    let reset = if decision.allowed() {
        status.reset_secs()
    } else {
        status.retry_after_secs()
    };
    let remaining = status.remaining();
    // `"minute";r=59;t=1`; the legacy values are slices of the same text.
    let mut text = Text::default();
    if ietf {
        text.push(b"\"");
        text.push(quota.name().as_bytes());
        text.push(b"\";r=");
    }
    let remaining_at = text.push_number(remaining);
    if ietf {
        text.push(b";t=");
    }
    let reset_at = text.push_number(reset);
    let mut text = (ietf || remaining >= SMALL || reset >= SMALL).then(|| Bytes::from_owner(text));
    if ietf {
        headers.insert(
            RATELIMIT_POLICY.clone(),
            decision.plan().policy_header().clone(),
        );
        // Shared with the legacy values, else handed over.
        let ratelimit = if legacy { text.clone() } else { text.take() };
        if let Some(ratelimit) = ratelimit
            && let Ok(value) = HeaderValue::from_maybe_shared(ratelimit)
        {
            headers.insert(RATELIMIT.clone(), value);
        }
    }
    if legacy {
        if let Some(limit) = decision.plan().limit_header(index) {
            headers.insert(X_RATELIMIT_LIMIT.clone(), limit.clone());
        }
        let number = |value: u64, at: std::ops::Range<usize>| match &text {
            Some(text) if value >= SMALL => HeaderValue::from_maybe_shared(text.slice(at))
                .unwrap_or_else(|_| HeaderValue::from(value)),
            _ => small_number(value),
        };
        headers.insert(
            X_RATELIMIT_REMAINING.clone(),
            number(remaining, remaining_at),
        );
        headers.insert(X_RATELIMIT_RESET.clone(), number(reset, reset_at));
    }
    if let Some(retry_after) = retry_after {
        headers.insert(RETRY_AFTER, small_number(retry_after));
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

/// Header values of small numbers come from a table built at compile time.
fn small_number(value: u64) -> HeaderValue {
    const DIGITS: [&str; SMALL as usize] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
        "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31",
        "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46",
        "47", "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "60", "61",
        "62", "63",
    ];
    match usize::try_from(value)
        .ok()
        .and_then(|index| DIGITS.get(index))
    {
        Some(text) => HeaderValue::from_static(text),
        None => HeaderValue::from(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::QuotaState;
    use crate::plan::Plan;
    use std::sync::Arc;

    const DAY: u64 = 86_400_000_000_000;

    fn decision(requests: u64, at: u64) -> (Decision, HeaderMap) {
        let plan = Arc::new(Plan::starter());
        let mut states = [QuotaState::default(); 2];
        let mut outcome = plan.check(&mut states, at, 1);
        for _ in 1..requests {
            outcome = plan.check(&mut states, at, 1);
        }
        let decision = Decision::new(plan, outcome, 1, at, false);
        let mut headers = HeaderMap::new();
        apply(
            HeaderMode::Both,
            &decision,
            &mut headers,
            decision.rejected(),
        );
        (decision, headers)
    }

    #[test]
    fn allowed_response_reports_the_least_remaining_quota() {
        let (_, headers) = decision(1, 20_000 * DAY);
        assert_eq!(
            headers[&RATELIMIT_POLICY],
            "\"minute\";q=60;w=60, \"day\";q=1000;w=86400"
        );
        assert_eq!(headers[&RATELIMIT], "\"minute\";r=59;t=1");
        assert_eq!(headers[&X_RATELIMIT_LIMIT], "60");
        assert_eq!(headers[&X_RATELIMIT_REMAINING], "59");
        assert_eq!(headers[&X_RATELIMIT_RESET], "1");
        assert!(!headers.contains_key(RETRY_AFTER));
    }

    #[test]
    fn denied_response_reports_retry_after_rounded_up() {
        let (decision, headers) = decision(61, 20_000 * DAY + 1);
        assert!(decision.rejected());
        assert_eq!(headers[&RATELIMIT], "\"minute\";r=0;t=1");
        assert_eq!(headers[RETRY_AFTER], "1");
        assert_eq!(headers[&X_RATELIMIT_RESET], "1");
    }

    #[test]
    fn large_numbers_share_one_value_across_headers() {
        let plan = Arc::new(Plan::pro());
        let mut states = [QuotaState::default(); 2];
        let outcome = plan.check(&mut states, 20_000 * DAY, 1);
        let decision = Decision::new(plan, outcome, 1, 20_000 * DAY, false);
        for mode in [HeaderMode::Both, HeaderMode::Legacy, HeaderMode::Ietf] {
            let mut headers = HeaderMap::new();
            apply(mode, &decision, &mut headers, false);
            if mode.ietf() {
                assert_eq!(headers[&RATELIMIT], "\"minute\";r=299;t=1");
            }
            if mode.legacy() {
                assert_eq!(headers[&X_RATELIMIT_LIMIT], "300");
                assert_eq!(headers[&X_RATELIMIT_REMAINING], "299");
                assert_eq!(headers[&X_RATELIMIT_RESET], "1");
            }
        }
    }

    #[test]
    fn modes_select_header_sets() {
        let (decision, _) = decision(1, 0);
        for (mode, ietf, legacy) in [
            (HeaderMode::Ietf, true, false),
            (HeaderMode::Legacy, false, true),
            (HeaderMode::None, false, false),
        ] {
            let mut headers = HeaderMap::new();
            apply(mode, &decision, &mut headers, false);
            assert_eq!(headers.contains_key(&RATELIMIT), ietf);
            assert_eq!(headers.contains_key(&X_RATELIMIT_LIMIT), legacy);
        }
        assert_eq!(small_number(63), "63");
        assert_eq!(small_number(64), "64");
    }
}
