//! A per-call timeout and a circuit breaker around any store (feature `resilient`).
//!
//! A store across the network can hang or fail. [`Resilient`] bounds each call by a
//! timeout (50 ms by default), so a hung store costs a request at most that, and counts
//! consecutive failures (errors and timeouts): after [`failures`](CircuitBreaker::failures)
//! of them (5 by default) the circuit *opens*, and for
//! [`open_for`](CircuitBreaker::open_for) (500 ms by default) every check fails at once with
//! [`StoreError::CircuitOpen`] from
//! [`check_immediately`](Store::check_immediately): the layer applies its
//! [`FailurePolicy`](crate::rate_limit::FailurePolicy) in `call`, with no store call and no
//! waiting. Then one check is let through as a probe (*half-open*): if it succeeds the
//! circuit closes and the store is used again; if it fails the circuit opens again, for
//! twice as long each time up to [`max_open_for`](CircuitBreaker::max_open_for) (1 s by
//! default). So a dead store costs at most the timeout, and usually nothing, and
//! limiting recovers by itself within about a second of the store coming back.
//!
//! A call that timed out may still reach the store later and count (a request held in
//! a socket buffer runs when the store wakes up): the timeout bounds the wait, not what
//! the store does.
//!
//! Refunds go through the same guard: bounded by the timeout, counted as successes or
//! failures, and refused while the circuit is not closed (they never probe).
//!
//! Each transition is logged once with `tracing`: a warning when the circuit opens and
//! when it closes, a debug event for probes and re-openings. [`Resilient::state`] and
//! [`Resilient::stats`] tell the rest.
//!
//! Time is Tokio's: the wrapper needs a Tokio runtime with its timer enabled, and tests
//! drive it with `tokio::time::pause`.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use portcullis_rate_limit::{FailurePolicy, RateLimitLayer};
//! use portcullis_rate_limit::store::memory::MemoryStore;
//! use portcullis_rate_limit::store::resilient::{CircuitBreaker, CircuitState, Resilient};
//!
//! // In production the inner store is a remote one (Redis); any store works.
//! let store = Resilient::new(MemoryStore::new())
//!     .timeout(Duration::from_millis(20))
//!     .breaker(CircuitBreaker::new().failures(3).open_for(Duration::from_millis(500)));
//! assert_eq!(store.state(), CircuitState::Closed);
//! let layer = RateLimitLayer::new().store(store).on_store_error(FailurePolicy::FailOpen);
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use portcullis_core::clock::saturating_nanos;
use serde::Deserialize;
use tokio::time::{Instant, Timeout};

use super::{Store, StoreError};
use crate::key::Fingerprint;
use crate::outcome::Outcome;
use crate::plan::Plan;

const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

/// When the circuit breaker opens and for how long.
///
/// ```
/// use std::time::Duration;
/// use portcullis_rate_limit::store::resilient::CircuitBreaker;
///
/// let breaker = CircuitBreaker::new()
///     .failures(10)
///     .open_for(Duration::from_millis(250))
///     .max_open_for(Duration::from_secs(5));
/// assert_eq!(breaker, CircuitBreaker::default().failures(10).open_for(Duration::from_millis(250)).max_open_for(Duration::from_secs(5)));
///
/// // Breakers load from configuration too; durations as for quota windows.
/// let breaker: CircuitBreaker = serde_json::from_str(r#"{"failures":3,"open_for":"500ms"}"#).unwrap();
/// assert_eq!(breaker, CircuitBreaker::new().failures(3).open_for(Duration::from_millis(500)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitBreaker {
    failures: u32,
    #[serde(deserialize_with = "crate::quota::deserialize_duration")]
    open_for: Duration,
    #[serde(deserialize_with = "crate::quota::deserialize_duration")]
    max_open_for: Duration,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new()
    }
}

impl CircuitBreaker {
    /// Opens after 5 consecutive failures, for 500 ms, then for 1 s after each failed
    /// probe: a dead store is probed once a second, so limiting resumes within about a
    /// second of it answering again.
    pub fn new() -> Self {
        Self {
            failures: 5,
            open_for: Duration::from_millis(500),
            max_open_for: Duration::from_secs(1),
        }
    }

    /// Opens after this many consecutive failures (errors or timeouts; at least 1).
    #[must_use]
    pub fn failures(self, failures: u32) -> Self {
        Self {
            failures: failures.max(1),
            ..self
        }
    }

    /// Stays open this long before letting one probe through.
    #[must_use]
    pub fn open_for(self, open_for: Duration) -> Self {
        Self { open_for, ..self }
    }

