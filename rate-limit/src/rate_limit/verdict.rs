//! The verdict on one request, reached alike by the fast path in
//! [`RateLimit::call`](super::RateLimit) and by the [`ResponseFuture`](super::ResponseFuture):
//! the decision and its rejections, what the response then gets, and the refund after
//! it.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode};
use portcullis_core::body::ResponseBody;
use portcullis_core::problem::Problem;

use super::failure::FailurePolicy;
use super::on_missing_key::OnMissingKey;
use super::shared::Settings;
use crate::decision::{Decision, Degraded};
use crate::headers::{self, X_RATELIMIT_DEGRADED};
use crate::key::{Fingerprint, KeyBuilder, MissingKey};
use crate::metrics::Event;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::store::{Store, StoreError};

/// What the layer knows of a request once keyed: its key, its cost, and whether a
/// gRPC client sent it (read once per request, for the rejection's form).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller {
    pub(crate) key: Fingerprint,
    pub(crate) cost: u64,
    pub(crate) grpc: bool,
}

/// What to do with a checked request.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Call the inner service.
    Pass(Admission),
    /// Answer with this refusal.
    Reject(Rejection),
}

/// What becomes of a request whose key is missing, as [`OnMissingKey`] says.
#[derive(Debug)]
pub(crate) enum Keyless {
    /// Let it through unlimited.
    Pass(Admission),
    /// Count it against the key every keyless request shares.
    SharedKey(Fingerprint),
    /// Answer with this refusal.
    Reject(Rejection),
}

/// A request let through: its decision when there is one, its degraded mode when the
/// store failed; what its response gets and whether its cost comes back.
#[derive(Debug)]
pub(crate) struct Admission {
    decision: Option<Decision>,
    degraded: Option<Degraded>,
    key: Fingerprint,
}

/// A refusal the layer answers with.
#[derive(Debug)]
pub(crate) struct Rejection {
    problem: Problem,
    grpc: bool,
    decision: Option<Decision>,
    degraded: Option<Degraded>,
}

/// The verdict on a request without a key. Counts and logs it.
pub(crate) fn keyless(settings: &Settings, missing: &MissingKey, grpc: bool) -> Keyless {
    settings.metrics.record(Event::MissingKey);
    tracing::warn!(
        target: "portcullis_rate_limit",
        missing = %missing.what(),
        policy = ?settings.on_missing_key,
        "rate-limit key missing",
    );
    match settings.on_missing_key {
        OnMissingKey::Allow => Keyless::Pass(Admission::unlimited(Fingerprint::from_u64(0))),
        OnMissingKey::SharedKey => {
            let mut shared_key = KeyBuilder::with_secret(&settings.secret);
            shared_key.write_tag(0);
            Keyless::SharedKey(shared_key.finish())
        }
        OnMissingKey::Reject => Keyless::Reject(Rejection {
            problem: missing_key(missing),
            grpc,
            decision: None,
            degraded: None,
        }),
    }
}

/// The verdict on a request its plan exempts: pass, unlimited. Counts it.
pub(crate) fn exempt(settings: &Settings, key: Fingerprint) -> Admission {
    settings.metrics.record(Event::Exempt);
    Admission::unlimited(key)
}

/// Turns a store's answer into a verdict: counts it, logs denials, and applies shadow
/// mode and the store-failure policy; notes the transitions between healthy and
/// degraded.
pub(crate) fn decide(
    settings: &Settings,
    plan: Arc<Plan>,
    checked: Result<Outcome, StoreError>,
    caller: Caller,
    now: u64,
) -> Verdict {
    match checked {
        Ok(outcome) => {
            // Only the store's own answer ends a degraded state: a remembered denial
            // says nothing about whether the store is back.
            let recovered = if outcome.is_answered_locally() {
                None
            } else {
                settings.metrics.leave_degraded(now)
            };
            if let Some(degraded_for) = recovered {
                tracing::warn!(
                    target: "portcullis_rate_limit",
                    degraded_for_ms = degraded_for.as_millis() as u64,
                    "rate-limit store answers again; limiting normally",
                );
            }
            let decision = Decision::new(plan, outcome, caller.cost, now, settings.shadow);
            judge(settings, decision, caller)
        }
        Err(error) => store_failed(settings, plan, error, caller, now),
    }
}

