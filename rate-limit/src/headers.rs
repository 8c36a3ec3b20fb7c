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
use std::fmt::Write as _;

use crate::decision::Decision;
use crate::quota::Quota;

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

/// The header values and maps of one plan, built with the plan.
///
/// Besides the values that never change (`RateLimit-Policy`, each quota's
/// `X-RateLimit-Limit`), it keeps, per quota and header set, a map of the headers a
/// response gets when that quota is the most constraining, with placeholders for the
/// numbers. A response's headers start from a clone of that map: a clone copies the
/// names' hashes, where inserting five custom names hashes each byte of each name.
#[derive(Clone, Debug)]
pub(crate) struct PlanHeaders {
    policy: HeaderValue,
    limits: Vec<HeaderValue>,
    /// Per quota, the maps of [`HeaderMode::Ietf`], [`HeaderMode::Legacy`] and
    /// [`HeaderMode::Both`], laid out as [`LAYOUT`] says.
    templates: Vec<[HeaderMap; 3]>,
}

/// The order of the headers in a template: `RateLimit-Policy` and `RateLimit`, then
/// `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`, each set when
/// its mode has it. [`fill`] relies on it.
const LAYOUT: [(&HeaderName, bool); 5] = [
    (&RATELIMIT_POLICY, true),
    (&RATELIMIT, true),
    (&X_RATELIMIT_LIMIT, false),
    (&X_RATELIMIT_REMAINING, false),
    (&X_RATELIMIT_RESET, false),
];

/// Room a template keeps for the headers of the response it is merged with, and the
/// `Content-Length` a framework adds after us.
const ROOM: usize = MERGE_AT_MOST + 2;

/// Responses with more headers than this get ours inserted one by one instead.
const MERGE_AT_MOST: usize = 4;

impl PlanHeaders {
    /// The values and templates of a plan of these (validated) quotas.
    pub(crate) fn new(quotas: &[Quota]) -> Self {
        let mut policy = String::new();
        for (index, quota) in quotas.iter().enumerate() {
            if index > 0 {
                policy.push_str(", ");
            }
            let _ = write!(
                policy,
                "\"{}\";q={};w={}",
                quota.name(),
                quota.limit(),
                quota.window().as_secs().max(1)
            );
        }
        // Names are validated, so the policy text is always a valid header value.
        let policy = HeaderValue::try_from(policy).unwrap_or_else(|_| HeaderValue::from_static(""));
        let limits: Vec<HeaderValue> = quotas
            .iter()
            .map(|quota| HeaderValue::from(quota.limit()))
            .collect();
        let templates = limits
            .iter()
            .map(|limit| {
                [HeaderMode::Ietf, HeaderMode::Legacy, HeaderMode::Both]
                    .map(|mode| template(mode, &policy, limit))
            })
            .collect();
        Self {
            policy,
            limits,
            templates,
        }
    }

    /// The `RateLimit-Policy` header value.
    pub(crate) fn policy(&self) -> &HeaderValue {
        &self.policy
    }

    /// The `X-RateLimit-Limit` header value of quota `index`.
    pub(crate) fn limit(&self, index: usize) -> Option<&HeaderValue> {
        self.limits.get(index)
    }

    fn template(&self, mode: HeaderMode, index: usize) -> Option<&HeaderMap> {
        let templates = self.templates.get(index)?;
        match mode {
            HeaderMode::Ietf => Some(&templates[0]),
            HeaderMode::Legacy => Some(&templates[1]),
            HeaderMode::Both => Some(&templates[2]),
            HeaderMode::None => None,
        }
    }
}

/// The headers of `mode` in [`LAYOUT`] order, the varying numbers as placeholders.
fn template(mode: HeaderMode, policy: &HeaderValue, limit: &HeaderValue) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(LAYOUT.len() + ROOM);
    for (name, ietf) in LAYOUT {
        if (ietf && mode.ietf()) || (!ietf && mode.legacy()) {
            let value = match name {
                name if name == RATELIMIT_POLICY => policy.clone(),
                name if name == X_RATELIMIT_LIMIT => limit.clone(),
                _ => HeaderValue::from_static("0"),
            };
            map.insert(name.clone(), value);
        }
    }
    map
}

