//! The rate-limiting algorithms, as pure decision functions.
//!
//! Every store makes its decisions with these functions, so the in-memory store, a
//! Redis script and a test model decide the same way for the same inputs. Each function
//! takes a tiny integer [`QuotaState`], the time in nanoseconds since the Unix epoch and
//! the request's cost, and returns a [`Check`]: whether the request fits and, when it
//! does, the state to write back. Nothing here reads a clock or allocates.
//!
//! - [`gcra`]: the generic cell rate algorithm (a leaky bucket kept as one timestamp):
//!   a rate with a burst.
//! - [`sliding_window`]: two fixed windows, the previous one weighted by how much of it
//!   still overlaps the sliding window.
//! - [`fixed_window`]: a counter per window, optionally aligned to the UTC calendar
//!   (minute, hour, day) for calendar quotas.
//!
//! # Example
//!
//! ```
//! use portcullis_rate_limit::algorithm::{QuotaState, fixed_window};
//!
//! const MINUTE: u64 = 60_000_000_000;
//! let now = 1_700_000_020 * 1_000_000_000; // 40 s into a UTC minute
//! let mut state = QuotaState::default();
//! for _ in 0..2 {
//!     let check = fixed_window::check(state, now, 1, 2, MINUTE, true);
//!     assert!(check.allowed);
//!     state = check.state;
//! }
//! let denied = fixed_window::check(state, now, 1, 2, MINUTE, true);
//! assert!(!denied.allowed);
//! assert_eq!(denied.retry_after, 20_000_000_000); // the next UTC minute
//! ```

pub mod fixed_window;
pub mod gcra;
pub mod sliding_window;

use serde::Deserialize;

/// Which algorithm a [`Quota`](crate::quota::Quota) counts with.
///
/// ```
/// use portcullis_rate_limit::algorithm::{Algorithm, WindowAlignment};
///
/// assert_eq!(Algorithm::default(), Algorithm::Gcra { burst: None });
/// assert_eq!(
///     Algorithm::fixed_window(),
///     Algorithm::FixedWindow { alignment: WindowAlignment::Utc }
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// GCRA: requests flow at `limit / window` and may burst up to `burst` (the
    /// quota's limit when `None`) at once. Smooth, no window edges.
    Gcra {
        /// How many requests may pass at once; the quota's limit when `None`.
        burst: Option<u64>,
    },
    /// The sliding-window counter: the current fixed window's count plus the previous
    /// window's count weighted by its remaining overlap.
    SlidingWindow,
    /// A counter per fixed window.
    FixedWindow {
        /// Where windows start.
        alignment: WindowAlignment,
    },
}

impl Default for Algorithm {
    fn default() -> Self {
        Self::gcra()
    }
}

impl Algorithm {
    /// GCRA with a burst equal to the quota's limit.
    ///
    /// ```
    /// use portcullis_rate_limit::algorithm::Algorithm;
    /// assert_eq!(Algorithm::gcra(), Algorithm::Gcra { burst: None });
    /// ```
    pub fn gcra() -> Self {
        Self::Gcra { burst: None }
    }

    /// GCRA letting `burst` requests pass at once.
    ///
    /// ```
    /// use portcullis_rate_limit::algorithm::Algorithm;
    /// assert_eq!(Algorithm::gcra_with_burst(5), Algorithm::Gcra { burst: Some(5) });
    /// ```
    pub fn gcra_with_burst(burst: u64) -> Self {
        Self::Gcra { burst: Some(burst) }
    }

    /// The sliding-window counter.
    ///
    /// ```
    /// use portcullis_rate_limit::algorithm::Algorithm;
    /// assert_eq!(Algorithm::sliding_window(), Algorithm::SlidingWindow);
    /// ```
    pub fn sliding_window() -> Self {
        Self::SlidingWindow
    }

