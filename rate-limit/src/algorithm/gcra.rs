//! GCRA, the generic cell rate algorithm.
//!
//! A quota of `limit` per `window` admits one unit every *emission interval*
//! `T = ⌈window / limit⌉` and lets `burst` units pass at once. The state is one
//! timestamp, the *theoretical arrival time* (TAT): when the bucket would be empty again.
//! A request of cost `c` at time `now` fits when `max(TAT, now) + c·T − now ≤ burst·T`,
//! and then moves the TAT to `max(TAT, now) + c·T`.
//!
//! This is the virtual-scheduling form of ITU-T I.371; the property tests check it
//! against the continuous-state leaky bucket form.
//!
//! # Example
//!
//! ```
//! use portcullis_rate_limit::algorithm::{QuotaState, gcra};
//!
//! const SECOND: u64 = 1_000_000_000;
//! // 2 per 10 s, bursts of 2: one every 5 s.
//! let (interval, tolerance) = (5 * SECOND, 10 * SECOND);
//! let a = gcra::check(QuotaState::default(), 0, 1, interval, tolerance);
//! let b = gcra::check(a.state, 0, 1, interval, tolerance);
//! let c = gcra::check(b.state, 0, 1, interval, tolerance);
//! assert!(a.allowed && b.allowed && !c.allowed);
//! assert_eq!(c.retry_after, 5 * SECOND);
//! assert!(gcra::check(b.state, 5 * SECOND, 1, interval, tolerance).allowed);
//! ```

use super::{Check, QuotaState, saturate};

/// The emission interval `⌈window / limit⌉` in nanoseconds (at least 1).
///
/// ```
/// assert_eq!(portcullis_rate_limit::algorithm::gcra::emission_interval(60_000, 7), 8_572);
/// ```
pub fn emission_interval(window_ns: u64, limit: u64) -> u64 {
    if limit == 0 {
        return u64::MAX;
    }
    window_ns.div_ceil(limit).max(1)
}

/// Checks a request of `cost` at `now` against a GCRA quota with this emission interval
/// and tolerance (`burst × interval`), all in nanoseconds.
///
/// ```
/// use portcullis_rate_limit::algorithm::{QuotaState, gcra};
/// let check = gcra::check(QuotaState::default(), 100, 3, 10, 30);
/// assert!(check.allowed);
/// assert_eq!((check.state.time, check.remaining, check.reset), (130, 0, 30));
/// ```
#[inline]
pub fn check(state: QuotaState, now: u64, cost: u64, interval: u64, tolerance: u64) -> Check {
    let tat = state.time.max(now);
    let increment = saturate(u128::from(cost) * u128::from(interval));
    let new_tat = tat.saturating_add(increment);
    let ahead = new_tat - now;
    if ahead <= tolerance {
        Check {
            allowed: true,
            state: QuotaState {
                time: new_tat,
                ..state
            },
            remaining: (tolerance - ahead) / interval,
            reset: ahead,
            retry_after: 0,
            expires_at: new_tat,
        }
    } else {
        let used = (tat - now).min(tolerance);
        let retry_after = if increment > tolerance {
            // More than the whole bucket: waiting never helps; hint one full bucket.
            tolerance.max(1)
        } else {
            ahead - tolerance
        };
        Check {
            allowed: false,
            state,
            remaining: (tolerance - used) / interval,
            reset: retry_after,
            retry_after,
            expires_at: state.time,
        }
    }
}

/// Gives back `cost` units consumed earlier: moves the TAT back by `cost × interval`.
///
/// ```
/// use portcullis_rate_limit::algorithm::{QuotaState, gcra};
/// let state = QuotaState { time: 500, ..QuotaState::default() };
/// assert_eq!(gcra::refund(state, 2, 100).time, 300);
/// ```
pub fn refund(state: QuotaState, cost: u64, interval: u64) -> QuotaState {
    let decrement = saturate(u128::from(cost) * u128::from(interval));
    QuotaState {
        time: state.time.saturating_sub(decrement),
        ..state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn burst_then_one_per_interval_at_exact_boundaries() {
        // 10 per minute: T = 6 s, tolerance 60 s.
        let (t, tau) = (6 * S, 60 * S);
        let now = 1_000 * S;
        let mut state = QuotaState::default();
        for expected_remaining in (0..10).rev() {
            let check = check(state, now, 1, t, tau);
            assert!(check.allowed);
            assert_eq!(check.remaining, expected_remaining);
            state = check.state;
        }
        let denied = check(state, now, 1, t, tau);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after, 6 * S);
        assert_eq!(denied.remaining, 0);
        // One nanosecond early is still too early; exactly T later fits.
        assert!(!check(state, now + 6 * S - 1, 1, t, tau).allowed);
        let later = check(state, now + 6 * S, 1, t, tau);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
        // After a full window of silence the whole burst is back.
        let rested = check(later.state, now + 66 * S, 1, t, tau);
        assert_eq!(rested.remaining, 9);
    }

    #[test]
    fn weighted_costs_and_oversized_requests() {
        let (t, tau) = (S, 5 * S);
        let a = check(QuotaState::default(), 0, 3, t, tau);
        assert!(a.allowed);
        assert_eq!(a.remaining, 2);
        let b = check(a.state, 0, 3, t, tau);
        assert!(!b.allowed);
        assert_eq!(b.retry_after, S);
        assert_eq!(b.remaining, 2);
        let huge = check(QuotaState::default(), 0, 6, t, tau);
        assert!(!huge.allowed);
        assert_eq!(huge.retry_after, tau);
    }

    #[test]
    fn refund_restores_capacity() {
        let (t, tau) = (S, 2 * S);
        let a = check(QuotaState::default(), 0, 2, t, tau);
        assert!(!check(a.state, 0, 1, t, tau).allowed);
        let refunded = refund(a.state, 1, t);
        assert!(check(refunded, 0, 1, t, tau).allowed);
    }

    #[test]
    fn extreme_values_saturate_instead_of_wrapping() {
        // At the end of time the theoretical arrival time saturates; it never wraps
        // to a small value that would reopen the bucket.
        let at_the_end = check(
            QuotaState {
                time: u64::MAX,
                ..QuotaState::default()
            },
            u64::MAX - 1,
            u64::MAX,
            u64::MAX,
            u64::MAX,
        );
        assert_eq!(at_the_end.state.time, u64::MAX);

        // A cost larger than the whole bucket is refused, consumes nothing, and hints
        // one full bucket rather than an overflowed wait.
        let (now, interval, tolerance) = (1_700_000_000 * S, 6 * S, 60 * S);
        let state = QuotaState::default();
        let huge = check(state, now, u64::MAX, interval, tolerance);
        assert!(!huge.allowed);
        assert_eq!(huge.state, state);
        assert_eq!(huge.retry_after, tolerance);
    }
}
