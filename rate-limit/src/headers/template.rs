//! Per-plan header templates: the headers of each mode in a fixed order, with
//! placeholders for the numbers. A response's headers start from a clone of one: a
//! clone copies the names' stored hashes, where inserting five custom names hashes each
//! byte of each name. A layer builds a plan's templates the first time it meets the
//! plan ([`Templates`]); the plan knows nothing of headers.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::mode::HeaderMode;
use super::names::{
    RATELIMIT, RATELIMIT_POLICY, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET,
};
use super::values::Values;
use crate::per_plan::PerPlan;
use crate::plan::Plan;
use crate::quota::Quota;

/// Plans whose templates a layer keeps; the templates of others are built per response.
const KEPT_PLANS: usize = 256;

/// The header templates of the plans one layer meets, each built once, shared by the
/// layer's clones.
#[derive(Debug)]
pub(crate) struct Templates {
    plans: PerPlan<PlanHeaders>,
}

impl Templates {
    pub(crate) fn new() -> Self {
        Self {
            plans: PerPlan::new(KEPT_PLANS),
        }
    }

    /// The header values and maps of `plan`.
    #[inline]
    pub(crate) fn of(&self, plan: &Arc<Plan>) -> Cow<'_, PlanHeaders> {
        self.plans
            .get_or_build(plan, |plan| PlanHeaders::new(plan.quotas()))
    }
}

/// The header values and maps of one plan, built once per plan ([`Templates`]).
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
// A `static`: Rust 1.88 (our MSRV) refuses a `const` that refers to the name statics.
static LAYOUT: [(&HeaderName, bool); 5] = [
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

    /// The template of `mode` for when quota `index` is the most constraining.
    pub(super) fn template(&self, mode: HeaderMode, index: usize) -> Option<&HeaderMap> {
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

/// Writes `values` over a template's placeholders, in [`LAYOUT`] order.
pub(super) fn fill(map: &mut HeaderMap, mode: HeaderMode, values: Values) {
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
pub(super) fn mergeable(headers: &HeaderMap, count: usize) -> bool {
    headers.len() + count + 1 > headers.capacity()
        && headers.keys_len() <= MERGE_AT_MOST
        && headers
            .keys()
            .all(|name| LAYOUT.iter().all(|(ours, _)| name != *ours))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Algorithm;

    #[test]
    fn policy_header_lists_every_quota() {
        let starter = PlanHeaders::new(Plan::starter().quotas());
        assert_eq!(
            starter.policy(),
            "\"minute\";q=60;w=60, \"day\";q=1000;w=86400"
        );
        assert_eq!(
            PlanHeaders::new(Plan::pro().quotas()).limit(1).unwrap(),
            "10000"
        );
    }

    #[test]
    fn scaled_down_plans_get_their_own_policy() {
        let second = Quota::per_second("second", 10).with_burst(3);
        let minute = Quota::per_minute("minute", 7).with_algorithm(Algorithm::sliding_window());
        let plan = Plan::new("p", [second, minute]).unwrap();
        let share = plan.scaled_down(3);
        assert_eq!(
            PlanHeaders::new(share.quotas()).policy(),
            "\"second\";q=4;w=1, \"minute\";q=3;w=60"
        );
        // A layer meeting both plans keeps a template for each.
        let templates = Templates::new();
        let (plan, share) = (Arc::new(plan), Arc::new(share));
        assert_eq!(
            templates.of(&plan).policy(),
            "\"second\";q=10;w=1, \"minute\";q=7;w=60"
        );
        assert_eq!(
            templates.of(&share).policy(),
            "\"second\";q=4;w=1, \"minute\";q=3;w=60"
        );
        assert!(matches!(templates.of(&plan), Cow::Borrowed(_)));
    }
}