/// The varying header values of one response.
struct Values {
    ratelimit: Option<HeaderValue>,
    remaining: HeaderValue,
    reset: HeaderValue,
}

/// Writes `values` over a template's placeholders, in [`LAYOUT`] order.
fn fill(map: &mut HeaderMap, mode: HeaderMode, values: Values) {
    let mut slots = map.values_mut();
    if mode.ietf() {
        let _policy = slots.next();
        if let (Some(slot), Some(ratelimit)) = (slots.next(), values.ratelimit) {
            *slot = ratelimit;
        }
    }
    if mode.legacy() {
        let _limit = slots.next();
        if let Some(slot) = slots.next() {
            *slot = values.remaining;
        }
        if let Some(slot) = slots.next() {
            *slot = values.reset;
        }
    }
}

/// Whether `headers` should be merged into a template rather than get `count` headers
/// inserted: when inserting would grow the map anyway (counting the `Content-Length`
/// a framework adds after us), and the response's headers are few and none of them
/// ours (ours replace a handler's, as [`HeaderMap::insert`] would).
fn mergeable(headers: &HeaderMap, count: usize) -> bool {
    headers.len() + count + 1 > headers.capacity()
        && headers.keys_len() <= MERGE_AT_MOST
        && headers
            .keys()
            .all(|name| LAYOUT.iter().all(|(ours, _)| name != *ours))
}

/// Writes the headers of `decision` into `headers`; `Retry-After` when `rejected`.
///
/// Values that never change per plan (`RateLimit-Policy`, `X-RateLimit-Limit`) were
/// built with the plan; the varying numbers are written on the stack and share one
/// allocation (small numbers need none). A response with few headers gets the plan's
/// template with its own headers moved in; others get ours inserted, the map growing
/// at most once.
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
    let text = (ietf || remaining >= SMALL || reset >= SMALL).then(|| Bytes::from_owner(text));
    let number = |value: u64, at: std::ops::Range<usize>| match &text {
        Some(text) if value >= SMALL => HeaderValue::from_maybe_shared(text.slice(at))
            .unwrap_or_else(|_| HeaderValue::from(value)),
        _ => small_number(value),
    };
    let values = Values {
        remaining: number(remaining, remaining_at),
        reset: number(reset, reset_at),
        ratelimit: text
            .filter(|_| ietf)
            .and_then(|text| HeaderValue::from_maybe_shared(text).ok()),
    };
    let plan_headers = decision.plan().headers();
    match plan_headers.template(mode, index) {
        // (A `RateLimit` value that failed to build is left out, as when inserting.)
        Some(template)
            if (values.ratelimit.is_some() || !ietf) && mergeable(headers, template.len()) =>
        {
            let mut merged = template.clone();
            fill(&mut merged, mode, values);
            merged.extend(std::mem::take(headers));
            *headers = merged;
        }
        _ => insert_each(mode, plan_headers, index, values, headers),
    }
    if let Some(retry_after) = retry_after {
        headers.insert(RETRY_AFTER, small_number(retry_after));
    }
}