    /// The longest the circuit stays open after failed probes (each doubles the time).
    /// Set it to [`open_for`](Self::open_for)'s value for no backoff.
    #[must_use]
    pub fn max_open_for(self, max_open_for: Duration) -> Self {
        Self {
            max_open_for,
            ..self
        }
    }

    /// How long to stay open after `trips` failed probes in a row.
    fn open_duration(&self, trips: u32) -> Duration {
        let backoff = self
            .open_for
            .checked_mul(1 << trips.min(20))
            .unwrap_or(Duration::MAX);
        backoff.min(self.max_open_for.max(self.open_for))
    }
}

/// Where a [`Resilient`] store's circuit stands.
///
/// ```
/// use portcullis_rate_limit::store::{memory::MemoryStore, resilient::{CircuitState, Resilient}};
/// assert_eq!(Resilient::new(MemoryStore::new()).state(), CircuitState::Closed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls go to the store.
    Closed,
    /// Calls fail at once, without touching the store.
    Open,
    /// One probe call is in flight; the others fail at once.
    HalfOpen,
}

/// Counters of a [`Resilient`] store, shared by its clones.
///
/// ```
/// use portcullis_rate_limit::store::{memory::MemoryStore, resilient::Resilient};
/// let stats = Resilient::new(MemoryStore::new()).stats();
/// assert_eq!((stats.timeouts, stats.errors, stats.rejected, stats.opened, stats.probes), (0, 0, 0, 0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResilientStats {
    /// Calls that ran out of time.
    pub timeouts: u64,
    /// Calls the store answered with an error.
    pub errors: u64,
    /// Calls refused at once because the circuit was open (no store call).
    pub rejected: u64,
    /// Times the circuit opened after consecutive failures (re-openings after a failed
    /// probe not included).
    pub opened: u64,
    /// Probe calls let through while half-open.
    pub probes: u64,
}

/// A store whose calls are bounded by a timeout and guarded by a circuit breaker; see
/// the [module docs](self). Clones share the breaker.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use portcullis_rate_limit::{key::Fingerprint, plan::Plan};
/// use portcullis_rate_limit::store::{Store, memory::MemoryStore, resilient::Resilient};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let store = Resilient::new(MemoryStore::new()).timeout(Duration::from_millis(10));
/// let plan = Arc::new(Plan::free());
/// let outcome = store.check(Fingerprint::from_u64(1), &plan, 1, 0).await.unwrap();
/// assert!(outcome.allowed());
/// # });
/// ```
#[derive(Clone)]
pub struct Resilient<S> {
    inner: S,
    guard: Arc<Guard>,
}

impl<S: fmt::Debug> fmt::Debug for Resilient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resilient")
            .field("inner", &self.inner)
            .field("timeout", &self.guard.timeout)
            .field("breaker", &self.guard.breaker)
            .field("state", &self.guard.state())
            .finish()
    }
}

impl<S> Resilient<S> {
    /// Guards `store` with a 50 ms timeout and the default [`CircuitBreaker`].
    pub fn new(store: S) -> Self {
        Self {
            inner: store,
            guard: Arc::new(Guard::new(DEFAULT_TIMEOUT, CircuitBreaker::new())),
        }
    }

