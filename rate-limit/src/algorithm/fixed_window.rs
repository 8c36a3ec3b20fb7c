//! The fixed-window counter.
//!
//! A counter per window of the quota's length. Windows are either aligned to the UTC
//! clock (whole multiples of the window since the Unix epoch, so a day quota resets at
//! midnight UTC for every key at once) or start at a key's first request.
//!
//! # Example
//!
//! ```
//! use portcullis_rate_limit::algorithm::{QuotaState, fixed_window};
//!
//! const DAY: u64 = 86_400_000_000_000;
//! let noon = 19_000 * DAY + DAY / 2;
//! let check = fixed_window::check(QuotaState::default(), noon, 1, 100, DAY, true);
//! assert_eq!(check.remaining, 99);
//! assert_eq!(check.reset, DAY / 2); // midnight UTC
//! ```

use super::{Check, QuotaState};

/// Checks a request of `cost` at `now` (ns) against `limit` per `window` (ns); windows
/// aligned to the UTC clock when `aligned`, else starting at the first request.
///
/// ```
/// use portcullis_rate_limit::algorithm::{QuotaState, fixed_window};
/// let a = fixed_window::check(QuotaState::default(), 25, 1, 1, 10, false);
/// assert_eq!(a.state.time, 25); // the window started with this request
/// assert!(!fixed_window::check(a.state, 34, 1, 1, 10, false).allowed);
/// assert!(fixed_window::check(a.state, 35, 1, 1, 10, false).allowed);
/// ```
#[inline]
pub fn check(
    state: QuotaState,
    now: u64,
    cost: u64,
    limit: u64,
    window: u64,
    aligned: bool,
) -> Check {
    let window = window.max(1);
    let start = window_start(state, now, window, aligned);
    let count = if state.time == start { state.count } else { 0 };
    let window_end = start.saturating_add(window);
    let reset = window_end - now;
    match count.checked_add(cost).filter(|total| *total <= limit) {
        Some(total) => Check {
            allowed: true,
            state: QuotaState {
                time: start,
                count: total,
                previous: 0,
            },
            remaining: limit - total,
            reset,
            retry_after: 0,
            expires_at: window_end,
        },
        None => {
            // A cost above the limit never fits; hint the window's end all the same.
            let retry_after = reset.max(1);
            Check {
                allowed: false,
                state,
                remaining: limit.saturating_sub(count),
                reset: retry_after,
                retry_after,
                expires_at: state.time.saturating_add(window),
            }
        }
    }
}

fn window_start(state: QuotaState, now: u64, window: u64, aligned: bool) -> u64 {
    if aligned {
        now - now % window
    } else if state.count > 0 && state.time <= now && now - state.time < window {
        state.time
    } else {
        now
    }
}

/// Gives back `cost` units consumed at `consumed_at` (ns), if that window is still the
/// current one.
///
/// ```
/// use portcullis_rate_limit::algorithm::{QuotaState, fixed_window};
/// let state = QuotaState { time: 10, count: 3, previous: 0 };
/// assert_eq!(fixed_window::refund(state, 15, 1, 10, true).count, 2);
/// assert_eq!(fixed_window::refund(state, 25, 1, 10, true).count, 3);
/// ```
pub fn refund(
    state: QuotaState,
    consumed_at: u64,
    cost: u64,
    window: u64,
    aligned: bool,
) -> QuotaState {
    let window = window.max(1);
    let same_window = if aligned {
        state.time == consumed_at - consumed_at % window
    } else {
        state.time <= consumed_at && consumed_at - state.time < window
    };
    if same_window {
        QuotaState {
            count: state.count.saturating_sub(cost),
            ..state
        }
    } else {
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const MINUTE: u64 = 60 * S;

    #[test]
    fn aligned_windows_reset_on_the_utc_minute() {
        let start = 28_000_000 * MINUTE;
        let mut state = QuotaState::default();
        for remaining in (0..3).rev() {
            let check = check(state, start + 59 * S, 1, 3, MINUTE, true);
            assert!(check.allowed);
            assert_eq!(check.remaining, remaining);
            assert_eq!(check.reset, S);
            state = check.state;
        }
        let last_ns = check(state, start + MINUTE - 1, 1, 3, MINUTE, true);
        assert!(!last_ns.allowed);
        assert_eq!(last_ns.retry_after, 1);
        let next = check(state, start + MINUTE, 1, 3, MINUTE, true);
        assert!(next.allowed);
        assert_eq!(next.remaining, 2);
        assert_eq!(next.reset, MINUTE);
    }

    #[test]
    fn first_request_windows_last_exactly_one_window() {
        let t0 = 123 * S + 7;
        let a = check(QuotaState::default(), t0, 2, 2, MINUTE, false);
        assert!(a.allowed);
        let denied = check(a.state, t0 + MINUTE - 1, 1, 2, MINUTE, false);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after, 1);
        let b = check(a.state, t0 + MINUTE, 1, 2, MINUTE, false);
        assert!(b.allowed);
        assert_eq!(b.state.time, t0 + MINUTE);
    }

    #[test]
    fn oversized_cost_is_denied_without_overflow() {
        let check = check(QuotaState::default(), 5 * S, u64::MAX, 10, MINUTE, true);
        assert!(!check.allowed);
        assert_eq!(check.remaining, 10);
    }
}
