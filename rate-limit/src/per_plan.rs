//! [`PerPlan`]: values derived from a plan, built once per plan by whoever needs them
//! (the layer's header templates, the fallback's scaled-down plans), so that the plan
//! itself carries nothing but its quotas.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::plan::Plan;

/// Slots looked at for one plan before its value is built for the call alone.
const PROBES: usize = 8;

/// Values derived from plans, built the first time a plan is met and kept in a fixed
/// number of slots: a lookup takes no lock (one atomic load when the value is there).
///
/// A plan finds its slot by its contents, so an equal plan in another `Arc` (a resolver
/// that builds its plans per request) finds the value too, and plans that share an
/// [`id`](Plan::id) but not their limits (two tenants' enterprise plans) get one each.
/// When the slots a plan may use are all taken by other plans, its value is built for
/// the call and not kept: memory stays bounded however many plans a resolver mints.
pub(crate) struct PerPlan<T> {
    slots: Box<[Slot<T>]>,
}

/// A plan and its value, once set.
type Slot<T> = OnceLock<(Arc<Plan>, T)>;

impl<T> PerPlan<T> {
    /// Room for the values of `slots` plans (at least one).
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            slots: (0..slots.max(1)).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The value of `plan`, built with `build` when the plan is met first.
    #[inline]
    pub(crate) fn get_or_build(&self, plan: &Arc<Plan>, build: impl Fn(&Plan) -> T) -> Cow<'_, T>
    where
        T: Clone,
    {
        let start = slot_of(plan);
        for probe in 0..PROBES.min(self.slots.len()) {
            let slot = &self.slots[(start + probe) % self.slots.len()];
            let (kept, value) = slot.get_or_init(|| (plan.clone(), build(plan)));
            if Arc::ptr_eq(kept, plan) || **kept == **plan {
                return Cow::Borrowed(value);
            }
        }
        Cow::Owned(build(plan))
    }

    /// How many plans have a value kept.
    pub(crate) fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.get().is_some())
            .count()
    }
}

impl<T> fmt::Debug for PerPlan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerPlan")
            .field("kept", &self.len())
            .field("slots", &self.slots.len())
            .finish()
    }
}

/// Where `plan`'s slots start: its id mixed with its limits, which the id leaves out.
#[inline]
fn slot_of(plan: &Plan) -> usize {
    let mixed = plan.quotas().iter().fold(plan.id(), |mixed, quota| {
        (mixed ^ quota.limit() ^ quota.burst().rotate_left(32))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29)
    });
    (mixed >> 32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Quota;

    #[test]
    fn values_are_built_once_per_plan_and_found_by_contents() {
        let values = PerPlan::new(16);
        let built = std::sync::atomic::AtomicUsize::new(0);
        let build = |plan: &Plan| {
            built.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            plan.quotas()[0].limit()
        };
        let a = Arc::new(Plan::enterprise(400, 4_000).unwrap());
        let b = Arc::new(Plan::enterprise(40, 400).unwrap());
        assert_eq!(*values.get_or_build(&a, build), 400);
        assert_eq!(*values.get_or_build(&b, build), 40);
        assert_eq!(*values.get_or_build(&a, build), 400);
        let a_again = Arc::new(Plan::enterprise(400, 4_000).unwrap());
        assert!(matches!(
            values.get_or_build(&a_again, build),
            Cow::Borrowed(400)
        ));
        assert_eq!(built.into_inner(), 2);
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn plans_past_the_slots_are_built_for_the_call_alone() {
        let values = PerPlan::new(4);
        for limit in 1..=100 {
            let plan = Arc::new(Plan::new("p", [Quota::per_minute("m", limit)]).unwrap());
            assert_eq!(
                *values.get_or_build(&plan, |plan| plan.quotas()[0].limit()),
                limit
            );
        }
        assert_eq!(values.len(), 4);
    }
}
