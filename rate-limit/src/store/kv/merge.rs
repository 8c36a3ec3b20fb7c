//! Reading your writes: what this instance decides on, its cached states merged with
//! the stored ones quota by quota, so that neither side's consumption is lost (see the
//! [module docs](super#how-a-check-works)).

use super::codec::{States, Stored};
use crate::algorithm::sliding_window::counts_at;
use crate::algorithm::{Algorithm, QuotaState};
use crate::plan::Plan;
use crate::quota::Quota;

/// What this instance decides on: its cached states merged, quota by quota, with the
/// stored ones, unless those are its own (then older than or equal to its cache).
pub(super) fn merge(
    plan: &Plan,
    cached: Option<&[QuotaState]>,
    stored: Option<Stored>,
    writer: u64,
) -> States {
    let quotas = plan.quotas();
    let state = |states: Option<&[QuotaState]>, index: usize| {
        states
            .and_then(|states| states.get(index))
            .copied()
            .unwrap_or_default()
    };
    match (cached, stored) {
        (Some(cached), Some(stored)) if stored.writer != writer => quotas
            .iter()
            .enumerate()
            .map(|(index, quota)| {
                merge_state(
                    quota,
                    state(Some(cached), index),
                    state(Some(&stored.states), index),
                )
            })
            .collect(),
        (Some(cached), _) => (0..quotas.len())
            .map(|index| state(Some(cached), index))
            .collect(),
        (None, Some(stored)) => stored.states,
        (None, None) => (0..quotas.len()).map(|_| QuotaState::default()).collect(),
    }
}

/// The state that loses neither side's consumption, for `quota`'s algorithm.
fn merge_state(quota: &Quota, a: QuotaState, b: QuotaState) -> QuotaState {
    let window = quota.window_ns().max(1);
    match quota.algorithm() {
        // The later theoretical arrival time has consumed more.
        Algorithm::Gcra { .. } => QuotaState {
            time: a.time.max(b.time),
            ..QuotaState::default()
        },
        Algorithm::FixedWindow { .. } => {
            if a.count == 0 {
                b
            } else if b.count == 0 {
                a
            } else if a.time.abs_diff(b.time) < window {
                // One window (UTC windows overlap only when equal): the earlier start,
                // which instances converge on, and the larger count.
                QuotaState {
                    time: a.time.min(b.time),
                    count: a.count.max(b.count),
                    previous: 0,
                }
            } else if a.time > b.time {
                a
            } else {
                b
            }
        }
        Algorithm::SlidingWindow => {
            let start = a.time.max(b.time);
            let (a_previous, a_current) = counts_at(a, start, window);
            let (b_previous, b_current) = counts_at(b, start, window);
            QuotaState {
                time: start,
                count: a_current.max(b_current),
                previous: a_previous.max(b_previous),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv::fixtures::{MINUTE, NOW, S, state};

    fn plan(quotas: impl IntoIterator<Item = Quota>) -> Plan {
        Plan::new("p", quotas).unwrap()
    }

    #[test]
    fn gcra_merges_to_the_later_arrival_time() {
        let quota = Quota::per_minute("m", 10);
        let merged = merge_state(&quota, state(NOW + 6 * S, 0, 0), state(NOW + 30 * S, 0, 0));
        assert_eq!(merged, state(NOW + 30 * S, 0, 0));
        let merged = merge_state(&quota, state(NOW + 30 * S, 0, 0), QuotaState::default());
        assert_eq!(merged, state(NOW + 30 * S, 0, 0));
    }

    #[test]
    fn fixed_windows_merge_the_larger_count_of_one_window_or_the_later_window() {
        let utc = Quota::per_minute("m", 10).with_algorithm(Algorithm::fixed_window());
        let same = merge_state(&utc, state(NOW, 3, 0), state(NOW, 7, 0));
        assert_eq!(same, state(NOW, 7, 0));
        let later = merge_state(&utc, state(NOW + MINUTE, 1, 0), state(NOW, 9, 0));
        assert_eq!(later, state(NOW + MINUTE, 1, 0));
        let fresh = merge_state(&utc, QuotaState::default(), state(NOW, 2, 0));
        assert_eq!(fresh, state(NOW, 2, 0));

        let first =
            Quota::per_minute("m", 10).with_algorithm(Algorithm::fixed_window_from_first_request());
        // Two instances opened overlapping windows: one window, from the earlier start.
        let overlapping = merge_state(&first, state(NOW + 5 * S, 2, 0), state(NOW, 5, 0));
        assert_eq!(overlapping, state(NOW, 5, 0));
        let apart = merge_state(&first, state(NOW, 5, 0), state(NOW + MINUTE, 2, 0));
        assert_eq!(apart, state(NOW + MINUTE, 2, 0));
        let empty = merge_state(&first, state(NOW + 5 * S, 0, 0), state(NOW, 4, 0));
        assert_eq!(empty, state(NOW, 4, 0));
    }

    #[test]
    fn sliding_windows_merge_counts_seen_from_the_later_window() {
        let quota = Quota::per_minute("m", 10).with_algorithm(Algorithm::sliding_window());
        let same = merge_state(&quota, state(NOW, 3, 8), state(NOW, 5, 2));
        assert_eq!(same, state(NOW, 5, 8));
        // One instance is a window behind: its current count is the other's previous.
        let behind = merge_state(&quota, state(NOW, 9, 1), state(NOW + MINUTE, 2, 4));
        assert_eq!(behind, state(NOW + MINUTE, 2, 9));
        // Two windows behind: nothing of it counts any more.
        let stale = merge_state(&quota, state(NOW, 9, 1), state(NOW + 2 * MINUTE, 2, 0));
        assert_eq!(stale, state(NOW + 2 * MINUTE, 2, 0));
        let fresh = merge_state(&quota, QuotaState::default(), state(NOW, 1, 1));
        assert_eq!(fresh, state(NOW, 1, 1));
    }

    #[test]
    fn own_echoes_lose_to_the_cache_and_other_writers_merge() {
        let plan = plan([Quota::per_minute("m", 10)]);
        let cached = [state(NOW + 6 * S, 0, 0)];
        let older_own = Stored {
            writer: 1,
            states: [state(NOW + 30 * S, 0, 0)].into_iter().collect(),
        };
        // A refund lowered the cache below what this instance wrote before.
        let merged = merge(&plan, Some(&cached), Some(older_own), 1);
        assert_eq!(merged[..], cached);
        let other = Stored {
            writer: 2,
            states: [state(NOW + 30 * S, 0, 0)].into_iter().collect(),
        };
        let merged = merge(&plan, Some(&cached), Some(other), 1);
        assert_eq!(merged[..], [state(NOW + 30 * S, 0, 0)]);
        let stored = Stored {
            writer: 1,
            states: [state(NOW + 12 * S, 0, 0)].into_iter().collect(),
        };
        assert_eq!(
            merge(&plan, None, Some(stored), 1)[..],
            [state(NOW + 12 * S, 0, 0)]
        );
        assert_eq!(merge(&plan, None, None, 1)[..], [QuotaState::default()]);
    }
}