/// The verdict on a decision: pass, pass in shadow mode, or refuse with 429.
fn judge(settings: &Settings, decision: Decision, caller: Caller) -> Verdict {
    let degraded = decision.degraded();
    if decision.allowed() {
        settings.metrics.record(Event::Allowed);
        return Verdict::Pass(Admission::decided(decision, degraded, caller.key));
    }
    record_denial(&decision, caller.key, settings.shadow);
    if settings.shadow {
        settings.metrics.record(Event::ShadowDenied);
        return Verdict::Pass(Admission::decided(decision, degraded, caller.key));
    }
    settings.metrics.record(Event::Denied);
    Verdict::Reject(Rejection {
        problem: quota_exceeded(&decision),
        grpc: caller.grpc,
        decision: Some(decision),
        degraded,
    })
}

/// The verdict when the store failed, as the failure policy says. Warns once when
/// the layer becomes degraded; each failure after that is only a debug event (an open
/// circuit fails every request, and the counters count them).
fn store_failed(
    settings: &Settings,
    plan: Arc<Plan>,
    error: StoreError,
    caller: Caller,
    now: u64,
) -> Verdict {
    settings.metrics.record(Event::StoreError);
    let mode = settings.on_store_error.degraded();
    if settings.metrics.enter_degraded(now) {
        tracing::warn!(
            target: "portcullis_rate_limit",
            error = &error as &dyn std::error::Error,
            plan = %plan.name(),
            mode = %mode,
            "rate-limit store failed; limiting degraded until it answers again",
        );
    } else {
        tracing::debug!(
            target: "portcullis_rate_limit",
            error = &error as &dyn std::error::Error,
            plan = %plan.name(),
            mode = %mode,
            "rate-limit store failed",
        );
    }
    match &settings.on_store_error {
        FailurePolicy::FailOpen => {
            settings.metrics.record(Event::FailOpen);
            Verdict::Pass(Admission {
                decision: None,
                degraded: Some(Degraded::FailOpen),
                key: caller.key,
            })
        }
        FailurePolicy::FailClosed => {
            settings.metrics.record(Event::FailClosed);
            Verdict::Reject(Rejection {
                problem: unavailable(),
                grpc: caller.grpc,
                decision: None,
                degraded: Some(Degraded::FailClosed),
            })
        }
        #[cfg(feature = "memory")]
        FailurePolicy::Fallback(fallback) => {
            settings.metrics.record(Event::Fallback);
            let (plan, outcome) = fallback.check(caller.key, &plan, caller.cost, now);
            let decision = Decision::new(plan, outcome, caller.cost, now, settings.shadow)
                .with_degraded(Degraded::Fallback);
            judge(settings, decision, caller)
        }
    }
}

impl Admission {
    /// Let through without a decision (exempt, or keyless and allowed).
    fn unlimited(key: Fingerprint) -> Self {
        Self {
            decision: None,
            degraded: None,
            key,
        }
    }

    fn decided(decision: Decision, degraded: Option<Degraded>, key: Fingerprint) -> Self {
        Self {
            decision: Some(decision),
            degraded,
            key,
        }
    }

    /// Puts the decision and the degraded mode, if any, into the request's extensions.
    pub(crate) fn mark<B>(&self, request: &mut Request<B>) {
        if let Some(decision) = &self.decision {
            request.extensions_mut().insert(decision.clone());
        }
        if let Some(degraded) = self.degraded {
            request.extensions_mut().insert(degraded);
        }
    }

    /// Gives the cost back when the layer refunds responses of this `status`: at once
    /// when the fallback admitted the request, else as the store's refund future,
    /// which the response waits for.
    pub(crate) fn refund<St: Store>(
        &self,
        settings: &Settings,
        store: &St,
        status: StatusCode,
    ) -> Option<St::RefundFuture> {
        let (decision, refund_if) = self.decision.as_ref().zip(settings.refund_if.as_ref())?;
        if !decision.allowed() || !refund_if.should_refund(status) {
            return None;
        }
        if decision.degraded().is_some() {
            // Admitted by the fallback: refund it there, now.
            refund_fallback(settings, self.key, decision);
            return None;
        }
        Some(store.refund(
            self.key,
            decision.plan_arc(),
            decision.cost(),
            decision.decided_at_ns(),
        ))
    }