/// Inserts the headers of `mode` one by one, growing the map at most once.
fn insert_each(
    mode: HeaderMode,
    plan_headers: &PlanHeaders,
    index: usize,
    values: Values,
    headers: &mut HeaderMap,
) {
    let (ietf, legacy) = (mode.ietf(), mode.legacy());
    // Room for these headers, `Retry-After`, and the `Content-Length` the framework
    // adds after us.
    headers.reserve(usize::from(ietf) * 2 + usize::from(legacy) * 3 + 2);
    if ietf {
        headers.insert(RATELIMIT_POLICY.clone(), plan_headers.policy().clone());
        if let Some(ratelimit) = values.ratelimit {
            headers.insert(RATELIMIT.clone(), ratelimit);
        }
    }
    if legacy {
        if let Some(limit) = plan_headers.limit(index) {
            headers.insert(X_RATELIMIT_LIMIT.clone(), limit.clone());
        }
        headers.insert(X_RATELIMIT_REMAINING.clone(), values.remaining);
        headers.insert(X_RATELIMIT_RESET.clone(), values.reset);
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
fn small_number(value: u64) -> HeaderValue {
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

    /// A response's headers as the handler left them: none, the usual one, one with
    /// two values, too many to merge, and one of ours (which ours replace).
    fn handler_headers() -> Vec<HeaderMap> {
        let mut sets = vec![HeaderMap::new()];
        let mut usual = HeaderMap::new();
        usual.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain"),
        );
        sets.push(usual.clone());
        let mut cookies = usual.clone();
        cookies.append(http::header::SET_COOKIE, HeaderValue::from_static("a=1"));
        cookies.append(http::header::SET_COOKIE, HeaderValue::from_static("b=2"));
        sets.push(cookies.clone());
        let mut many = cookies.clone();
        for name in ["x-one", "x-two", "x-three", "x-four"] {
            many.insert(HeaderName::from_static(name), HeaderValue::from_static("v"));
        }
        sets.push(many);
        let mut ours = usual;
        ours.insert(X_RATELIMIT_LIMIT.clone(), HeaderValue::from_static("7"));
        ours.append(X_RATELIMIT_LIMIT.clone(), HeaderValue::from_static("8"));
        sets.push(ours);
        sets
    }

    #[test]
    fn every_response_gets_the_same_headers_and_keeps_its_own() {
        let ours = [
            &RATELIMIT_POLICY,
            &RATELIMIT,
            &X_RATELIMIT_LIMIT,
            &X_RATELIMIT_REMAINING,
            &X_RATELIMIT_RESET,
        ];
        for (plan, ratelimit, remaining) in [
            (Plan::starter(), "\"minute\";r=59;t=1", "59"),
            (Plan::pro(), "\"minute\";r=299;t=1", "299"),
        ] {
            let limit = plan.quotas()[0].limit().to_string();
            let policy = plan.headers().policy().clone();
            let plan = Arc::new(plan);
            let mut states = [QuotaState::default(); 2];
            let outcome = plan.check(&mut states, 20_000 * DAY, 1);
            let decision = Decision::new(plan, outcome, 1, 20_000 * DAY, false);
            for mode in [HeaderMode::Both, HeaderMode::Ietf, HeaderMode::Legacy] {
                for before in handler_headers() {
                    let mut headers = before.clone();
                    apply(mode, &decision, &mut headers, false);
                    let expected: Vec<(&HeaderName, Option<&str>)> = vec![
                        (
                            &RATELIMIT_POLICY,
                            policy.to_str().ok().filter(|_| mode.ietf()),
                        ),
                        (&RATELIMIT, Some(ratelimit).filter(|_| mode.ietf())),
                        (
                            &X_RATELIMIT_LIMIT,
                            Some(limit.as_str()).filter(|_| mode.legacy()),
                        ),
                        (
                            &X_RATELIMIT_REMAINING,
                            Some(remaining).filter(|_| mode.legacy()),
                        ),
                        (&X_RATELIMIT_RESET, Some("1").filter(|_| mode.legacy())),
                    ];
                    for (name, value) in expected {
                        let found: Vec<_> = headers.get_all(name).iter().collect();
                        match value {
                            Some(value) => assert_eq!(found, [value], "{mode:?} {name} {before:?}"),
                            // A handler's own value stays where we send none.
                            None => assert_eq!(
                                found,
                                before.get_all(name).iter().collect::<Vec<_>>(),
                                "{mode:?} {name} {before:?}"
                            ),
                        }
                    }
                    for name in before.keys().filter(|name| !ours.contains(name)) {
                        assert_eq!(
                            headers.get_all(name).iter().collect::<Vec<_>>(),
                            before.get_all(name).iter().collect::<Vec<_>>(),
                            "{mode:?} {name}"
                        );
                    }
                }
            }
        }
    }
}