    /// Bounds each call by `timeout` (50 ms by default). Configure before use: the
    /// breaker starts again closed.
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        let breaker = self.guard.breaker;
        Self {
            inner: self.inner,
            guard: Arc::new(Guard::new(timeout, breaker)),
        }
    }

    /// Opens, waits and probes as `breaker` says. Configure before use: the breaker
    /// starts again closed.
    #[must_use]
    pub fn breaker(self, breaker: CircuitBreaker) -> Self {
        let timeout = self.guard.timeout;
        Self {
            inner: self.inner,
            guard: Arc::new(Guard::new(timeout, breaker)),
        }
    }

    /// Where the circuit stands now.
    ///
    /// ```
    /// use portcullis_rate_limit::store::{memory::MemoryStore, resilient::{CircuitState, Resilient}};
    /// assert_eq!(Resilient::new(MemoryStore::new()).state(), CircuitState::Closed);
    /// ```
    pub fn state(&self) -> CircuitState {
        self.guard.state()
    }

    /// The counters so far.
    ///
    /// ```
    /// use portcullis_rate_limit::store::{memory::MemoryStore, resilient::Resilient};
    /// assert_eq!(Resilient::new(MemoryStore::new()).stats().opened, 0);
    /// ```
    pub fn stats(&self) -> ResilientStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let guard = &self.guard;
        ResilientStats {
            timeouts: read(&guard.timeouts),
            errors: read(&guard.errors),
            rejected: read(&guard.rejected),
            opened: read(&guard.opened),
            probes: read(&guard.probes),
        }
    }

    /// The guarded store.
    ///
    /// ```
    /// use portcullis_rate_limit::store::{memory::MemoryStore, resilient::Resilient};
    /// assert!(Resilient::new(MemoryStore::new()).get_ref().is_empty());
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the guarded store.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Store> Store for Resilient<S> {
    type CheckFuture = ResilientFuture<S::CheckFuture>;
    type RefundFuture = ResilientFuture<S::RefundFuture>;

    fn check(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Self::CheckFuture {
        match self.guard.admit(true) {
            Ok(probe) => self
                .guard
                .run(self.inner.check(key, plan, cost, now_ns), probe),
            Err(error) => ResilientFuture::refused(error),
        }
    }

    fn check_immediately(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        now_ns: u64,
    ) -> Option<Result<Outcome, StoreError>> {
        match self.guard.peek() {
            Peek::Closed => {
                let checked = self.inner.check_immediately(key, plan, cost, now_ns)?;
                match &checked {
                    Ok(_) => self.guard.succeeded(),
                    Err(error) => self.guard.failed(error, false),
                }
                Some(checked)
            }
            Peek::Refuse(retry_in) => {
                self.guard.rejected.fetch_add(1, Ordering::Relaxed);
                Some(Err(StoreError::CircuitOpen { retry_in }))
            }
            // The probe is granted in `check`, which the caller awaits.
            Peek::MayProbe => None,
        }
    }

    fn refund(
        &self,
        key: Fingerprint,
        plan: &Arc<Plan>,
        cost: u64,
        consumed_at_ns: u64,
    ) -> Self::RefundFuture {
        match self.guard.admit(false) {
            Ok(probe) => self
                .guard
                .run(self.inner.refund(key, plan, cost, consumed_at_ns), probe),
            Err(error) => ResilientFuture::refused(error),
        }
    }
}

pin_project! {
    /// The future of a [`Resilient`] store's calls: the inner call under a timeout,
    /// reporting its result to the breaker, or the refusal of an open circuit.
    pub struct ResilientFuture<F> {
        #[pin]
        state: FutureState<F>,
    }
}

pin_project! {
    #[project = FutureStateProj]
    enum FutureState<F> {
        Running {
            #[pin]
            future: Timeout<F>,
            guard: Arc<Guard>,
            probe: bool,
        },
        Refused {
            error: Option<StoreError>,
        },
    }
}

impl<F> fmt::Debug for ResilientFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilientFuture").finish_non_exhaustive()
    }
}

impl<F> ResilientFuture<F> {
    fn refused(error: StoreError) -> Self {
        Self {
            state: FutureState::Refused { error: Some(error) },
        }
    }
}

impl<F, T> Future for ResilientFuture<F>
where
    F: Future<Output = Result<T, StoreError>>,
{
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            FutureStateProj::Running {
                future,
                guard,
                probe,
            } => {
                let result = match ready!(future.poll(cx)) {
                    Ok(result) => result,
                    Err(_elapsed) => {
                        guard.timeouts.fetch_add(1, Ordering::Relaxed);
                        Err(StoreError::Timeout {
                            after: guard.timeout,
                        })
                    }
                };
                match &result {
                    Ok(_) => guard.succeeded(),
                    Err(error) => guard.failed(error, *probe),
                }
                Poll::Ready(result)
            }
            FutureStateProj::Refused { error } => match error.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => unreachable!("polled after completion"),
            },
        }
    }
}

/// What the lock-free look at the breaker says.
enum Peek {
    Closed,
    /// Open (or probing): refuse, the circuit may let a probe through in this long.
    Refuse(Duration),
    /// Open long enough: the next call may probe.
    MayProbe,
}

/// The breaker, shared by a store's clones.
struct Guard {
    timeout: Duration,
    breaker: CircuitBreaker,
    origin: Instant,
    /// 0 while closed; else the time (as [`now`](Self::now)) before which calls are
    /// refused: the end of the open period, or the probe's deadline.
    refuse_until: AtomicU64,
    /// Consecutive failures.
    failures: AtomicU32,
    state: Mutex<BreakerState>,
    timeouts: AtomicU64,
    errors: AtomicU64,
    rejected: AtomicU64,
    opened: AtomicU64,
    probes: AtomicU64,
}

#[derive(Debug)]
struct BreakerState {
    circuit: CircuitState,
    /// As `refuse_until`.
    until: u64,
    /// Failed probes in a row, for the backoff.
    trips: u32,
}

