//! An injectable clock.
//!
//! Layers that decide by time (rate limits, signature tolerances, cache expiry) take a
//! [`Clock`] so that tests drive time explicitly with a [`ManualClock`] instead of
//! sleeping. [`FastClock`] reads the wall clock several times faster than
//! [`SystemClock`], for hot paths that read it on every request.
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
    fn unix_time(&self) -> Duration {
        self.now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }

    /// The current time in whole nanoseconds since the Unix epoch (zero before 1970,
    /// saturating in 2554): the unit integer-based algorithms count in, read without
    /// going through a `Duration` where the clock allows.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_core::clock::{Clock, ManualClock};
    /// assert_eq!(ManualClock::at_unix(Duration::from_secs(2)).unix_nanos(), 2_000_000_000);
    /// ```
    fn unix_nanos(&self) -> u64 {
        saturating_nanos(self.unix_time())
    }
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The wall clock read through the CPU's time-stamp counter: a few nanoseconds per read
/// instead of a `clock_gettime` call, for hot paths (a rate limiter reads the time on
/// every request). Clones share one anchor.
///
/// The time is the system clock at the last anchor plus the monotonic time elapsed
/// since, and the clock re-anchors to the system clock every second; a step of the
/// system clock (NTP) therefore shows within a second, and each re-anchor may move the
/// time by the drift accumulated in that second (microseconds at most). Where the CPU
/// has no usable counter it falls back to the OS monotonic clock.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use portcullis_core::clock::{Clock, FastClock};
///
/// let clock = FastClock::new();
/// let system = SystemTime::now();
/// let fast = clock.now();
/// let skew = fast.duration_since(system).unwrap_or_else(|e| e.duration());
/// assert!(skew < Duration::from_millis(100));
/// ```
#[derive(Clone, Debug)]
pub struct FastClock {
    inner: Arc<FastClockInner>,
}

#[derive(Debug)]
struct FastClockInner {
    counter: quanta::Clock,
    /// The raw counter when the clock was made.
    start: u64,
    /// Wall-clock nanoseconds minus monotonic nanoseconds, wrapping.
    offset: AtomicU64,
    /// Monotonic nanoseconds at the last anchor.
    anchored_at: AtomicU64,
}

/// How often [`FastClock`] re-reads the system clock.
const REANCHOR_NANOS: u64 = 1_000_000_000;

impl Default for FastClock {
    fn default() -> Self {
        Self::new()
    }
}

impl FastClock {
    /// A clock anchored to the system clock now. The first one in a process calibrates
    /// the counter, which takes a few milliseconds.
    pub fn new() -> Self {
        let counter = quanta::Clock::new();
        let start = counter.raw();
        let clock = Self {
            inner: Arc::new(FastClockInner {
                counter,
                start,
                offset: AtomicU64::new(0),
                anchored_at: AtomicU64::new(0),
            }),
        };
        clock.anchor(0);
        clock
    }

    fn monotonic_nanos(&self) -> u64 {
        // Raw counter to nanoseconds by a multiply and a shift: no division.
        let inner = &self.inner;
        inner
            .counter
            .delta_as_nanos(inner.start, inner.counter.raw())
    }

    fn anchor(&self, monotonic: u64) {
        let wall = saturating_nanos(SystemClock.unix_time());
        self.inner
            .offset
            .store(wall.wrapping_sub(monotonic), Ordering::Relaxed);
        self.inner.anchored_at.store(monotonic, Ordering::Relaxed);
    }

    fn read_nanos(&self) -> u64 {
        let monotonic = self.monotonic_nanos();
        let anchored_at = self.inner.anchored_at.load(Ordering::Relaxed);
        if monotonic.wrapping_sub(anchored_at) >= REANCHOR_NANOS {
            // Racing re-anchors are harmless: each writes a correct offset.
            self.anchor(monotonic);
        }
        monotonic.wrapping_add(self.inner.offset.load(Ordering::Relaxed))
    }
}

impl Clock for FastClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.read_nanos())
    }

    fn unix_time(&self) -> Duration {
        Duration::from_nanos(self.unix_nanos())
    }

    fn unix_nanos(&self) -> u64 {
        self.read_nanos()
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

    fn unix_nanos(&self) -> u64 {
        self.unix_nanos.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }

    fn unix_time(&self) -> Duration {
        (**self).unix_time()
    }

    fn unix_nanos(&self) -> u64 {
        (**self).unix_nanos()
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (as a time since the
/// Unix epoch: good until the year 2554), the unit of Portcullis' time arithmetic.
///
/// ```
/// use std::time::Duration;
/// use portcullis_core::clock::saturating_nanos;
/// assert_eq!(saturating_nanos(Duration::from_millis(2)), 2_000_000);
/// assert_eq!(saturating_nanos(Duration::MAX), u64::MAX);
/// ```
pub fn saturating_nanos(duration: Duration) -> u64 {
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
    fn fast_clock_follows_the_system_clock() {
        let fast = FastClock::new();
        let clone = fast.clone();
        for _ in 0..3 {
            assert_within_50ms_of_the_system_clock(|| clone.unix_time());
            std::thread::sleep(Duration::from_millis(20));
        }
        let a = fast.unix_time();
        let b = fast.unix_time();
        assert!(b >= a);
        assert_within_50ms_of_the_system_clock(|| Duration::from_nanos(fast.unix_nanos()));
    }

    /// `read()` is within 50 ms of the system clock read just before and just after it,
    /// however long the thread was descheduled between the reads.
    fn assert_within_50ms_of_the_system_clock(read: impl FnOnce() -> Duration) {
        const SKEW: Duration = Duration::from_millis(50);
        let before = SystemClock.unix_time();
        let read = read();
        let after = SystemClock.unix_time();
        assert!(
            read + SKEW > before && read < after + SKEW,
            "{read:?} is not within {SKEW:?} of [{before:?}, {after:?}]"
        );
    }

    #[test]
    fn fast_clock_reanchors_after_a_second() {
        let fast = FastClock::new();
        let before = fast.inner.anchored_at.load(Ordering::Relaxed);
        let _ = fast.unix_time();
        assert_eq!(fast.inner.anchored_at.load(Ordering::Relaxed), before);
        // Pretend the last anchor is old: the next read re-anchors.
        fast.inner.anchored_at.store(0, Ordering::Relaxed);
        fast.inner.offset.store(0, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(5));
        fast.inner
            .anchored_at
            .store(u64::MAX - REANCHOR_NANOS, Ordering::Relaxed);
        assert_within_50ms_of_the_system_clock(|| fast.unix_time());
    }

    #[test]
    fn arc_dyn_clock_delegates() {
        let manual = ManualClock::at_unix(Duration::from_secs(42));
        let shared: Arc<dyn Clock> = Arc::new(manual.clone());
        manual.advance(Duration::from_secs(1));
        assert_eq!(shared.unix_time(), Duration::from_secs(43));
    }
}
