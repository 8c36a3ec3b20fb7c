//! What the limiter decided for a request, for headers, audit and metrics.
//!
//! A store answers a check with an [`Outcome`]: one status
//! per quota of the plan. The layer wraps it in a [`Decision`] with the plan and puts
//! it into the request extensions (for the handler) and the response extensions (for
//! an outer audit layer), whether the request passed or not.
//!
//! # Example
//!
//! ```
//! use axum::{Router, body::Body, extract::Extension, routing::get};
//! use http::Request;
//! use http_body_util::BodyExt;
//! use portcullis_rate_limit::{Decision, RateLimitLayer};
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

#[doc(no_inline)]
pub use crate::outcome::{MAX_QUOTAS, Outcome, QuotaStatus};
use crate::plan::Plan;
use crate::quota::Quota;

/// How a request was limited while the store could not answer: the
/// [`FailurePolicy`](crate::rate_limit::FailurePolicy) that applied.
///
/// A [`Decision`] made by the fallback limiter says so in
/// [`Decision::degraded`]; requests that failed open or closed have no decision, and
/// carry this value alone in their request and response extensions. With
/// [`degraded_header`](crate::rate_limit::RateLimitLayer::degraded_header), responses say it
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
    /// Let through unlimited ([`FailOpen`](crate::rate_limit::FailurePolicy::FailOpen)).
    FailOpen,
    /// Refused with `503` ([`FailClosed`](crate::rate_limit::FailurePolicy::FailClosed)).
    FailClosed,
    /// Decided by the local fallback limiter
    /// ([`Fallback`](crate::rate_limit::FailurePolicy::Fallback)).
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
    /// (by the local [fallback](crate::rate_limit::Fallback) limiter: its plan is the
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
                a.remaining()
                    .cmp(&b.remaining())
                    .then(b.reset_ns().cmp(&a.reset_ns()))
            })
        } else {
            (0..statuses.len())
                .filter(|&index| !statuses[index].allowed())
                .max_by_key(|&index| statuses[index].retry_after_ns())
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
