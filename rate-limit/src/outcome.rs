//! The result of a check: an [`Outcome`], one [`QuotaStatus`] per quota of the plan.
//!
//! A store answers a check with an [`Outcome`], in plan order, kept inline for plans of
//! up to two quotas (no allocation); [`Plan::check`](crate::plan::Plan::check) makes
//! one, and so does every store. The layer wraps it in a
//! [`Decision`](crate::decision::Decision) with the plan. Plans have at most
//! [`MAX_QUOTAS`] quotas.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use portcullis_rate_limit::outcome::{Outcome, QuotaStatus};
//!
//! let outcome = Outcome::from_statuses([
//!     QuotaStatus::new(true, 5, Duration::from_secs(10), Duration::ZERO),
//!     QuotaStatus::new(false, 0, Duration::from_secs(3), Duration::from_secs(3)),
//! ]);
//! assert!(!outcome.allowed());
//! assert_eq!(outcome.statuses()[1].retry_after(), Some(Duration::from_secs(3)));
//! ```

use std::time::Duration;

use portcullis_core::clock::saturating_nanos;
use smallvec::SmallVec;

use crate::algorithm::Check;

/// The most quotas one plan may have.
///
/// ```
/// use portcullis_rate_limit::{outcome::MAX_QUOTAS, plan::Plan, quota::Quota};
/// let quotas = (0..=MAX_QUOTAS).map(|i| Quota::per_minute(format!("q{i}"), 1));
/// assert!(Plan::new("too-many", quotas).is_err());
/// ```
pub const MAX_QUOTAS: usize = 8;

/// How one quota stood after a check.
///
/// ```
/// use std::time::Duration;
/// use portcullis_rate_limit::outcome::QuotaStatus;
///
/// let status = QuotaStatus::new(false, 0, Duration::from_secs(42), Duration::from_secs(42));
/// assert!(!status.allowed());
/// assert_eq!(status.retry_after(), Some(Duration::from_secs(42)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaStatus {
    remaining: u64,
    reset_ns: u64,
    /// 0 when allowed, at least 1 when denied.
    retry_after_ns: u64,
}

impl QuotaStatus {
    /// A status, for stores that compute decisions elsewhere (a Redis script).
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_rate_limit::outcome::QuotaStatus;
    /// let status = QuotaStatus::new(true, 9, Duration::from_secs(6), Duration::ZERO);
    /// assert!(status.allowed());
    /// ```
    pub fn new(allowed: bool, remaining: u64, reset: Duration, retry_after: Duration) -> Self {
        Self {
            remaining,
            reset_ns: saturating_nanos(reset),
            retry_after_ns: if allowed {
                0
            } else {
                saturating_nanos(retry_after).max(1)
            },
        }
    }

    /// Whether this quota had room for the request.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_rate_limit::outcome::QuotaStatus;
    /// assert!(!QuotaStatus::new(false, 0, Duration::from_secs(1), Duration::from_secs(1)).allowed());
    /// ```
    #[inline]
    pub fn allowed(&self) -> bool {
        self.retry_after_ns == 0
    }

    /// Requests of cost 1 that still fit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_rate_limit::outcome::QuotaStatus;
    /// assert_eq!(QuotaStatus::new(true, 4, Duration::ZERO, Duration::ZERO).remaining(), 4);
    /// ```
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Time until the quota resets (its window ends or its bucket is full); for a
    /// quota that denied, until the request would fit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_rate_limit::outcome::QuotaStatus;
    /// let status = QuotaStatus::new(true, 4, Duration::from_secs(30), Duration::ZERO);
    /// assert_eq!(status.reset(), Duration::from_secs(30));
    /// ```
    pub fn reset(&self) -> Duration {
        Duration::from_nanos(self.reset_ns)
    }

    /// For a quota that denied, how long until the request would fit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_rate_limit::outcome::QuotaStatus;
    /// assert_eq!(QuotaStatus::new(true, 4, Duration::ZERO, Duration::ZERO).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        (!self.allowed()).then(|| Duration::from_nanos(self.retry_after_ns))
    }

    /// This status `elapsed_ns` later, if nothing is consumed meanwhile, as far as a
    /// status alone tells: the waits shrink by `elapsed_ns`; a denying quota whose wait
    /// is over would admit `cost` (the cost it denied) and reports that much remaining.
    #[cfg(feature = "negative-cache")]
    pub(crate) fn later(self, elapsed_ns: u64, cost: u64) -> Self {
        let reset_ns = self.reset_ns.saturating_sub(elapsed_ns);
        if self.allowed() {
            return Self { reset_ns, ..self };
        }
        match self.retry_after_ns.saturating_sub(elapsed_ns) {
            0 => Self {
                remaining: self.remaining.max(cost),
                reset_ns,
                retry_after_ns: 0,
            },
            retry_after_ns => Self {
                reset_ns,
                retry_after_ns,
                ..self
            },
        }
    }

    /// [`reset`](Self::reset) in nanoseconds.
    pub(crate) fn reset_ns(&self) -> u64 {
        self.reset_ns
    }

    /// [`retry_after`](Self::retry_after) in nanoseconds, 0 when allowed.
    pub(crate) fn retry_after_ns(&self) -> u64 {
        self.retry_after_ns
    }

    /// [`reset`](Self::reset) in whole seconds, rounded up.
    pub(crate) fn reset_secs(&self) -> u64 {
        self.reset_ns.div_ceil(1_000_000_000)
    }

    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up, at least 1.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        self.retry_after_ns.div_ceil(1_000_000_000).max(1)
    }
}

