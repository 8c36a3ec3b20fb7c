//! Remembers recently seen violations so a page that violates its policy in a loop
//! produces one report per window, not thousands.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::violation::CspViolation;

/// A bounded set of violation fingerprints, each remembered for one window.
///
/// Fingerprints are 64-bit hashes keyed with a per-process random seed, so a sender
/// cannot craft reports that collide on purpose. Memory is bounded by `capacity`: when
/// full, expired fingerprints go first, then the oldest.
#[derive(Debug, Default)]
pub(crate) struct Deduplicator {
    hasher: RandomState,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Fingerprint → time (since the epoch) it was first seen in its current window.
    first_seen: HashMap<u64, Duration>,
    /// Fingerprints in the order they were (re)inserted, with the insertion time; an
    /// entry whose time no longer matches `first_seen` is stale and skipped.
    order: VecDeque<(u64, Duration)>,
}

impl Deduplicator {
    /// Whether `violation` was already seen within `window` of `now`; remembers it if
    /// not. A zero `window` or `capacity` turns deduplication off.
    pub(crate) fn is_duplicate(
        &self,
        violation: &CspViolation,
        now: Duration,
        window: Duration,
        capacity: usize,
    ) -> bool {
        if window.is_zero() || capacity == 0 {
            return false;
        }
        let key = self.hasher.hash_one((
            &violation.document_url,
            &violation.effective_directive,
            &violation.blocked_url,
            &violation.source_file,
            violation.line_number,
        ));
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.evict_expired(now, window);
        if let Some(&at) = seen.first_seen.get(&key) {
            // A clock that went backwards saturates to zero elapsed: still a duplicate.
            if now.saturating_sub(at) < window {
                return true;
            }
        }
        seen.first_seen.insert(key, now);
        seen.order.push_back((key, now));
        seen.shrink_to(capacity);
        false
    }

    /// How many fingerprints are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first_seen
            .len()
    }
}

impl Seen {
    /// Drops fingerprints whose window has passed, oldest first.
    fn evict_expired(&mut self, now: Duration, window: Duration) {
        while let Some(&(key, at)) = self.order.front() {
            if now.saturating_sub(at) < window {
                break;
            }
            self.order.pop_front();
            self.remove_if_current(key, at);
        }
    }

    /// Drops the oldest fingerprints until at most `capacity` remain.
    fn shrink_to(&mut self, capacity: usize) {
        while self.first_seen.len() > capacity {
            let Some((key, at)) = self.order.pop_front() else {
                break;
            };
            self.remove_if_current(key, at);
        }
        // Stale queue entries are bounded too, so a clock that jumps around cannot
        // grow the queue without limit.
        while self.order.len() > capacity.saturating_mul(2) {
            if let Some((key, at)) = self.order.pop_front() {
                self.remove_if_current(key, at);
            }
        }
    }

    fn remove_if_current(&mut self, key: u64, at: Duration) {
        if self.first_seen.get(&key) == Some(&at) {
            self.first_seen.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(blocked: &str) -> CspViolation {
        CspViolation {
            document_url: "https://example.com/".into(),
            effective_directive: "img-src".into(),
            blocked_url: Some(blocked.into()),
            ..CspViolation::default()
        }
    }

    const WINDOW: Duration = Duration::from_secs(60);

    #[test]
    fn duplicates_within_the_window_only() {
        let dedup = Deduplicator::default();
        let v = violation("https://a.example/x.png");
        let t0 = Duration::from_secs(1_000);
        assert!(!dedup.is_duplicate(&v, t0, WINDOW, 10));
        assert!(dedup.is_duplicate(&v, t0 + Duration::from_secs(59), WINDOW, 10));
        assert!(!dedup.is_duplicate(&v, t0 + WINDOW, WINDOW, 10));
        assert!(dedup.is_duplicate(&v, t0 + WINDOW + Duration::from_secs(1), WINDOW, 10));
    }

    #[test]
    fn other_fields_do_not_matter() {
        let dedup = Deduplicator::default();
        let mut v = violation("inline");
        let t0 = Duration::from_secs(1);
        assert!(!dedup.is_duplicate(&v, t0, WINDOW, 10));
        v.sample = Some("alert(2)".into());
        v.age_ms = Some(5);
        assert!(dedup.is_duplicate(&v, t0, WINDOW, 10));
        v.line_number = Some(3);
        assert!(!dedup.is_duplicate(&v, t0, WINDOW, 10));
    }

    #[test]
    fn capacity_bounds_memory_and_evicts_oldest() {
        let dedup = Deduplicator::default();
        let t0 = Duration::from_secs(1);
        for i in 0..100 {
            assert!(!dedup.is_duplicate(&violation(&i.to_string()), t0, WINDOW, 8));
            assert!(dedup.len() <= 8);
        }
        // The oldest were forgotten, the newest are remembered.
        assert!(!dedup.is_duplicate(&violation("0"), t0, WINDOW, 8));
        assert!(dedup.is_duplicate(&violation("99"), t0, WINDOW, 8));
    }

    #[test]
    fn expired_entries_are_evicted() {
        let dedup = Deduplicator::default();
        for i in 0..5 {
            dedup.is_duplicate(&violation(&i.to_string()), Duration::ZERO, WINDOW, 8);
        }
        dedup.is_duplicate(&violation("late"), WINDOW * 2, WINDOW, 8);
        assert_eq!(dedup.len(), 1);
    }

    #[test]
    fn clock_going_backwards_never_panics() {
        let dedup = Deduplicator::default();
        let v = violation("x");
        assert!(!dedup.is_duplicate(&v, Duration::from_secs(500), WINDOW, 2));
        assert!(dedup.is_duplicate(&v, Duration::from_secs(10), WINDOW, 2));
        for t in (0..50).rev() {
            dedup.is_duplicate(
                &violation(&t.to_string()),
                Duration::from_secs(t),
                WINDOW,
                2,
            );
        }
        assert!(dedup.len() <= 2);
    }

    #[test]
    fn zero_window_or_capacity_disables() {
        let dedup = Deduplicator::default();
        let v = violation("x");
        for _ in 0..3 {
            assert!(!dedup.is_duplicate(&v, Duration::ZERO, Duration::ZERO, 10));
            assert!(!dedup.is_duplicate(&v, Duration::ZERO, WINDOW, 0));
        }
    }
}