    /// Fixed windows aligned to the UTC clock: a 60 s window is a UTC minute, a day
    /// window a UTC day (calendar quotas).
    ///
    /// ```
    /// use portcullis_rate_limit::algorithm::{Algorithm, WindowAlignment};
    /// assert_eq!(Algorithm::fixed_window(), Algorithm::FixedWindow { alignment: WindowAlignment::Utc });
    /// ```
    pub fn fixed_window() -> Self {
        Self::FixedWindow {
            alignment: WindowAlignment::Utc,
        }
    }

    /// Fixed windows that start at a key's first request.
    ///
    /// ```
    /// use portcullis_rate_limit::algorithm::{Algorithm, WindowAlignment};
    /// assert_eq!(
    ///     Algorithm::fixed_window_from_first_request(),
    ///     Algorithm::FixedWindow { alignment: WindowAlignment::FirstRequest }
    /// );
    /// ```
    pub fn fixed_window_from_first_request() -> Self {
        Self::FixedWindow {
            alignment: WindowAlignment::FirstRequest,
        }
    }

    /// The algorithm's name as written in configuration: `gcra`, `sliding_window` or
    /// `fixed_window`.
    ///
    /// ```
    /// use portcullis_rate_limit::algorithm::Algorithm;
    /// assert_eq!(Algorithm::sliding_window().name(), "sliding_window");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gcra { .. } => "gcra",
            Self::SlidingWindow => "sliding_window",
            Self::FixedWindow { .. } => "fixed_window",
        }
    }
}

/// Where the windows of a [`fixed window`](Algorithm::FixedWindow) start.
///
/// ```
/// use portcullis_rate_limit::algorithm::WindowAlignment;
/// assert_eq!(WindowAlignment::default(), WindowAlignment::Utc);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WindowAlignment {
    /// Windows are whole multiples of their length since the Unix epoch, so minute,
    /// hour and day windows line up with the UTC clock and every key resets together.
    #[default]
    Utc,
    /// A key's window starts at its first request and lasts the window's length.
    FirstRequest,
}

/// The state one quota keeps for one key: three integers, so any store (and a Redis
/// script) can hold it. All zeroes is the state of a key never seen.
///
/// What the fields mean depends on the algorithm:
///
/// | algorithm | `time` | `count` | `previous` |
/// |---|---|---|---|
/// | GCRA | theoretical arrival time (ns since the epoch) | – | – |
/// | sliding window | start of the current window (ns) | count in it | count in the window before |
/// | fixed window | start of the current window (ns) | count in it | – |
///
/// ```
/// use portcullis_rate_limit::algorithm::QuotaState;
/// assert_eq!(QuotaState::default(), QuotaState { time: 0, count: 0, previous: 0 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct QuotaState {
    /// A time in nanoseconds since the Unix epoch.
    pub time: u64,
    /// A request count (weighted by cost).
    pub count: u64,
    /// The previous window's count (sliding window only).
    pub previous: u64,
}

/// The result of checking one quota: whether the request fits, and the numbers the
/// response headers report. Times are nanoseconds.
///
/// ```
/// use portcullis_rate_limit::algorithm::{QuotaState, gcra};
///
/// // 10 per minute: one every 6 s, bursts of 10.
/// let check = gcra::check(QuotaState::default(), 0, 1, 6_000_000_000, 60_000_000_000);
/// assert!(check.allowed);
/// assert_eq!(check.remaining, 9);
/// assert_eq!(check.retry_after, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// Whether the request fits in the quota.
    pub allowed: bool,
    /// The state to store when the request is admitted (the old state when denied).
    pub state: QuotaState,
    /// Requests of cost 1 that would still fit after this one.
    pub remaining: u64,
    /// Nanoseconds until the quota resets (its window ends, or its bucket is full);
    /// when denied, until this request would fit.
    pub reset: u64,
    /// When denied, nanoseconds until this request would fit; 0 when allowed.
    pub retry_after: u64,
    /// When the stored state stops mattering (it then equals a fresh state): a store
    /// may forget the key after this time (ns since the epoch).
    pub expires_at: u64,
}

/// Saturating conversion of a `u128` to `u64`.
pub(crate) fn saturate(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}