impl From<Check> for QuotaStatus {
    #[inline]
    fn from(check: Check) -> Self {
        Self {
            remaining: check.remaining,
            reset_ns: check.reset,
            retry_after_ns: if check.allowed {
                0
            } else {
                check.retry_after.max(1)
            },
        }
    }
}

/// How many statuses an [`Outcome`] keeps inline; larger plans' go to the heap.
const INLINE_STATUSES: usize = 2;

/// A store's answer to a check: the status of each quota, in plan order, kept inline
/// for plans of up to two quotas.
///
/// ```
/// use std::time::Duration;
/// use portcullis_rate_limit::outcome::{Outcome, QuotaStatus};
///
/// let outcome = Outcome::from_statuses([
///     QuotaStatus::new(true, 5, Duration::from_secs(10), Duration::ZERO),
///     QuotaStatus::new(false, 0, Duration::from_secs(3), Duration::from_secs(3)),
/// ]);
/// assert!(!outcome.allowed());
/// assert_eq!(outcome.statuses().len(), 2);
/// ```
#[derive(Debug, Eq)]
pub struct Outcome {
    statuses: SmallVec<[QuotaStatus; INLINE_STATUSES]>,
    answered_locally: bool,
}

impl Clone for Outcome {
    /// A copy of the statuses (the derived clone would push them one by one).
    fn clone(&self) -> Self {
        Self {
            statuses: SmallVec::from_slice(&self.statuses),
            answered_locally: self.answered_locally,
        }
    }
}

impl PartialEq for Outcome {
    /// Outcomes are equal when they decide the same: where the answer came from is not
    /// part of the decision.
    fn eq(&self, other: &Self) -> bool {
        self.statuses == other.statuses
    }
}

impl Outcome {
    /// An outcome of these statuses (at most [`MAX_QUOTAS`] are kept).
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_rate_limit::outcome::{Outcome, QuotaStatus};
    /// let outcome = Outcome::from_statuses([QuotaStatus::new(true, 1, Duration::ZERO, Duration::ZERO)]);
    /// assert!(outcome.allowed());
    /// ```
    pub fn from_statuses(statuses: impl IntoIterator<Item = QuotaStatus>) -> Self {
        Self {
            statuses: statuses.into_iter().take(MAX_QUOTAS).collect(),
            answered_locally: false,
        }
    }

    /// The outcome of a one-quota plan.
    #[cfg(feature = "memory")]
    #[inline]
    pub(crate) fn one(status: QuotaStatus) -> Self {
        Self {
            statuses: SmallVec::from_buf_and_len([status, QuotaStatus::default()], 1),
            answered_locally: false,
        }
    }

    /// The outcome of a two-quota plan's checks for a request of `cost`.
    #[cfg(feature = "memory")]
    #[inline]
    pub(crate) fn two(first: Check, second: Check, cost: u64) -> Self {
        let allowed = first.allowed && second.allowed;
        let status = |check: Check| {
            let mut status = QuotaStatus::from(check);
            if !allowed && check.allowed {
                status.remaining = status.remaining.saturating_add(cost);
            }
            status
        };
        Self {
            statuses: SmallVec::from_buf([status(first), status(second)]),
            answered_locally: false,
        }
    }

    /// The outcome of these checks of a plan's quotas (in plan order) for a request of
    /// `cost`. On an overall denial nothing was consumed: quotas that had room report
    /// the remaining before this request.
    #[inline]
    pub(crate) fn from_checks(checks: &[Check], cost: u64) -> Self {
        let allowed = checks.iter().all(|check| check.allowed);
        Self {
            statuses: checks
                .iter()
                .map(|check| {
                    let mut status = QuotaStatus::from(*check);
                    if !allowed && check.allowed {
                        status.remaining = status.remaining.saturating_add(cost);
                    }
                    status
                })
                .collect(),
            answered_locally: false,
        }
    }

    /// Whether every quota allowed the request (and so it was consumed).
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_rate_limit::outcome::{Outcome, QuotaStatus};
    /// let denied = QuotaStatus::new(false, 0, Duration::from_secs(1), Duration::from_secs(1));
    /// assert!(!Outcome::from_statuses([denied]).allowed());
    /// ```
    #[inline]
    pub fn allowed(&self) -> bool {
        self.statuses().iter().all(QuotaStatus::allowed)
    }

    /// The status of each quota, in plan order.
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::QuotaState, plan::Plan};
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = Plan::free().check(&mut states, 0, 1);
    /// assert_eq!(outcome.statuses().len(), 2);
    /// ```
    #[inline]
    pub fn statuses(&self) -> &[QuotaStatus] {
        &self.statuses
    }

    /// Marks the outcome as answered without asking the store: a store wrapper that
    /// answers from what it remembers (as
    /// [`NegativeCache`](crate::store::negative_cache::NegativeCache) does) says so, so
    /// that the layer does not take the answer for the store's recovery while the store
    /// is failing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_rate_limit::outcome::{Outcome, QuotaStatus};
    /// let denied = QuotaStatus::new(false, 0, Duration::from_secs(9), Duration::from_secs(9));
    /// let remembered = Outcome::from_statuses([denied]).answered_locally();
    /// assert!(remembered.is_answered_locally());
    /// assert_eq!(remembered, Outcome::from_statuses([denied]), "it decides the same");
    /// ```
    #[must_use]
    pub fn answered_locally(mut self) -> Self {
        self.answered_locally = true;
        self
    }

    /// Whether the outcome was [answered locally](Self::answered_locally), without a
    /// round trip to the store.
    #[inline]
    pub fn is_answered_locally(&self) -> bool {
        self.answered_locally
    }
}