impl Guard {
    fn new(timeout: Duration, breaker: CircuitBreaker) -> Self {
        Self {
            timeout,
            breaker,
            origin: Instant::now(),
            refuse_until: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            state: Mutex::new(BreakerState {
                circuit: CircuitState::Closed,
                until: 0,
                trips: 0,
            }),
            timeouts: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            opened: AtomicU64::new(0),
            probes: AtomicU64::new(0),
        }
    }

    /// Tokio's time, as ns since the breaker was made, plus 1 (0 means closed).
    fn now(&self) -> u64 {
        saturating_nanos(Instant::now().saturating_duration_since(self.origin)).saturating_add(1)
    }

    fn lock(&self) -> MutexGuard<'_, BreakerState> {
        // Every write leaves the state whole, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn state(&self) -> CircuitState {
        self.lock().circuit
    }

    /// One atomic load while closed (the clock is read only when open).
    #[inline]
    fn peek(&self) -> Peek {
        match self.refuse_until.load(Ordering::Acquire) {
            0 => Peek::Closed,
            until => {
                let now = self.now();
                if now < until {
                    Peek::Refuse(Duration::from_nanos(until - now))
                } else {
                    Peek::MayProbe
                }
            }
        }
    }

    /// Lets a call through (`Ok(true)` for the probe, which only checks may be) or
    /// refuses it.
    fn admit(&self, may_probe: bool) -> Result<bool, StoreError> {
        let retry_in = match self.peek() {
            Peek::Closed => return Ok(false),
            Peek::Refuse(retry_in) => retry_in,
            Peek::MayProbe => {
                let now = self.now();
                let mut state = self.lock();
                match state.circuit {
                    CircuitState::Closed => return Ok(false),
                    _ if now < state.until => Duration::from_nanos(state.until - now),
                    _ if may_probe => {
                        // Half-open: this call probes; the others are refused until it
                        // answers or its deadline passes (a dropped probe does not
                        // hold the circuit forever).
                        state.circuit = CircuitState::HalfOpen;
                        state.until = now.saturating_add(saturating_nanos(self.timeout).max(1));
                        self.refuse_until.store(state.until, Ordering::Release);
                        self.probes.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(
                            target: "portcullis_rate_limit",
                            "rate-limit store circuit half-open: probing",
                        );
                        return Ok(true);
                    }
                    _ => Duration::ZERO,
                }
            }
        };
        self.rejected.fetch_add(1, Ordering::Relaxed);
        Err(StoreError::CircuitOpen { retry_in })
    }

    fn run<F>(self: &Arc<Self>, future: F, probe: bool) -> ResilientFuture<F>
    where
        F: Future,
    {
        ResilientFuture {
            state: FutureState::Running {
                future: tokio::time::timeout(self.timeout, future),
                guard: self.clone(),
                probe,
            },
        }
    }

    /// A call succeeded: the store answers, so the circuit closes.
    #[inline]
    fn succeeded(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.refuse_until.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut state = self.lock();
        if state.circuit != CircuitState::Closed {
            state.circuit = CircuitState::Closed;
            state.until = 0;
            state.trips = 0;
            self.refuse_until.store(0, Ordering::Release);
            tracing::warn!(
                target: "portcullis_rate_limit",
                "rate-limit store answers again: circuit closed",
            );
        }
    }

    /// A call failed: counts it; opens the circuit after enough failures in a row, or
    /// again when the probe failed.
    fn failed(&self, error: &StoreError, probe: bool) {
        if !matches!(error, StoreError::Timeout { .. }) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let closed = self.refuse_until.load(Ordering::Acquire) == 0;
        let trips = closed && failures >= self.breaker.failures;
        if !trips && !probe {
            return;
        }
        let now = self.now();
        let mut state = self.lock();
        match state.circuit {
            CircuitState::Closed if failures >= self.breaker.failures => {
                state.trips = 0;
                self.open(&mut state, now);
                self.opened.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    target: "portcullis_rate_limit",
                    error = error as &dyn std::error::Error,
                    failures,
                    open_for_ms = self.breaker.open_for.as_millis() as u64,
                    "rate-limit store failing: circuit open",
                );
            }
            CircuitState::HalfOpen if probe => {
                state.trips = state.trips.saturating_add(1);
                self.open(&mut state, now);
                tracing::debug!(
                    target: "portcullis_rate_limit",
                    error = error as &dyn std::error::Error,
                    open_for_ms = self.breaker.open_duration(state.trips).as_millis() as u64,
                    "rate-limit store probe failed: circuit open again",
                );
            }
            _ => {}
        }
    }

    fn open(&self, state: &mut BreakerState, now: u64) {
        let open_for = saturating_nanos(self.breaker.open_duration(state.trips));
        state.circuit = CircuitState::Open;
        state.until = now.saturating_add(open_for);
        self.refuse_until.store(state.until, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    const MS: Duration = Duration::from_millis(1);

    fn broken() -> StoreError {
        StoreError::backend("connection reset")
    }

    /// However long the store has been down, the default breaker probes it at least
    /// once a second, so limiting resumes within about a second of the store answering
    /// again (a probe a second costs a dead store nothing worth saving).
    #[test]
    fn the_default_breaker_probes_at_least_once_a_second() {
        let breaker = CircuitBreaker::default();
        for trips in 0..64 {
            assert!(
                breaker.open_duration(trips) <= Duration::from_secs(1),
                "open for {:?} after {trips} failed probes",
                breaker.open_duration(trips)
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_probe_holds_the_circuit_only_until_its_deadline() {
        let store = Resilient::new(MemoryStore::new())
            .timeout(50 * MS)
            .breaker(CircuitBreaker::new().failures(2).open_for(100 * MS));
        let guard = &store.guard;
        guard.failed(&broken(), false);
        assert_eq!(store.state(), CircuitState::Closed);
        guard.failed(&broken(), false);
        assert_eq!(store.state(), CircuitState::Open);
        assert!(matches!(
            guard.admit(true),
            Err(StoreError::CircuitOpen { retry_in }) if retry_in == 100 * MS
        ));

        tokio::time::advance(100 * MS).await;
        // Refunds never probe.
        assert!(guard.admit(false).is_err());
        // The probe is granted once, then dropped without an answer.
        assert!(guard.admit(true).unwrap(), "the probe");
        assert_eq!(store.state(), CircuitState::HalfOpen);
        assert!(guard.admit(true).is_err());
        tokio::time::advance(49 * MS).await;
        assert!(guard.admit(true).is_err());
        tokio::time::advance(MS).await;
        assert!(guard.admit(true).unwrap(), "a new probe");
        guard.succeeded();
        assert_eq!(store.state(), CircuitState::Closed);
        assert!(!guard.admit(true).unwrap(), "closed: no probe");
        let stats = store.stats();
        assert_eq!((stats.opened, stats.probes, stats.rejected), (1, 2, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_between_failures_starts_the_count_again() {
        let store = Resilient::new(MemoryStore::new()).breaker(CircuitBreaker::new().failures(3));
        for _ in 0..10 {
            store.guard.failed(&broken(), false);
            store.guard.failed(&broken(), false);
            store.guard.succeeded();
        }
        assert_eq!(store.state(), CircuitState::Closed);
        assert_eq!(store.stats().errors, 20);
    }

    #[tokio::test(start_paused = true)]
    async fn immediate_stores_answer_through_the_breaker() {
        use std::sync::Arc;
        let store = Resilient::new(MemoryStore::new()).breaker(CircuitBreaker::new().failures(1));
        let plan = Arc::new(crate::plan::Plan::free());
        let key = Fingerprint::from_u64(1);
        let answer = store.check_immediately(key, &plan, 1, 0).unwrap().unwrap();
        assert!(answer.allowed());
        store.guard.failed(&broken(), false);
        assert!(matches!(
            store.check_immediately(key, &plan, 1, 0),
            Some(Err(StoreError::CircuitOpen { .. }))
        ));
        assert_eq!(
            store.get_ref().len(),
            1,
            "the open circuit did not call the store"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        // Time to probe: the caller is sent to `check`, which probes.
        assert!(store.check_immediately(key, &plan, 1, 0).is_none());
        let probed = store.check(key, &plan, 1, 0).await.unwrap();
        assert_eq!(probed.statuses()[0].remaining(), 8);
        assert_eq!(store.state(), CircuitState::Closed);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let breaker = CircuitBreaker::new()
            .open_for(Duration::from_secs(1))
            .max_open_for(Duration::from_secs(5));
        let opens: Vec<u64> = (0..5)
            .map(|trips| breaker.open_duration(trips).as_secs())
            .collect();
        assert_eq!(opens, [1, 2, 4, 5, 5]);
        // A cap below `open_for` means no backoff.
        let flat = CircuitBreaker::new().max_open_for(Duration::ZERO);
        assert_eq!(flat.open_duration(3), Duration::from_millis(500));
        assert_eq!(
            CircuitBreaker::new().failures(0),
            CircuitBreaker::new().failures(1)
        );
        assert_eq!(
            CircuitBreaker::new().open_duration(u32::MAX),
            Duration::from_secs(1)
        );
    }
}
