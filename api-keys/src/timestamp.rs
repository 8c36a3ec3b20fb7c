//! [`Timestamp`]: the times of a key record, in whole microseconds.
//!
//! Microseconds are the finest resolution PostgreSQL's `timestamptz` keeps, and a
//! signed 64-bit count of them is what `BIGINT`/`INTEGER` columns, Redis integers and
//! JSON numbers (below 2^53, until the year 2255) hold exactly, so a record reads back
//! from any backend exactly as written.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use portcullis_api_keys::timestamp::Timestamp;
//! use portcullis_core::clock::ManualClock;
//!
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789));
//! let now = Timestamp::now(&clock);
//! assert_eq!(now.as_unix_micros(), 1_700_000_000_123_456); // truncated
//! assert_eq!(now.saturating_add(Duration::from_secs(1)).as_unix_micros(), 1_700_000_001_123_456);
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portcullis_core::clock::Clock;
use serde::{Deserialize, Serialize};

/// A point in time: whole microseconds since the Unix epoch, as a signed 64-bit
/// integer (about ±292,000 years). Ordered, `Copy`, serialized as that integer.
///
/// Converting a [`SystemTime`] truncates toward the past, so converting and comparing
/// agree with the original times' order.
///
/// SQL backends store [`as_unix_micros`](Self::as_unix_micros) in a `BIGINT` (or
/// convert to `timestamptz`, which holds 4713 BC to 294276 AD: any time a clock reads).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use portcullis_api_keys::timestamp::Timestamp;
///
/// let time = UNIX_EPOCH + Duration::from_nanos(1_500);
/// let stamp = Timestamp::from(time);
/// assert_eq!(stamp, Timestamp::from_unix_micros(1));
/// assert_eq!(stamp.to_system_time(), Some(UNIX_EPOCH + Duration::from_micros(1)));
/// assert_eq!(serde_json::to_string(&stamp).unwrap(), "1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    ///
    /// ```
    /// use portcullis_api_keys::timestamp::Timestamp;
    /// assert_eq!(Timestamp::UNIX_EPOCH.as_unix_micros(), 0);
    /// ```
    pub const UNIX_EPOCH: Self = Self(0);

    /// The time `micros` microseconds after (or, negative, before) the Unix epoch.
    ///
    /// ```
    /// use portcullis_api_keys::timestamp::Timestamp;
    /// assert!(Timestamp::from_unix_micros(-1) < Timestamp::UNIX_EPOCH);
    /// ```
    pub const fn from_unix_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    ///
    /// ```
    /// use portcullis_api_keys::timestamp::Timestamp;
    /// assert_eq!(Timestamp::from_unix_micros(42).as_unix_micros(), 42);
    /// ```
    pub const fn as_unix_micros(self) -> i64 {
        self.0
    }

    /// The time `clock` reads, truncated to the microsecond.
    ///
    /// ```
    /// use portcullis_api_keys::timestamp::Timestamp;
    /// use portcullis_core::clock::SystemClock;
    /// assert!(Timestamp::now(&SystemClock).as_unix_micros() > 1_600_000_000_000_000);
    /// ```
    pub fn now(clock: &(impl Clock + ?Sized)) -> Self {
        Self::from(clock.now())
    }

    /// The time as a [`SystemTime`]; `None` if the platform's `SystemTime` cannot hold
    /// it (on Linux it holds every timestamp).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use portcullis_api_keys::timestamp::Timestamp;
    /// let stamp = Timestamp::from_unix_micros(-2);
    /// assert_eq!(stamp.to_system_time(), Some(UNIX_EPOCH - Duration::from_micros(2)));
    /// ```
    pub fn to_system_time(self) -> Option<SystemTime> {
        let magnitude = Duration::from_micros(self.0.unsigned_abs());
        if self.0 >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        }
    }

    /// This time plus `duration` (truncated to microseconds), saturating at the end of
    /// the range: an expiry `ttl` from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_api_keys::timestamp::Timestamp;
    /// let t = Timestamp::from_unix_micros(10);
    /// assert_eq!(t.saturating_add(Duration::from_nanos(2_999)).as_unix_micros(), 12);
    /// assert_eq!(t.saturating_add(Duration::MAX).as_unix_micros(), i64::MAX);
    /// ```
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Self {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(micros))
    }
}

impl From<SystemTime> for Timestamp {
    /// Truncates toward the past to whole microseconds; saturates beyond ±292,000
    /// years.
    fn from(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(i64::try_from(after.as_micros()).unwrap_or(i64::MAX)),
            Err(before) => {
                let before = before.duration();
                // Round the distance up: the floor of a negative time.
                let micros = before.as_micros() + u128::from(before.subsec_nanos() % 1_000 != 0);
                Self(i64::try_from(micros).map_or(i64::MIN, |micros| -micros))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_times_truncate_toward_the_past() {
        let cases = [
            (UNIX_EPOCH + Duration::from_nanos(999), 0),
            (UNIX_EPOCH + Duration::from_nanos(1_000), 1),
            (UNIX_EPOCH - Duration::from_nanos(1), -1),
            (UNIX_EPOCH - Duration::from_nanos(1_000), -1),
            (UNIX_EPOCH - Duration::from_nanos(1_001), -2),
        ];
        for (time, micros) in cases {
            assert_eq!(Timestamp::from(time).as_unix_micros(), micros, "{time:?}");
        }
    }

    #[test]
    fn whole_microseconds_round_trip() {
        for micros in [0, 1, -1, 1_700_000_000_123_456, -62_135_596_800_000_000] {
            let stamp = Timestamp::from_unix_micros(micros);
            assert_eq!(Timestamp::from(stamp.to_system_time().unwrap()), stamp);
            let json = serde_json::to_string(&stamp).unwrap();
            assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), stamp);
        }
    }

    #[test]
    fn order_survives_conversion() {
        let a = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_001);
        let b = a + Duration::from_nanos(998);
        assert!(Timestamp::from(a) <= Timestamp::from(b));
    }
}
