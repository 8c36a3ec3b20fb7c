//! The sliding-window counter.
//!
//! Time is cut into fixed windows of the quota's length, aligned to the Unix epoch. The
//! count over the sliding window ending now is estimated as the current window's count
//! plus the previous window's count weighted by the part of it the sliding window still
//! covers: `previous × (window − elapsed) / window + current`. A request of cost `c`
//! fits when that estimate plus `c` is at most the limit. The comparison is done exactly
//! in integers (`previous × (window − elapsed) + (current + c) × window ≤ limit ×
//! window`), so no rounding ever lets an extra request through.
//!
//! # Example
//!
//! ```
//! use portcullis_rate_limit::algorithm::{QuotaState, sliding_window};
//!
//! const SECOND: u64 = 1_000_000_000;
//! // 10 per 60 s; 10 requests in the window [0 s, 60 s).
//! let full = QuotaState { time: 0, count: 10, previous: 0 };
//! // At 45 s into the next window, a quarter of the previous one still counts: 2.5.
//! let check = sliding_window::check(full, 105 * SECOND, 1, 10, 60 * SECOND);
//! assert!(check.allowed);
//! assert_eq!(check.remaining, 6); // 10 − 2.5 − 1, rounded down
//! ```

use super::{Check, QuotaState, saturate};

/// Checks a request of `cost` at `now` (ns) against `limit` per `window` (ns).
///
/// ```
/// use portcullis_rate_limit::algorithm::{QuotaState, sliding_window};
/// let check = sliding_window::check(QuotaState::default(), 5, 2, 2, 10);
/// assert!(check.allowed);
/// assert_eq!(check.state, QuotaState { time: 0, count: 2, previous: 0 });
/// assert!(!sliding_window::check(check.state, 6, 1, 2, 10).allowed);
/// ```
#[inline]
pub fn check(state: QuotaState, now: u64, cost: u64, limit: u64, window: u64) -> Check {
    let window = window.max(1);
    let start = now - now % window;
    let (previous, current) = counts_at(state, start, window);
    let elapsed = now - start;
    let (w, l) = (u128::from(window), u128::from(limit));
    let weighted_previous = u128::from(previous) * u128::from(window - elapsed);
    let capacity = l * w;
    let used = weighted_previous + u128::from(current) * w;
    let after = used + u128::from(cost) * w;
    let window_end = start.saturating_add(window);
    if after <= capacity {
        let current = current.saturating_add(cost);
        Check {
            allowed: true,
            state: QuotaState {
                time: start,
                count: current,
                previous,
            },
            remaining: saturate((capacity - after) / w),
            reset: window_end - now,
            retry_after: 0,
            expires_at: window_end.saturating_add(window),
        }
    } else {
        let retry_after = retry_after(previous, current, cost, limit, window, elapsed);
        Check {
            allowed: false,
            state,
            remaining: saturate(capacity.saturating_sub(used) / w),
            reset: retry_after,
            retry_after,
            expires_at: expires_at(state, window),
        }
    }
}

/// When a state stops mattering: the end of the window after its current one.
fn expires_at(state: QuotaState, window: u64) -> u64 {
    state.time.saturating_add(window).saturating_add(window)
}

/// The (previous, current) counts as seen from the window starting at `start`.
pub(crate) fn counts_at(state: QuotaState, start: u64, window: u64) -> (u64, u64) {
    if state.time == start {
        (state.previous, state.count)
    } else if state.time.checked_add(window) == Some(start) {
        (state.count, 0)
    } else {
        (0, 0)
    }
}

