use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use portcullis_core::client_ip::ClientIpResolver;
use portcullis_core::grpc::is_grpc_request;
use tower_service::Service;

use super::AuditLayer;
use super::capture;
use super::future::{ResponseFuture, Tracker};
use super::layer::{Config, Shared};
use crate::body::{AuditBody, Capture};
use crate::context::AuditContext;
use crate::delivery::{AuditHandle, Pipeline};
use crate::level::Level;
use crate::request_id::RequestId;

/// Audits the requests to an inner service; built by [`AuditLayer`].
#[derive(Debug)]
pub struct Audit<S> {
    inner: S,
    shared: Arc<Shared>,
    pipeline: Arc<Pipeline>,
}

impl<S: Clone> Clone for Audit<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            pipeline: self.pipeline.clone(),
        }
    }
}

impl Audit<()> {
    /// A new [`AuditLayer`].
    pub fn layer() -> AuditLayer {
        AuditLayer::new()
    }
}

impl<S> Audit<S> {
    /// Audits `inner` as `layer` says, sharing the layer's writers.
    pub fn new(inner: S, layer: AuditLayer) -> Self {
        let shared = layer.shared().clone();
        let pipeline = shared.pipeline().clone();
        Self {
            inner,
            shared,
            pipeline,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The delivery handle (shared with the layer).
    pub fn handle(&self) -> AuditHandle {
        AuditHandle::new(self.pipeline.clone())
    }
}

impl<S: Clone> Audit<S> {
    /// The ready inner service, for a future that calls it later; its clone stays for
    /// the next call (tower-service docs, "Be careful when cloning inner services").
    fn take_ready_inner(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Audit<S>
where
    S: Service<Request<AuditBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body<Data = Bytes>,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<AuditBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let config = &self.shared.config;
        let level = config.level_of(request.method(), request.uri());
        let (id, client_request_id) = request_ids(config, &request);
        request.extensions_mut().insert(id.clone());
        let mut tracker = Tracker::new(
            self.shared.clone(),
            self.pipeline.clone(),
            config.echo_request_id.then(|| id.clone()),
            is_grpc_request(request.headers()),
            level,
            config.policy_of(request.method(), request.uri()),
        );
        if level == Level::None {
            return match call_inner(&mut self.inner, request.map(AuditBody::new)) {
                Ok(future) => ResponseFuture::calling(future, tracker),
                Err(payload) => ResponseFuture::panicked(payload, tracker),
            };
        }
        let context = AuditContext::new();
        request.extensions_mut().insert(context.clone());
        tracker.start(context);
        tracker.decide_after_response(request.method(), request.uri());
        let record = capture::request_record(
            config,
            self.pipeline.pool(),
            &request,
            (id, client_request_id),
            level,
        );
        if level >= Level::Request {
            let capture_limit = config.body_limit;
            let inner = self.take_ready_inner();
            let (parts, body) = request.into_parts();
            let capture = Capture::new(body, capture_limit);
            return ResponseFuture::capturing(parts, capture, record, inner, tracker);
        }
        let ack = tracker.emit_request(record, request.extensions());
        let request = request.map(AuditBody::new);
        match ack {
            None => match call_inner(&mut self.inner, request) {
                Ok(future) => ResponseFuture::calling(future, tracker),
                Err(payload) => ResponseFuture::panicked(payload, tracker),
            },
            Some(ack) => {
                let inner = self.take_ready_inner();
                ResponseFuture::admitting(ack, request, inner, tracker)
            }
        }
    }
}

/// The request's id and, apart, the one its client sent: a request id is honoured
/// only from a trusted proxy (whose id correlates with its own logs); anyone else
/// could pick an id to forge a correlation with another request's records. An id
/// holding a secret is never used (it would be echoed and recorded): it is recorded
/// apart, as its hash.
fn request_ids<B>(config: &Config, request: &Request<B>) -> (RequestId, Option<RequestId>) {
    let redactor = &config.redactor;
    let sent = request
        .headers()
        .get(&config.request_id_header)
        .and_then(RequestId::from_value);
    let (sent, secret) = match sent {
        Some(id) if redactor.has_secret(id.as_str()) => (
            RequestId::parse(&redactor.hash_for_search(id.as_str())),
            true,
        ),
        sent => (sent, false),
    };
    let from_trusted_proxy = ClientIpResolver::peer_addr(request)
        .is_some_and(|peer| config.resolver.trusted_proxies().contains(peer.ip()));
    match sent {
        Some(id) if from_trusted_proxy && !secret => (id, None),
        sent => (RequestId::generate(), sent),
    }
}

/// Calls the inner service, catching a panic in `call` itself.
pub(crate) fn call_inner<S, R>(
    inner: &mut S,
    request: R,
) -> Result<S::Future, Box<dyn std::any::Any + Send>>
where
    S: Service<R>,
{
    catch_unwind(AssertUnwindSafe(|| inner.call(request)))
}
