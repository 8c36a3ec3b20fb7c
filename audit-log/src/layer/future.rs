use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{
    Extensions, HeaderValue, Method, Request, Response, StatusCode, Uri, request, response,
};
use http_body::Body;
use pin_project_lite::pin_project;
use portcullis_core::clock::{Clock, saturating_nanos};
use portcullis_core::problem::Problem;
use tokio::time::Sleep;
use tower_service::Service;

use super::capture;
use super::layer::{PanicPolicy, Shared};
use super::service::call_inner;
use crate::body::{AuditBody, Capture, ProblemBody};
use crate::context::AuditContext;
use crate::delivery::{Ack, FailurePolicy, Pipeline};
use crate::level::{Level, Outcome};
use crate::record::{BodyCapture, Phase, Principal, Record, RequestInfo, ResponseInfo};
use crate::request_id::RequestId;

/// `time` in nanoseconds since the Unix epoch, as [`Clock::unix_nanos`] counts.
fn unix_nanos(time: SystemTime) -> u64 {
    saturating_nanos(time.duration_since(UNIX_EPOCH).unwrap_or_default())
}

/// The problem answered when a fail-closed sink cannot take a record.
pub(crate) fn audit_unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "AUDIT_UNAVAILABLE",
        "Audit unavailable",
    )
    .with_detail("The request could not be recorded in the audit trail, so it was not processed.")
}

fn internal_error() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_ERROR",
        "Internal server error",
    )
}

