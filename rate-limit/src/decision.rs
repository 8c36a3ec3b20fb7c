//! What the limiter decided for a request, for headers, audit and metrics.
//!
//! A store answers a check with an [`Outcome`]: one [`QuotaStatus`] per quota of the
//! plan, inline for plans of up to two quotas (no allocation). The layer wraps it in a
//! [`Decision`] with the plan and
//! puts it into the request extensions (for the handler) and the response extensions
//! (for an outer audit layer), whether the request passed or not.
//!
//! # Example
//!
//! ```
//! use axum::{Router, body::Body, extract::Extension, routing::get};
//! use http::Request;
//! use http_body_util::BodyExt;
//! use portcullis_rate_limit::{decision::Decision, layer::RateLimitLayer};
//! use portcullis_rate_limit::request::{PlanName, TenantId};
//! use tower::ServiceExt;
//!
//! // A handler reading how much quota is left.
//! async fn handler(Extension(decision): Extension<Decision>) -> String {
//!     let (quota, status) = decision.most_constraining().unwrap();
//!     format!("{} left in the {} quota", status.remaining(), quota.name())
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new().route("/", get(handler)).layer(RateLimitLayer::multi_tenant());
//! let mut request = Request::get("/").body(Body::empty()).unwrap();
//! request.extensions_mut().insert(TenantId::new("acme"));
//! request.extensions_mut().insert(PlanName::new("free"));
//! let response = app.oneshot(request).await.unwrap();
//!
//! // The layer also left the decision in the response, for outer layers.
//! assert!(response.extensions().get::<Decision>().unwrap().allowed());
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "9 left in the minute quota");
//! # });
//! ```

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::clock::saturating_nanos;
use smallvec::SmallVec;

use crate::algorithm::Check;
use crate::plan::Plan;
use crate::quota::Quota;

/// The most quotas one plan may have.
///
/// ```
/// use portcullis_rate_limit::{decision::MAX_QUOTAS, plan::Plan, quota::Quota};
/// let quotas = (0..=MAX_QUOTAS).map(|i| Quota::per_minute(format!("q{i}"), 1));
/// assert!(Plan::new("too-many", quotas).is_err());
/// ```
pub const MAX_QUOTAS: usize = 8;

/// How one quota stood after a check.
///
/// ```
/// use std::time::Duration;
/// use portcullis_rate_limit::decision::QuotaStatus;
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
    /// use portcullis_rate_limit::decision::QuotaStatus;
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
    /// use portcullis_rate_limit::decision::QuotaStatus;
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
    /// use portcullis_rate_limit::decision::QuotaStatus;
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
    /// use portcullis_rate_limit::decision::QuotaStatus;
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
    /// use portcullis_rate_limit::decision::QuotaStatus;
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
/// use portcullis_rate_limit::decision::{Outcome, QuotaStatus};
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
    /// use portcullis_rate_limit::decision::{Outcome, QuotaStatus};
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
    /// use portcullis_rate_limit::decision::{Outcome, QuotaStatus};
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
    /// use portcullis_rate_limit::decision::{Outcome, QuotaStatus};
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

/// How a request was limited while the store could not answer: the
/// [`FailurePolicy`](crate::layer::FailurePolicy) that applied.
///
/// A [`Decision`] made by the fallback limiter says so in
/// [`Decision::degraded`]; requests that failed open or closed have no decision, and
/// carry this value alone in their request and response extensions. With
/// [`degraded_header`](crate::layer::RateLimitLayer::degraded_header), responses say it
/// in `x-ratelimit-degraded` ([`as_str`](Self::as_str)).
///
/// ```
/// use portcullis_rate_limit::decision::Degraded;
/// assert_eq!(Degraded::FailOpen.as_str(), "fail-open");
/// assert_eq!(Degraded::Fallback.to_string(), "fallback");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Degraded {
    /// Let through unlimited ([`FailOpen`](crate::layer::FailurePolicy::FailOpen)).
    FailOpen,
    /// Refused with `503` ([`FailClosed`](crate::layer::FailurePolicy::FailClosed)).
    FailClosed,
    /// Decided by the local fallback limiter
    /// ([`Fallback`](crate::layer::FailurePolicy::Fallback)).
    Fallback,
}

impl Degraded {
    /// The mode's name: `fail-open`, `fail-closed` or `fallback`, the values of the
    /// `x-ratelimit-degraded` header.
    ///
    /// ```
    /// use portcullis_rate_limit::decision::Degraded;
    /// assert_eq!(Degraded::FailClosed.as_str(), "fail-closed");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::FailOpen => "fail-open",
            Self::FailClosed => "fail-closed",
            Self::Fallback => "fallback",
        }
    }
}

impl std::fmt::Display for Degraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The limiter's decision for one request, as found in the request and response
/// extensions.
///
/// ```
/// use std::sync::Arc;
/// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
///
/// let plan = Arc::new(Plan::free());
/// let mut states = [QuotaState::default(); 2];
/// let outcome = plan.check(&mut states, 0, 1);
/// let decision = Decision::new(plan, outcome, 1, 0, false);
/// assert!(decision.allowed());
/// assert_eq!(decision.most_constraining().unwrap().0.name(), "minute");
/// ```
///
/// Cheap to clone: the plan is shared behind an `Arc`, and the numbers of plans of up
/// to two quotas are kept inline, so a clone allocates nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    plan: Arc<Plan>,
    outcome: Outcome,
    cost: u64,
    decided_at_ns: u64,
    shadow: bool,
    degraded: Option<Degraded>,
}