/// The smallest wait after which a denied request of `cost` fits.
fn retry_after(
    previous: u64,
    current: u64,
    cost: u64,
    limit: u64,
    window: u64,
    elapsed: u64,
) -> u64 {
    let w = u128::from(window);
    if cost > limit {
        // Never fits; hint one window.
        return window;
    }
    if current + cost <= limit {
        // Fits later in this window, once enough of the previous one has slid out:
        // previous × (window − e) ≤ (limit − current − cost) × window.
        let slack = u128::from(limit - current - cost) * w;
        let covered = saturate(slack / u128::from(previous.max(1)));
        let at = window - covered.min(window);
        return at.saturating_sub(elapsed).max(1);
    }
    // Fits in the next window, once enough of this one has slid out:
    // current × (window − e) ≤ (limit − cost) × window.
    let slack = u128::from(limit - cost) * w;
    let covered = saturate(slack / u128::from(current.max(1)));
    let at = window - covered.min(window);
    (window - elapsed).saturating_add(at).max(1)
}

/// Gives back `cost` units consumed at `consumed_at` (ns), if their window still
/// counts.
///
/// ```
/// use portcullis_rate_limit::algorithm::{QuotaState, sliding_window};
/// let state = QuotaState { time: 10, count: 1, previous: 4 };
/// assert_eq!(sliding_window::refund(state, 3, 2, 10).previous, 2);
/// assert_eq!(sliding_window::refund(state, 13, 1, 10).count, 0);
/// ```
pub fn refund(state: QuotaState, consumed_at: u64, cost: u64, window: u64) -> QuotaState {
    let window = window.max(1);
    let start = consumed_at - consumed_at % window;
    if state.time == start {
        QuotaState {
            count: state.count.saturating_sub(cost),
            ..state
        }
    } else if start.checked_add(window) == Some(state.time) {
        QuotaState {
            previous: state.previous.saturating_sub(cost),
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
    const W: u64 = 60 * S;

    fn run(mut state: QuotaState, now: u64, n: u64, limit: u64) -> (QuotaState, u64) {
        let mut accepted = 0;
        for _ in 0..n {
            let check = check(state, now, 1, limit, W);
            if check.allowed {
                accepted += 1;
                state = check.state;
            }
        }
        (state, accepted)
    }

    #[test]
    fn limit_within_one_window_and_window_edges() {
        let start = 1_000 * W;
        let (state, accepted) = run(QuotaState::default(), start, 20, 10);
        assert_eq!(accepted, 10);
        // Last nanosecond of the window: still full.
        assert!(!check(state, start + W - 1, 1, 10, W).allowed);
        // First nanosecond of the next window: the previous one still weighs in fully
        // (10 × (W − 0) / W = 10): denied.
        let edge = check(state, start + W, 1, 10, W);
        assert!(!edge.allowed);
        // previous × (W − e) ≤ (10 − 0 − 1) × W ⇔ e ≥ W / 10: 6 s into the window.
        assert_eq!(edge.retry_after, 6 * S);
        assert!(!check(state, start + W + 6 * S - 1, 1, 10, W).allowed);
        assert!(check(state, start + W + 6 * S, 1, 10, W).allowed);
        // Two windows later the old counts are gone.
        let fresh = check(state, start + 2 * W, 1, 10, W);
        assert!(fresh.allowed);
        assert_eq!(fresh.remaining, 9);
        assert_eq!(fresh.state.previous, 0);
    }

    #[test]
    fn retry_after_into_next_window_when_current_is_full() {
        let start = 7 * W;
        let (state, _) = run(QuotaState::default(), start + 30 * S, 10, 10);
        let denied = check(state, start + 30 * S, 1, 10, W);
        assert!(!denied.allowed);
        // 30 s to the next window, then 6 s until 10 × (W − e)/W ≤ 9.
        assert_eq!(denied.retry_after, 36 * S);
        assert!(!check(state, start + 30 * S + denied.retry_after - 1, 1, 10, W).allowed);
        assert!(check(state, start + 30 * S + denied.retry_after, 1, 10, W).allowed);
    }

    #[test]
    fn refund_only_touches_windows_that_still_count() {
        let state = QuotaState {
            time: 2 * W,
            count: 3,
            previous: 5,
        };
        assert_eq!(refund(state, 2 * W + 1, 1, W).count, 2);
        assert_eq!(refund(state, W + 1, 1, W).previous, 4);
        assert_eq!(refund(state, 1, 1, W), state);
    }
}
