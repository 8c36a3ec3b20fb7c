//! One accepted connection: the service adapter that records the peer and counts the
//! requests in flight, and the watchdog that closes the connection when it is idle.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tokio::sync::watch;
use tokio::time::Instant;
use tower_service::Service;

use super::body::RequestBody;
use crate::client_ip::PeerAddr;

/// What the idle watchdog of a connection reads: requests in flight, and since when
/// there were none.
#[derive(Clone, Copy, Debug)]
struct Activity {
    in_flight: usize,
    idle_since: Instant,
    served_any: bool,
}

/// The requests in flight on one connection.
#[derive(Clone, Debug)]
pub(crate) struct InFlight {
    activity: watch::Sender<Activity>,
}

impl InFlight {
    pub(crate) fn new() -> Self {
        let (activity, _) = watch::channel(Activity {
            in_flight: 0,
            idle_since: Instant::now(),
            served_any: false,
        });
        Self { activity }
    }

    fn start(&self) -> Guard {
        self.activity.send_modify(|activity| {
            activity.in_flight += 1;
            activity.served_any = true;
        });
        Guard {
            activity: self.activity.clone(),
        }
    }

    /// Resolves once no request has been in flight for `idle` (for `first` before
    /// the first request: the time a new connection gets to send one).
    pub(crate) async fn idle_for(&self, first: Duration, idle: Duration) {
        let mut changes = self.activity.subscribe();
        loop {
            let activity = *changes.borrow_and_update();
            if activity.in_flight > 0 {
                if changes.changed().await.is_err() {
                    return std::future::pending().await;
                }
                continue;
            }
            let limit = if activity.served_any { idle } else { first };
            tokio::select! {
                () = tokio::time::sleep_until(activity.idle_since + limit) => return,
                _ = changes.changed() => {}
            }
        }
    }
}

/// One request in flight, until its response body is dropped.
#[derive(Debug)]
struct Guard {
    activity: watch::Sender<Activity>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.activity.send_modify(|activity| {
            activity.in_flight -= 1;
            if activity.in_flight == 0 {
                activity.idle_since = Instant::now();
            }
        });
    }
}

/// The Tower service of one connection as a hyper service: puts the peer address
/// into each request, wraps its body in [`RequestBody`] and counts it in flight
/// until its response body is sent.
#[derive(Debug)]
pub(crate) struct ConnectionService<S> {
    pub(crate) inner: S,
    pub(crate) peer: SocketAddr,
    pub(crate) body_read_timeout: Duration,
    pub(crate) in_flight: InFlight,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for ConnectionService<S>
where
    S: Service<Request<RequestBody>, Response = Response<B>> + Clone,
{
    type Response = Response<TrackedBody<B>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, S::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(PeerAddr(self.peer));
        #[cfg(feature = "axum")]
        parts
            .extensions
            .insert(axum::extract::ConnectInfo(self.peer));
        let request = Request::from_parts(parts, RequestBody::new(body, self.body_read_timeout));
        ResponseFuture {
            state: State::Ready {
                service: self.inner.clone(),
                request: Some(request),
            },
            guard: Some(self.in_flight.start()),
        }
    }
}

pin_project! {
    /// Waits for the service to be ready, calls it, and hands the in-flight guard to
    /// the response body.
    #[derive(Debug)]
    pub(crate) struct ResponseFuture<S, F> {
        #[pin]
        state: State<S, F>,
        guard: Option<Guard>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<S, F> {
        Ready { service: S, request: Option<Request<RequestBody>> },
        Called { #[pin] future: F },
    }
}

impl<S, B> Future for ResponseFuture<S, S::Future>
where
    S: Service<Request<RequestBody>, Response = Response<B>>,
{
    type Output = Result<Response<TrackedBody<B>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Ready { service, request } => {
                    ready!(service.poll_ready(cx))?;
                    let request = request.take().expect("polled after the call");
                    let future = service.call(request);
                    this.state.set(State::Called { future });
                }
                StateProj::Called { future } => {
                    let response = ready!(future.poll(cx))?;
                    let guard = this.guard.take();
                    return Poll::Ready(Ok(response.map(|inner| TrackedBody { inner, guard })));
                }
            }
        }
    }
}

pin_project! {
    /// A response body that keeps its request counted in flight until it is sent.
    #[derive(Debug)]
    pub(crate) struct TrackedBody<B> {
        #[pin]
        inner: B,
        guard: Option<Guard>,
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