/// One request's audit state; writes a `cancelled` record if dropped before the
/// request's last record.
pub(crate) struct Tracker {
    shared: Arc<Shared>,
    pipeline: Arc<Pipeline>,
    echo: Option<RequestId>,
    grpc: bool,
    level: Level,
    /// When the request came in, and the same in nanoseconds since the Unix epoch.
    started_at: SystemTime,
    started: u64,
    context: Option<AuditContext>,
    /// Set once the `request` record is out.
    request: Option<Arc<RequestInfo>>,
    principal: Principal,
    labels: Vec<(String, String)>,
    /// Whether the request's last record is out (or none is due).
    done: bool,
    /// The request's own failure policy, if a rule gave one.
    policy: Option<FailurePolicy>,
    /// How long the request waits for its fail-closed sinks; `None`: it fails open.
    wait: Option<Duration>,
    /// With a rule deciding after the response: the method and URI it is given.
    outcome_of: Option<(Method, Uri)>,
    /// The `request` record held until the outcome is known.
    deferred: Option<Arc<Record>>,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("level", &self.level)
            .field(
                "request",
                &self.request.as_ref().map(|info| info.id.as_str()),
            )
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Tracker {
    pub(crate) fn new(
        shared: Arc<Shared>,
        pipeline: Arc<Pipeline>,
        echo: Option<RequestId>,
        grpc: bool,
        level: Level,
        policy: Option<FailurePolicy>,
    ) -> Self {
        let wait = pipeline.wait_for(policy);
        Self {
            shared,
            pipeline,
            echo,
            grpc,
            level,
            started_at: UNIX_EPOCH,
            started: 0,
            context: None,
            request: None,
            principal: Principal::default(),
            labels: Vec::new(),
            done: false,
            policy,
            wait,
            outcome_of: None,
            deferred: None,
        }
    }

    /// Holds the `request` record until the outcome is known, for the rule of
    /// [`level_after_response`](super::AuditLayer::level_after_response); a request
    /// that fails closed is written ahead instead.
    pub(crate) fn decide_after_response(&mut self, method: &Method, uri: &Uri) {
        if self.shared.config.outcome_fn.is_some() && self.wait.is_none() {
            self.outcome_of = Some((method.clone(), uri.clone()));
        }
    }

    /// How long this request waits for its fail-closed sinks.
    fn wait_timeout(&self) -> Duration {
        self.wait.unwrap_or_default()
    }

    /// Writes the `request` record held back, now that the outcome is known, at the
    /// level the rule gives; `false` when the request is not to be recorded (then
    /// nothing more is). `true` at once for a request that was not held back.
    fn release(&mut self, status: Option<StatusCode>, problem_code: Option<&str>) -> bool {
        let Some(mut record) = self.deferred.take() else {
            return self.request.is_some();
        };
        let (Some(rule), Some((method, uri))) =
            (self.shared.config.outcome_fn, self.outcome_of.as_ref())
        else {
            unreachable!("a record is held back only for a rule")
        };
        let outcome = Outcome::new(method, uri, status, self.level).with_problem_code(problem_code);
        let level = rule(&outcome).min(self.level);
        if level == Level::None {
            self.pipeline.skipped.fetch_add(1, Ordering::Relaxed);
            self.done = true;
            return false;
        }
        if level < self.level {
            self.level = level;
            if let Some(record) = Arc::get_mut(&mut record) {
                let info = Arc::make_mut(&mut record.request);
                if level < Level::Request {
                    info.headers.clear();
                    info.body = None;
                }
                info.level = level;
            }
        }
        self.request = Some(record.request.clone());
        self.pipeline.submit(record, false, self.policy);
        true
    }

    pub(crate) fn start(&mut self, context: AuditContext) {
        self.started_at = self.shared.config.clock.now();
        self.started = unix_nanos(self.started_at);
        self.context = Some(context);
    }

    /// Writes the `request` record (from [`capture::request_record`]); returns what
    /// the fail-closed sinks answer.
    pub(crate) fn emit_request(
        &mut self,
        mut shared: Arc<Record>,
        extensions: &Extensions,
    ) -> Option<Ack> {
        let config = &self.shared.config;
        // Without a body to read first, the record is written as the request comes in.
        let now = if self.level >= Level::Request {
            config.clock.now()
        } else {
            self.started_at
        };
        // The record is this request's own until it is submitted.
        if let Some(record) = Arc::get_mut(&mut shared) {
            record.renew(Phase::Request, now);
            if let Some(principal) = extensions.get::<Principal>() {
                record.principal.merge(principal);
            }
            for enrich in &config.enrichers {
                enrich(extensions, record);
            }
            capture::scrub(&config.redactor, record);
            self.principal.clone_from(&record.principal);
            self.labels.clone_from(&record.labels);
        }
        if self.outcome_of.is_some() {
            self.deferred = Some(shared);
            return None;
        }
        self.request = Some(shared.request.clone());
        self.pipeline.submit(shared, true, self.policy)
    }

    /// A record of the request's end, or `None` when nothing is due.
    fn terminal(
        &self,
        phase: Phase,
        info: ResponseInfo,
        extensions: Option<&Extensions>,
    ) -> Option<Arc<Record>> {
        let request = self.request.as_ref()?;
        if self.done {
            return None;
        }
        let config = &self.shared.config;
        let now = config.clock.now();
        let mut shared = match self
            .pipeline
            .pool()
            .and_then(|pool| pool.take_bare(request))
        {
            Some(mut reused) => {
                if let Some(record) = Arc::get_mut(&mut reused) {
                    record.renew(phase, now);
                }
                reused
            }
            None => Arc::new(Record::new(phase, request.clone(), now)),
        };
        let Some(record) = Arc::get_mut(&mut shared) else {
            unreachable!("a new or pooled record is the request's own")
        };
        record.principal.clone_from(&self.principal);
        record.labels.clone_from(&self.labels);
        if let Some(context) = &self.context {
            context.apply(record);
        }
        let mut info = info;
        info.duration = Duration::from_nanos(unix_nanos(now).saturating_sub(self.started));
        if let Some(extensions) = extensions {
            if let Some(principal) = extensions.get::<Principal>() {
                record.principal.merge(principal);
            }
            if let Some(problem) = extensions.get::<Problem>() {
                info.rejection_code = Some(problem.code().to_owned());
            }
            info.rate_limit = capture::rate_limit(extensions);
        }
        record.response = Some(info);
        if let Some(extensions) = extensions {
            for enrich in &config.enrichers {
                enrich(extensions, record);
            }
        }
        capture::scrub(&config.redactor, record);
        Some(shared)
    }

    fn emit_terminal(&mut self, record: Option<Arc<Record>>, acknowledge: bool) -> Option<Ack> {
        let record = record?;
        self.done = true;
        self.pipeline.submit(record, acknowledge, self.policy)
    }

    fn echo<B>(&self, response: &mut Response<B>) {
        if let Some(id) = &self.echo {
            let header = self.shared.config.request_id_header.clone();
            response
                .headers_mut()
                .entry(header)
                .or_insert_with(|| HeaderValue::clone(id.header_value()));
        }
    }

    fn problem_response<ResBody: Body>(&self, problem: Problem) -> Response<AuditBody<ResBody>> {
        let response: Response<ProblemBody> = if self.grpc {
            problem.into_grpc_response()
        } else {
            problem.into_http_response()
        };
        let mut response = response.map(AuditBody::problem);
        self.echo(&mut response);
        response
    }

    /// The `503 AUDIT_UNAVAILABLE` answer, recorded (best effort) when the request
    /// had no last record yet.
    fn reject<ResBody: Body>(&mut self, timed_out: bool) -> Response<AuditBody<ResBody>> {
        self.pipeline.rejected.fetch_add(1, Ordering::Relaxed);
        if timed_out {
            self.pipeline.timed_out.fetch_add(1, Ordering::Relaxed);
        }
        let problem = audit_unavailable();
        let mut info = ResponseInfo::new(Some(problem.status()), Duration::ZERO);
        info.rejection_code = Some(problem.code().to_owned());
        let record = self.terminal(Phase::Response, info, None);
        self.emit_terminal(record, false);
        self.problem_response(problem)
    }

    /// The `response` record of a fail-closed request could not be written in time.
    fn unconfirmed(&self) {
        self.pipeline.unconfirmed.fetch_add(1, Ordering::Relaxed);
    }

    fn on_panic(&mut self) {
        self.pipeline.panics.fetch_add(1, Ordering::Relaxed);
        self.release(None, None);
        let mut info = ResponseInfo::new(None, Duration::ZERO);
        info.error = Some("panic".into());
        let record = self.terminal(Phase::Panic, info, None);
        self.emit_terminal(record, false);
        self.done = true;
    }

    fn on_error(&mut self) {
        self.release(None, None);
        let mut info = ResponseInfo::new(None, Duration::ZERO);
        info.error = Some("service_error".into());
        let record = self.terminal(Phase::Response, info, None);
        self.emit_terminal(record, false);
        self.done = true;
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if self.done || (self.request.is_none() && self.deferred.is_none()) {
            return;
        }
        self.pipeline.cancelled.fetch_add(1, Ordering::Relaxed);
        if !self.release(None, None) {
            return;
        }
        let mut info = ResponseInfo::new(None, Duration::ZERO);
        info.error = Some("client_gone".into());
        let record = self.terminal(Phase::Cancelled, info, None);
        self.emit_terminal(record, false);
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, ResBody>
    where
        S: Service<Request<AuditBody<ReqBody>>>,
        ReqBody: Body,
        ResBody: Body,
    {
        // Reading the request body up to the cap.
        Capturing {
            parts: Option<request::Parts>,
            capture: Option<Capture<ReqBody>>,
            record: Option<Arc<Record>>,
            inner: Option<S>,
        },
        // Waiting for the fail-closed sinks to take the `request` record.
        Admitting {
            #[pin]
            timeout: Sleep,
            ack: Ack,
            request: Option<Request<AuditBody<ReqBody>>>,
            inner: Option<S>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        // Reading the response body up to the cap.
        CapturingResponse {
            parts: Option<response::Parts>,
            capture: Option<Capture<ResBody>>,
        },
        // Waiting for the fail-closed sinks to take the `response` record.
        Confirming {
            #[pin]
            timeout: Sleep,
            ack: Ack,
            response: Option<Response<AuditBody<ResBody>>>,
        },
        Answer {
            response: Option<Response<AuditBody<ResBody>>>,
        },
        Done,
    }
}

pin_project! {
    /// The response future of [`Audit`](super::Audit): captures bodies, waits for
    /// fail-closed sinks, calls the inner service, records the outcome.
    ///
    /// Dropping it before it completes (the client went away) writes a `cancelled`
    /// record.
    pub struct ResponseFuture<S, ReqBody, ResBody>
    where
        S: Service<Request<AuditBody<ReqBody>>>,
        ReqBody: Body,
        ResBody: Body,
    {
        #[pin]
        state: State<S, ReqBody, ResBody>,
        tracker: Tracker,
    }
}

impl<S, ReqBody, ResBody> fmt::Debug for ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<AuditBody<ReqBody>>>,
    ReqBody: Body,
    ResBody: Body,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("tracker", &self.tracker)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<AuditBody<ReqBody>>, Response = Response<ResBody>>,
    ReqBody: Body<Data = Bytes>,
    ResBody: Body<Data = Bytes>,
{
    pub(crate) fn calling(future: S::Future, tracker: Tracker) -> Self {
        Self {
            state: State::Calling { future },
            tracker,
        }
    }

    pub(crate) fn capturing(
        parts: request::Parts,
        capture: Capture<ReqBody>,
        record: Arc<Record>,
        inner: S,
        tracker: Tracker,
    ) -> Self {
        Self {
            state: State::Capturing {
                parts: Some(parts),
                capture: Some(capture),
                record: Some(record),
                inner: Some(inner),
            },
            tracker,
        }
    }

    pub(crate) fn admitting(
        ack: Ack,
        request: Request<AuditBody<ReqBody>>,
        inner: S,
        tracker: Tracker,
    ) -> Self {
        let state = admit(ack, request, inner, &tracker);
        Self { state, tracker }
    }

    /// The inner service panicked in `call`.
    pub(crate) fn panicked(payload: Box<dyn Any + Send>, mut tracker: Tracker) -> Self {
        let state = on_panic(payload, &mut tracker);
        Self { state, tracker }
    }
}

fn admit<S, ReqBody, ResBody>(
    ack: Ack,
    request: Request<AuditBody<ReqBody>>,
    inner: S,
    tracker: &Tracker,
) -> State<S, ReqBody, ResBody>
where
    S: Service<Request<AuditBody<ReqBody>>>,
    ReqBody: Body,
    ResBody: Body,
{
    State::Admitting {
        timeout: tokio::time::sleep(tracker.wait_timeout()),
        ack,
        request: Some(request),
        inner: Some(inner),
    }
}

fn on_panic<S, ReqBody, ResBody>(
    payload: Box<dyn Any + Send>,
    tracker: &mut Tracker,
) -> State<S, ReqBody, ResBody>
where
    S: Service<Request<AuditBody<ReqBody>>>,
    ReqBody: Body,
    ResBody: Body,
{
    tracker.on_panic();
    match tracker.shared.config.panic {
        PanicPolicy::Respond => State::Answer {
            response: Some(tracker.problem_response(internal_error())),
        },
        _ => resume_unwind(payload),
    }
}

fn call<S, ReqBody, ResBody>(
    mut inner: S,
    request: Request<AuditBody<ReqBody>>,
    tracker: &mut Tracker,
) -> State<S, ReqBody, ResBody>
where
    S: Service<Request<AuditBody<ReqBody>>>,
    ReqBody: Body,
    ResBody: Body,
{
    match call_inner(&mut inner, request) {
        Ok(future) => State::Calling { future },
        Err(payload) => on_panic(payload, tracker),
    }
}

/// The response is in: record it (after capturing its body at `RequestResponse`).
fn respond<S, ReqBody, ResBody>(
    response: Response<ResBody>,
    tracker: &mut Tracker,
) -> State<S, ReqBody, ResBody>
where
    S: Service<Request<AuditBody<ReqBody>>>,
    ReqBody: Body,
    ResBody: Body<Data = Bytes>,
{
    let (mut parts, body) = response.into_parts();
    if let Some(id) = &tracker.echo {
        parts
            .headers
            .entry(tracker.shared.config.request_id_header.clone())
            .or_insert_with(|| HeaderValue::clone(id.header_value()));
    }
    let problem_code = parts.extensions.get::<Problem>().map(Problem::code);
    if tracker.level == Level::None || !tracker.release(Some(parts.status), problem_code) {
        return State::Answer {
            response: Some(Response::from_parts(parts, AuditBody::new(body))),
        };
    }
    if tracker.level >= Level::RequestResponse {
        let capture = Capture::new(body, tracker.shared.config.body_limit);
        return State::CapturingResponse {
            parts: Some(parts),
            capture: Some(capture),
        };
    }
    finish(parts, AuditBody::new(body), None, tracker)
}

fn finish<S, ReqBody, ResBody>(
    parts: response::Parts,
    body: AuditBody<ResBody>,
    captured: Option<BodyCapture>,
    tracker: &mut Tracker,
) -> State<S, ReqBody, ResBody>
where
    S: Service<Request<AuditBody<ReqBody>>>,
    ReqBody: Body,
    ResBody: Body,
{
    let mut info = ResponseInfo::new(Some(parts.status), Duration::ZERO);
    if tracker.level >= Level::RequestResponse {
        info.headers = capture::headers(&tracker.shared.config.redactor, &parts.headers);
        info.body = captured;
    }
    let record = tracker.terminal(Phase::Response, info, Some(&parts.extensions));
    let ack = tracker.emit_terminal(record, true);
    let response = Response::from_parts(parts, body);
    match ack {
        None => State::Answer {
            response: Some(response),
        },
        Some(ack) => State::Confirming {
            timeout: tokio::time::sleep(tracker.wait_timeout()),
            ack,
            response: Some(response),
        },
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<AuditBody<ReqBody>>, Response = Response<ResBody>>,
    ReqBody: Body<Data = Bytes>,
    ResBody: Body<Data = Bytes>,
{
    type Output = Result<Response<AuditBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let tracker: &mut Tracker = this.tracker;
            let next = match this.state.as_mut().project() {
                StateProj::Capturing {
                    parts,
                    capture,
                    record,
                    inner,
                } => {
                    let Some(filling) = capture.as_mut() else {
                        unreachable!("polled after completion")
                    };
                    ready!(filling.poll_fill(cx));
                    let (Some(parts), Some(capture), Some(mut record), Some(inner)) =
                        (parts.take(), capture.take(), record.take(), inner.take())
                    else {
                        unreachable!("polled after completion")
                    };
                    let (bytes, more) = capture.captured();
                    // The record and its info are this request's own until submitted.
                    if let Some(info) =
                        Arc::get_mut(&mut record).and_then(|r| Arc::get_mut(&mut r.request))
                    {
                        info.body = Some(capture::body(
                            &tracker.shared.config,
                            &parts.headers,
                            bytes,
                            more,
                        ));
                    }
                    let ack = tracker.emit_request(record, &parts.extensions);
                    let request = Request::from_parts(parts, capture.into_body());
                    match ack {
                        None => call(inner, request, tracker),
                        Some(ack) => admit(ack, request, inner, tracker),
                    }
                }
                StateProj::Admitting {
                    timeout,
                    ack,
                    request,
                    inner,
                } => {
                    let admitted = match ack.poll_done(cx) {
                        Poll::Ready(admitted) => admitted,
                        Poll::Pending => {
                            ready!(timeout.poll(cx));
                            let response = tracker.reject(true);
                            this.state.set(State::Done);
                            return Poll::Ready(Ok(response));
                        }
                    };
                    if !admitted {
                        let response = tracker.reject(false);
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(response));
                    }
                    let (Some(request), Some(inner)) = (request.take(), inner.take()) else {
                        unreachable!("polled after completion")
                    };
                    call(inner, request, tracker)
                }
                StateProj::Calling { future } => {
                    match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(Ok(response))) => respond(response, tracker),
                        Ok(Poll::Ready(Err(error))) => {
                            tracker.on_error();
                            this.state.set(State::Done);
                            return Poll::Ready(Err(error));
                        }
                        Err(payload) => on_panic(payload, tracker),
                    }
                }
                StateProj::CapturingResponse { parts, capture } => {
                    let Some(filling) = capture.as_mut() else {
                        unreachable!("polled after completion")
                    };
                    ready!(filling.poll_fill(cx));
                    let (Some(parts), Some(capture)) = (parts.take(), capture.take()) else {
                        unreachable!("polled after completion")
                    };
                    let (bytes, more) = capture.captured();
                    let captured =
                        capture::body(&tracker.shared.config, &parts.headers, bytes, more);
                    finish(parts, capture.into_body(), Some(captured), tracker)
                }
                StateProj::Confirming {
                    timeout,
                    ack,
                    response,
                } => {
                    let confirmed = match ack.poll_done(cx) {
                        Poll::Ready(confirmed) => confirmed,
                        Poll::Pending => {
                            ready!(timeout.poll(cx));
                            false
                        }
                    };
                    // The handler ran after its `request` record was written: its
                    // answer stands (a 503 now would say that it did not run).
                    if !confirmed {
                        tracker.unconfirmed();
                    }
                    let answer = response
                        .take()
                        .unwrap_or_else(|| unreachable!("polled after completion"));
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(answer));
                }
                StateProj::Answer { response } => {
                    let response = response
                        .take()
                        .unwrap_or_else(|| unreachable!("polled after completion"));
                    tracker.done = true;
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(response));
                }
                StateProj::Done => panic!("ResponseFuture polled after completion"),
            };
            this.state.set(next);
        }
    }
}