impl Decision {
    /// A decision over `plan` for a request of `cost`, decided at `decided_at_ns`
    /// (nanoseconds since the Unix epoch); `shadow` when the layer only observes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert!(decision.allowed());
    /// ```
    pub fn new(
        plan: Arc<Plan>,
        outcome: Outcome,
        cost: u64,
        decided_at_ns: u64,
        shadow: bool,
    ) -> Self {
        Self {
            plan,
            outcome,
            cost,
            decided_at_ns,
            shadow,
            degraded: None,
        }
    }

    /// Marks the decision as made in a degraded mode.
    #[cfg(feature = "memory")]
    pub(crate) fn with_degraded(mut self, degraded: Degraded) -> Self {
        self.degraded = Some(degraded);
        self
    }

    /// The plan the request was checked against.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert_eq!(decision.plan().name(), "free");
    /// ```
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub(crate) fn plan_arc(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// The store's outcome.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert_eq!(decision.outcome().statuses()[0].remaining(), 9);
    /// ```
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Whether every quota allowed the request.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert!(decision.allowed());
    /// ```
    pub fn allowed(&self) -> bool {
        self.outcome.allowed()
    }

    /// Whether the request was refused: denied and not in shadow mode.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert!(!decision.rejected());
    /// ```
    pub fn rejected(&self) -> bool {
        !self.allowed() && !self.shadow
    }

    /// Whether the layer runs in shadow (dry-run) mode: a denial was only recorded.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert!(!decision.shadow());
    /// ```
    pub fn shadow(&self) -> bool {
        self.shadow
    }

    /// `Some` when the store could not answer and the decision was made otherwise
    /// (by the local [fallback](crate::layer::Fallback) limiter: its plan is the
    /// scaled-down one); `None` for the store's own decisions.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert_eq!(decision.degraded(), None);
    /// ```
    pub fn degraded(&self) -> Option<Degraded> {
        self.degraded
    }

    /// The request's cost.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert_eq!(decision.cost(), 1);
    /// ```
    pub fn cost(&self) -> u64 {
        self.cost
    }

    /// When the decision was made, since the Unix epoch.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert_eq!(decision.decided_at(), std::time::Duration::from_secs(5));
    /// ```
    pub fn decided_at(&self) -> Duration {
        Duration::from_nanos(self.decided_at_ns)
    }

    pub(crate) fn decided_at_ns(&self) -> u64 {
        self.decided_at_ns
    }

    /// Each quota with its status, in plan order.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// let names: Vec<_> = decision.quotas().map(|(quota, _)| quota.name()).collect();
    /// assert_eq!(names, ["minute", "day"]);
    /// ```
    pub fn quotas(&self) -> impl Iterator<Item = (&Quota, &QuotaStatus)> {
        self.plan.quotas().iter().zip(self.outcome.statuses())
    }

    /// The quotas that denied the request.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert_eq!(decision.violated().count(), 0);
    /// ```
    pub fn violated(&self) -> impl Iterator<Item = &Quota> {
        self.quotas()
            .filter(|(_, status)| !status.allowed())
            .map(|(quota, _)| quota)
    }

    /// The quota the headers report: when denied, the denying quota with the longest
    /// wait; when allowed, the one with the least remaining (the later reset on ties).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// let (quota, status) = decision.most_constraining().unwrap();
    /// assert_eq!((quota.name(), status.remaining()), ("minute", 9));
    /// ```
    pub fn most_constraining(&self) -> Option<(&Quota, &QuotaStatus)> {
        self.most_constraining_index().and_then(|index| {
            Some((
                self.plan.quotas().get(index)?,
                self.outcome.statuses().get(index)?,
            ))
        })
    }

    pub(crate) fn most_constraining_index(&self) -> Option<usize> {
        let statuses = self.outcome.statuses();
        if self.allowed() {
            (0..statuses.len()).min_by(|&a, &b| {
                let (a, b) = (&statuses[a], &statuses[b]);
                a.remaining
                    .cmp(&b.remaining)
                    .then(b.reset_ns.cmp(&a.reset_ns))
            })
        } else {
            (0..statuses.len())
                .filter(|&index| !statuses[index].allowed())
                .max_by_key(|&index| statuses[index].retry_after_ns)
        }
    }

    /// When denied, how long until the request would fit every quota.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 5_000_000_000, false);
    /// assert_eq!(decision.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.outcome
            .statuses()
            .iter()
            .filter_map(QuotaStatus::retry_after)
            .max()
    }

    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up and at least 1:
    /// the `Retry-After` value, which is never earlier than the reset.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{algorithm::QuotaState, decision::Decision, plan::Plan};
    /// let plan = Arc::new(Plan::free());
    /// let mut states = [QuotaState::default(); 2];
    /// for _ in 0..10 {
    ///     plan.check(&mut states, 0, 1);
    /// }
    /// let outcome = plan.check(&mut states, 0, 1);
    /// let decision = Decision::new(plan, outcome, 1, 0, false);
    /// assert_eq!(decision.retry_after_secs(), Some(6));
    /// ```
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.outcome
            .statuses()
            .iter()
            .filter(|status| !status.allowed())
            .map(QuotaStatus::retry_after_secs)
            .max()
    }
}
