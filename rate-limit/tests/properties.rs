//! Property tests: each algorithm against a simple reference model over random request
//! sequences, and plans against their quotas taken one by one.

use std::time::Duration;

use portcullis_rate_limit::algorithm::{Algorithm, QuotaState, fixed_window, gcra, sliding_window};
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use proptest::prelude::*;

/// A request: how long after the previous one (ns) and its cost.
fn requests(max_gap: u64) -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((0..max_gap, 1u64..4), 1..300)
}

/// GCRA's reference: the continuous-state leaky bucket of ITU-T I.371. The bucket
/// holds `level` ns of work, drains 1 ns per ns, and a request of cost `c` fits when
/// `level + c·T ≤ τ`.
struct LeakyBucket {
    level: u64,
    last: u64,
}

impl LeakyBucket {
    fn offer(&mut self, now: u64, cost: u64, interval: u64, tolerance: u64) -> bool {
        let drained = self.level.saturating_sub(now - self.last);
        if drained + cost * interval <= tolerance {
            self.level = drained + cost * interval;
            self.last = now;
            true
        } else {
            false
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gcra_matches_the_leaky_bucket(
        limit in 1u64..20,
        burst in 1u64..20,
        window_ms in 1u64..5_000,
        requests in requests(500_000_000),
    ) {
        let interval = gcra::emission_interval(window_ms * 1_000_000, limit);
        let tolerance = interval * burst;
        let mut state = QuotaState::default();
        let mut reference = LeakyBucket { level: 0, last: 0 };
        let mut now = 1_000_000_000_000;
        for (gap, cost) in requests {
            now += gap;
            let check = gcra::check(state, now, cost, interval, tolerance);
            prop_assert_eq!(check.allowed, reference.offer(now, cost, interval, tolerance));
            if check.allowed {
                state = check.state;
            } else {
                // Waiting the advertised time is enough, and not a nanosecond less.
                prop_assert!(gcra::check(state, now + check.retry_after, cost, interval, tolerance).allowed
                    || cost > burst);
                prop_assert!(!gcra::check(state, now + check.retry_after - 1, cost, interval, tolerance).allowed);
            }
        }
    }

    #[test]
    fn fixed_window_matches_a_request_log(
        limit in 1u64..20,
        window_ms in 1u64..2_000,
        aligned in any::<bool>(),
        requests in requests(300_000_000),
    ) {
        let window = window_ms * 1_000_000;
        let mut state = QuotaState::default();
        // Reference: the accepted requests of the current window, and where it began.
        let mut log: Vec<(u64, u64)> = Vec::new();
        let mut window_start: Option<u64> = None;
        let mut now = 1_000_000_000_000;
        for (gap, cost) in requests {
            now += gap;
            let start = if aligned {
                now - now % window
            } else {
                match window_start {
                    Some(start) if now < start + window && !log.is_empty() => start,
                    _ => now,
                }
            };
            let used: u64 = log.iter().filter(|(at, _)| *at >= start && *at < start + window).map(|(_, c)| c).sum();
            let expected = used + cost <= limit;
            let check = fixed_window::check(state, now, cost, limit, window, aligned);
            prop_assert_eq!(check.allowed, expected);
            if check.allowed {
                state = check.state;
                if window_start != Some(start) {
                    log.clear();
                }
                window_start = Some(start);
                log.push((now, cost));
                prop_assert_eq!(check.remaining, limit - used - cost);
            }
        }
    }

    #[test]
    fn sliding_window_matches_a_request_log(
        limit in 1u64..20,
        window_ms in 1u64..2_000,
        requests in requests(300_000_000),
    ) {
        let window = window_ms * 1_000_000;
        let mut state = QuotaState::default();
        let mut log: Vec<(u64, u64)> = Vec::new();
        let mut now = 1_000_000_000_000;
        for (gap, cost) in requests {
            now += gap;
            // Reference: counts per fixed window from the log, and the weighted sum as a
            // fraction compared exactly.
            let start = now - now % window;
            let in_window = |from: u64| -> u64 {
                log.iter().filter(|(at, _)| *at >= from && *at < from + window).map(|(_, c)| c).sum()
            };
            let current = in_window(start);
            let previous = if start >= window { in_window(start - window) } else { 0 };
            let overlap = u128::from(window - (now - start));
            let weighted = u128::from(previous) * overlap + u128::from(current + cost) * u128::from(window);
            let expected = weighted <= u128::from(limit) * u128::from(window);
            let check = sliding_window::check(state, now, cost, limit, window);
            prop_assert_eq!(check.allowed, expected);
            if check.allowed {
                state = check.state;
                log.push((now, cost));
            } else if cost <= limit {
                prop_assert!(sliding_window::check(state, now + check.retry_after, cost, limit, window).allowed);
                prop_assert!(!sliding_window::check(state, now + check.retry_after - 1, cost, limit, window).allowed);
            }
        }
    }

    #[test]
    fn a_plan_admits_exactly_what_every_quota_admits_and_nothing_partially(
        requests in requests(2_000_000_000),
    ) {
        let plan = Plan::new(
            "p",
            [
                Quota::new("fast", 5, Duration::from_secs(2)).with_burst(3),
                Quota::new("slow", 12, Duration::from_secs(20)).with_algorithm(Algorithm::sliding_window()),
                Quota::new("block", 20, Duration::from_secs(30)).with_algorithm(Algorithm::fixed_window()),
            ],
        )
        .unwrap();
        let mut states = [QuotaState::default(); 3];
        let mut now = 1_000_000_000_000;
        for (gap, cost) in requests {
            now += gap;
            let each: Vec<_> = plan
                .quotas()
                .iter()
                .zip(states)
                .map(|(quota, state)| quota.check(state, now, cost))
                .collect();
            let before = states;
            let outcome = plan.check(&mut states, now, cost);
            let all = each.iter().all(|check| check.allowed);
            prop_assert_eq!(outcome.allowed(), all);
            if all {
                for (state, check) in states.iter().zip(&each) {
                    prop_assert_eq!(*state, check.state);
                }
            } else {
                prop_assert_eq!(states, before);
            }
        }
    }
}
