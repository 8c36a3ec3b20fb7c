//! An injectable clock.
//!
//! Layers that decide by time (rate limits, signature tolerances, cache expiry) take a
//! [`Clock`] so that tests drive time explicitly with a [`ManualClock`] instead of
//! sleeping.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use portcullis_core::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! let view = clock.clone();
//! clock.advance(Duration::from_secs(61));
//! assert_eq!(view.unix_time(), Duration::from_secs(1_700_000_061));
//! ```

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
///
/// Implemented by [`SystemClock`] for production and [`ManualClock`] for tests; any
/// `Arc<C>` of a clock is a clock too.
pub trait Clock: Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time as a duration since the Unix epoch (zero before 1970).
    ///
    /// ```
    /// use portcullis_core::clock::{Clock, SystemClock};
    /// assert!(SystemClock.unix_time().as_secs() > 1_600_000_000);
    /// ```
    fn unix_time(&self) -> Duration {
        self.now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}

/// The operating system's clock.
///
/// ```
/// use portcullis_core::clock::{Clock, SystemClock};
/// let before = std::time::SystemTime::now();
/// assert!(SystemClock.now() >= before);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; clones share one time.
///
/// Nanosecond resolution, from the Unix epoch up to the year 2554.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use portcullis_core::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::at_unix(Duration::from_secs(10));
/// clock.set(UNIX_EPOCH + Duration::from_secs(5));
/// assert_eq!(clock.unix_time(), Duration::from_secs(5));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    unix_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `time`; times before the epoch stand at the epoch.
    pub fn new(time: SystemTime) -> Self {
        let clock = Self::default();
        clock.set(time);
        clock
    }

    /// A clock standing `since_epoch` after the Unix epoch.
    pub fn at_unix(since_epoch: Duration) -> Self {
        Self::new(UNIX_EPOCH + since_epoch)
    }

    /// Moves every clone of this clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.unix_nanos
            .fetch_add(saturating_nanos(by), Ordering::SeqCst);
    }

    /// Sets every clone of this clock to `time` (backwards too, to test skew).
    pub fn set(&self, time: SystemTime) {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        self.unix_nanos
            .store(saturating_nanos(since), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.unix_nanos.load(Ordering::SeqCst))
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_time_and_advance_accumulates() {
        let clock = ManualClock::at_unix(Duration::from_secs(100));
        let clone = clock.clone();
        clock.advance(Duration::from_millis(1500));
        clone.advance(Duration::from_nanos(1));
        assert_eq!(
            clock.unix_time(),
            Duration::from_secs(101) + Duration::from_nanos(500_000_001)
        );
    }

    #[test]
    fn times_before_epoch_clamp_to_epoch() {
        let clock = ManualClock::new(UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!(clock.unix_time(), Duration::ZERO);
    }

    #[test]
    fn arc_dyn_clock_delegates() {
        let manual = ManualClock::at_unix(Duration::from_secs(42));
        let shared: Arc<dyn Clock> = Arc::new(manual.clone());
        manual.advance(Duration::from_secs(1));
        assert_eq!(shared.unix_time(), Duration::from_secs(43));
    }
}
