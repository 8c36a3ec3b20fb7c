//! The request body handed to the served service: hyper's body with a read timeout.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tokio::time::Sleep;

pin_project! {
    /// A request body that fails with [`RequestBodyError::TimedOut`] when the client
    /// sends no byte of it for the body read timeout
    /// ([`Server::body_read_timeout`](super::Server::body_read_timeout)).
    ///
    /// The handler reading it gets the error (axum answers `400`); hyper then closes
    /// the connection, since the rest of the body never came. The timer runs only
    /// while the body is being read and nothing arrives: a slow handler is not
    /// affected, and every chunk that arrives starts it again (like nginx's
    /// `client_body_timeout`, which is also the time between two reads).
    #[derive(Debug)]
    pub struct RequestBody {
        #[pin]
        inner: Incoming,
        timeout: Duration,
        // Armed when a read finds nothing, dropped when a frame arrives.
        #[pin]
        stalled: Option<Sleep>,
    }
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            stalled: None,
        }
    }
}

/// Why a [`RequestBody`] could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestBodyError {
    /// The client sent nothing for this long in the middle of its body.
    #[error("the client sent no request body bytes for {0:?}")]
    TimedOut(Duration),
    /// The connection failed (closed, reset, malformed chunk).
    #[error(transparent)]
    Hyper(#[from] hyper::Error),
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        let mut this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(frame) => {
                this.stalled.set(None);
                Poll::Ready(frame.map(|frame| frame.map_err(RequestBodyError::from)))
            }
            Poll::Pending => {
                if this.stalled.is_none() {
                    this.stalled.set(Some(tokio::time::sleep(*this.timeout)));
                }
                let stalled = this.stalled.as_pin_mut().expect("armed above");
                ready!(stalled.poll(cx));
                Poll::Ready(Some(Err(RequestBodyError::TimedOut(*this.timeout))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
