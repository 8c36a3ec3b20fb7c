//! Rate-limit plans from configuration: `Plan` from TOML and from JSON (serde).
//!
//! Properties: a plan that deserializes passes its own validation: a valid name, 1 to
//! the maximum number of quotas, every limit and window above zero, unique quota
//! names, and `Plan::new` on its parts accepts it with the same id; a fresh state
//! admits a request of cost 1 (every limit is at least 1), and checks at any time and
//! cost never panic.
#![no_main]

use std::collections::HashSet;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis_rate_limit::algorithm::QuotaState;
use portcullis_rate_limit::plan::Plan;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    json: bool,
    text: &'a str,
    now_ns: u64,
    cost: u64,
}

fn check(plan: &Plan, now_ns: u64, cost: u64) {
    assert!(!plan.name().is_empty());
    let quotas = plan.quotas();
    assert!(!quotas.is_empty());
    let mut names = HashSet::new();
    for quota in quotas {
        assert!(quota.limit() > 0, "{quota:?}");
        assert!(quota.window() > Duration::ZERO, "{quota:?}");
        assert!(quota.burst() > 0, "{quota:?}");
        assert!(names.insert(quota.name().to_owned()), "duplicate {quota:?}");
    }
    let rebuilt = Plan::new(plan.name().to_owned(), quotas.to_vec()).expect("revalidates");
    assert_eq!(rebuilt.id(), plan.id());

    let mut states = vec![QuotaState::default(); quotas.len()];
    let outcome = plan.check(&mut states, now_ns, 1);
    assert!(outcome.allowed(), "a fresh state refused one request: {outcome:?}");
    let mut states = vec![QuotaState::default(); quotas.len()];
    let _ = plan.check(&mut states, now_ns, cost);
    plan.refund(&mut states, now_ns, cost);
    let _ = plan.expires_at(&states);
    let _ = plan.check(&mut states, now_ns.wrapping_add(cost), cost);
}

fuzz_target!(|input: Input<'_>| {
    let plan = if input.json {
        serde_json::from_str::<Plan>(input.text).ok()
    } else {
        toml::from_str::<Plan>(input.text).ok()
    };
    if let Some(plan) = plan {
        check(&plan, input.now_ns, input.cost);
    }
});
