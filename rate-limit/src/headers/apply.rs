//! Writing a decision's headers into a response.

use http::HeaderMap;
use http::header::RETRY_AFTER;

use super::mode::HeaderMode;
use super::names::{
    RATELIMIT, RATELIMIT_POLICY, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET,
};
use super::template::{PlanHeaders, Templates, fill, mergeable};
use super::values::{Values, small_number};
use crate::decision::Decision;

/// Writes the headers of `decision` into `headers`; `Retry-After` when `rejected`.
///
/// Values that never change per plan (`RateLimit-Policy`, `X-RateLimit-Limit`) were
/// built once for the plan, in `templates`; the varying numbers are written on the
/// stack and share one allocation (small numbers need none). A response with few
/// headers gets the plan's template with its own headers moved in; others get ours
/// inserted, the map growing at most once.
pub(crate) fn apply(
    mode: HeaderMode,
    templates: &Templates,
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
    let values = Values::new(mode, quota.name(), remaining, reset);
    let plan_headers = templates.of(decision.plan_arc());
    let plan_headers = &*plan_headers;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::QuotaState;
    use crate::plan::Plan;
    use http::{HeaderName, HeaderValue};
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
            &Templates::new(),
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
            apply(mode, &Templates::new(), &decision, &mut headers, false);
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
            apply(mode, &Templates::new(), &decision, &mut headers, false);
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
        let templates = Templates::new();
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
            let policy = PlanHeaders::new(plan.quotas()).policy().clone();
            let plan = Arc::new(plan);
            let mut states = [QuotaState::default(); 2];
            let outcome = plan.check(&mut states, 20_000 * DAY, 1);
            let decision = Decision::new(plan, outcome, 1, 20_000 * DAY, false);
            for mode in [HeaderMode::Both, HeaderMode::Ietf, HeaderMode::Legacy] {
                for before in handler_headers() {
                    let mut headers = before.clone();
                    apply(mode, &templates, &decision, &mut headers, false);
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
