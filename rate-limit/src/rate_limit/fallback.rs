//! The local limiter of [`FailurePolicy::Fallback`](super::FailurePolicy::Fallback).

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use crate::key::Fingerprint;
use crate::outcome::Outcome;
use crate::per_plan::PerPlan;
use crate::plan::Plan;
use crate::store::memory::MemoryStore;

/// Plans scaled for the fallback, kept at most this many; past it, plans are scaled per
/// request (plans are few; a resolver minting plans per request must not grow it).
const MAX_SCALED_PLANS: usize = 1_024;

/// The local limiter of [`FailurePolicy::Fallback`](super::FailurePolicy::Fallback): a [`MemoryStore`] deciding with
/// the same plans, each quota's limit divided by the number of instances that share
/// the real store ([`Plan::scaled_down`]), so that together they admit about what the
/// shared store would. Scaled plans are built once per plan and cached. Clones share
/// the store and the cache.
///
/// ```
/// use portcullis_rate_limit::{Fallback, RateLimitLayer};
/// use portcullis_rate_limit::store::memory::MemoryStore;
///
/// let fallback = Fallback::local().instances(3).store(MemoryStore::new().max_keys(10_000));
/// assert_eq!(fallback.instance_count(), 3);
/// let layer = RateLimitLayer::new().on_store_error(fallback);
/// ```
#[derive(Clone, Deserialize)]
#[serde(from = "FallbackConfig")]
pub struct Fallback {
    store: MemoryStore,
    instances: u64,
    /// The plans scaled down, by original plan.
    plans: Arc<PerPlan<Arc<Plan>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FallbackConfig {
    #[serde(default = "one")]
    instances: u64,
}

fn one() -> u64 {
    1
}

impl From<FallbackConfig> for Fallback {
    fn from(config: FallbackConfig) -> Self {
        Self::local().instances(config.instances)
    }
}

impl fmt::Debug for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("instances", &self.instances)
            .field("capacity", &self.store.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for Fallback {
    fn default() -> Self {
        Self::local()
    }
}

impl Fallback {
    /// A fresh [`MemoryStore`] enforcing the plans as they are (one instance).
    ///
    /// ```
    /// use portcullis_rate_limit::Fallback;
    /// assert_eq!(Fallback::local().instance_count(), 1);
    /// ```
    pub fn local() -> Self {
        Self {
            store: MemoryStore::new(),
            instances: 1,
            plans: scaled_plans(),
        }
    }

    /// How many instances share the real store: each limit is divided by it, rounded
    /// up (a limit never drops to 0). 0 counts as 1.
    ///
    /// ```
    /// use portcullis_rate_limit::Fallback;
    /// assert_eq!(Fallback::local().instances(0).instance_count(), 1);
    /// ```
    #[must_use]
    pub fn instances(self, instances: u64) -> Self {
        Self {
            instances: instances.max(1),
            plans: scaled_plans(),
            ..self
        }
    }

    /// Keeps the fallback's state in `store` (to bound it differently).
    ///
    /// ```
    /// use portcullis_rate_limit::{Fallback, store::memory::MemoryStore};
    /// let fallback = Fallback::local().store(MemoryStore::new().max_keys(1_000));
    /// assert_eq!(fallback.store_ref().capacity(), 1_024);
    /// ```
    #[must_use]
    pub fn store(self, store: MemoryStore) -> Self {
        Self { store, ..self }
    }

    /// The instance count limits are divided by.
    ///
    /// ```
    /// use portcullis_rate_limit::Fallback;
    /// assert_eq!(Fallback::local().instances(8).instance_count(), 8);
    /// ```
    pub fn instance_count(&self) -> u64 {
        self.instances
    }

    /// The local store.
    ///
    /// ```
    /// use portcullis_rate_limit::Fallback;
    /// assert!(Fallback::local().store_ref().is_empty());
    /// ```
    pub fn store_ref(&self) -> &MemoryStore {
        &self.store
    }

    /// `plan` scaled down to this instance's share, built once per plan.
    pub(crate) fn plan_for(&self, plan: &Arc<Plan>) -> Arc<Plan> {
        if self.instances == 1 {
            return plan.clone();
        }
        self.plans
            .get_or_build(plan, |plan| Arc::new(plan.scaled_down(self.instances)))
            .into_owned()
    }

    /// Checks a request against this instance's share of `plan`; returns the plan it
    /// was checked against.
    pub(crate) fn check(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> (Arc<Plan>, Outcome) {
        let plan = self.plan_for(plan);
        let outcome = self.store.check_now(key, &plan, cost, now_ns);
        (plan, outcome)
    }

    /// Refunds a request that the fallback admitted against `plan` (already scaled).
    pub(crate) fn refund(&self, key: Fingerprint, plan: &Plan, cost: u64, consumed_at_ns: u64) {
        self.store.refund_now(key, plan, cost, consumed_at_ns);
    }
}

fn scaled_plans() -> Arc<PerPlan<Arc<Plan>>> {
    Arc::new(PerPlan::new(MAX_SCALED_PLANS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Quota;

    #[test]
    fn scaled_plans_are_built_once_and_told_apart_by_limits() {
        let fallback = Fallback::local().instances(4);
        let a = Arc::new(Plan::enterprise(400, 4_000).unwrap());
        let b = Arc::new(Plan::enterprise(40, 400).unwrap());
        assert_eq!(a.id(), b.id());
        let scaled_a = fallback.plan_for(&a);
        assert_eq!(scaled_a.quotas()[0].limit(), 100);
        assert!(Arc::ptr_eq(&scaled_a, &fallback.plan_for(&a)));
        // An equal plan in another Arc finds the same scaled plan.
        let a_again = Arc::new(Plan::enterprise(400, 4_000).unwrap());
        assert!(Arc::ptr_eq(&scaled_a, &fallback.plan_for(&a_again)));
        assert_eq!(fallback.plan_for(&b).quotas()[0].limit(), 10);
        // One instance: the plan itself.
        let one = Fallback::local();
        assert!(Arc::ptr_eq(&one.plan_for(&a), &a));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let fallback = Fallback::local().instances(2);
        for limit in 1..=(MAX_SCALED_PLANS as u64 + 10) {
            let plan = Arc::new(Plan::new("p", [Quota::per_minute("m", limit)]).unwrap());
            fallback.plan_for(&plan);
        }
        let cached = fallback.plans.len();
        assert!(cached <= MAX_SCALED_PLANS, "{cached}");
    }
}