    /// The inner service's response with the rate-limit headers, the decision and the
    /// degraded mode.
    pub(crate) fn respond<B>(
        self,
        settings: &Settings,
        response: Response<B>,
    ) -> Response<ResponseBody<B>> {
        let mut response = response.map(ResponseBody::inner);
        if let Some(decision) = self.decision {
            headers::apply(
                settings.headers,
                &settings.templates,
                &decision,
                response.headers_mut(),
                false,
            );
            // A limiter inside this one decided too, and more specifically (a per-route
            // or per-plan limit, possibly a denial): keep its decision for the audit.
            if response.extensions().get::<Decision>().is_none() {
                response.extensions_mut().insert(decision);
            }
        }
        mark_degraded(settings, &mut response, self.degraded);
        response
    }
}

/// Counts a store's refund, or logs its failure (the request then stays counted).
pub(crate) fn refunded(settings: &Settings, refund: Result<(), StoreError>) {
    match refund {
        Ok(()) => settings.metrics.record(Event::Refunded),
        Err(error) => tracing::warn!(
            target: "portcullis_rate_limit",
            error = &error as &dyn std::error::Error,
            "rate-limit refund failed",
        ),
    }
}

impl Rejection {
    /// The refusal as a response: problem+json (a gRPC status for gRPC callers), with
    /// the rate-limit headers and `Retry-After` when a quota denied.
    pub(crate) fn respond<B>(self, settings: &Settings) -> Response<ResponseBody<B>> {
        let mut response = if self.grpc {
            self.problem.into_grpc_response()
        } else {
            self.problem.into_http_response()
        };
        if let Some(decision) = self.decision {
            headers::apply(
                settings.headers,
                &settings.templates,
                &decision,
                response.headers_mut(),
                true,
            );
            response.extensions_mut().insert(decision);
        }
        mark_degraded(settings, &mut response, self.degraded);
        response
    }
}

#[cfg(feature = "memory")]
fn refund_fallback(settings: &Settings, key: Fingerprint, decision: &Decision) {
    if let FailurePolicy::Fallback(fallback) = &settings.on_store_error {
        fallback.refund(
            key,
            decision.plan(),
            decision.cost(),
            decision.decided_at_ns(),
        );
        settings.metrics.record(Event::Refunded);
    }
}

#[cfg(not(feature = "memory"))]
fn refund_fallback(_: &Settings, _: Fingerprint, _: &Decision) {}

/// Adds the degraded mode to the response: its extensions, and the header if enabled.
fn mark_degraded<B>(settings: &Settings, response: &mut Response<B>, degraded: Option<Degraded>) {
    if let Some(degraded) = degraded {
        if settings.degraded_header {
            response.headers_mut().insert(
                X_RATELIMIT_DEGRADED.clone(),
                HeaderValue::from_static(degraded.as_str()),
            );
        }
        response.extensions_mut().insert(degraded);
    }
}

fn record_denial(decision: &Decision, key: Fingerprint, shadow: bool) {
    tracing::info!(
        target: "portcullis_rate_limit",
        plan = %decision.plan().name(),
        quotas = ?decision.violated().map(|quota| quota.name()).collect::<Vec<_>>(),
        retry_after_ms = decision.retry_after().map_or(0, |wait| wait.as_millis() as u64),
        key = %key,
        shadow,
        "rate limit exceeded",
    );
}

fn quota_exceeded(decision: &Decision) -> Problem {
    let violated: Vec<&str> = decision.violated().map(|quota| quota.name()).collect();
    let retry_after = decision.retry_after_secs().unwrap_or(1);
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "QUOTA_EXCEEDED",
        "Quota exceeded",
    )
    .with_detail(format!(
        "The {} quota of the {} plan is used up; retry in {retry_after} s.",
        violated.join(", "),
        decision.plan().name(),
    ))
    .with_extension("quotas", violated)
    .with_extension("plan", decision.plan().name().to_owned())
    .with_extension("retry_after", retry_after)
}

fn unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "RATE_LIMIT_UNAVAILABLE",
        "Rate limiting unavailable",
    )
    .with_detail("The rate-limit store did not answer; try again shortly.")
}

fn missing_key(missing: &MissingKey) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "RATE_LIMIT_KEY_MISSING",
        "Rate-limit key missing",
    )
    .with_detail(format!(
        "The request has no {} to apply its rate limit to.",
        missing.what()
    ))
}
