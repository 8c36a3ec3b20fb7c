//! [`AuditBody`]: the request and response body type of the audit layer.
//!
//! At [`Level::Metadata`](crate::level::Level::Metadata) the body passes through
//! untouched. At [`Level::Request`](crate::level::Level::Request) and above the layer
//! reads the first bytes (up to the [cap](crate::layer::AuditLayer::body_limit)) before
//! the inner service runs, records them, and hands the inner service a body that
//! replays those bytes and then streams the rest: nothing is lost, nothing beyond the
//! cap is held in memory, and trailers survive. A `503` the layer answers by itself
//! is a problem+json body.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http_body::Body;
//! use http_body_util::{BodyExt, Full};
//! use portcullis_audit_log::body::AuditBody;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let body = AuditBody::new(Full::new(Bytes::from("hello")));
//! assert_eq!(body.size_hint().exact(), Some(5));
//! assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
//! # });
//! ```

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use portcullis_core::body::ResponseBody;

/// The body of a response the layer writes itself.
pub(crate) type ProblemBody = ResponseBody<http_body_util::Empty<Bytes>>;

pin_project! {
    #[project = KindProj]
    enum Kind<B: Body> {
        Passthrough { #[pin] inner: B },
        Replay {
            prefix: Option<Bytes>,
            inner: Option<Pin<Box<B>>>,
            error: Option<B::Error>,
            trailers: Option<HeaderMap>,
        },
        Problem { #[pin] body: ProblemBody },
    }
}

pin_project! {
    /// A body passed through, replayed after capture, or written by the layer; see the
    /// [module docs](self).
    pub struct AuditBody<B: Body> {
        #[pin]
        kind: Kind<B>,
    }
}

impl<B: Body> fmt::Debug for AuditBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Passthrough { .. } => "passthrough",
            Kind::Replay { .. } => "replay",
            Kind::Problem { .. } => "problem",
        };
        f.debug_struct("AuditBody").field("kind", &kind).finish()
    }
}

impl<B: Body> AuditBody<B> {
    /// `inner`, passed through.
    pub fn new(inner: B) -> Self {
        Self {
            kind: Kind::Passthrough { inner },
        }
    }

    pub(crate) fn problem(body: ProblemBody) -> Self {
        Self {
            kind: Kind::Problem { body },
        }
    }
}

impl<B> Body for AuditBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Passthrough { inner } => inner.poll_frame(cx),
            KindProj::Problem { body } => body
                .poll_frame(cx)
                .map_err(|never: Infallible| match never {}),
            KindProj::Replay {
                prefix,
                inner,
                error,
                trailers,
            } => {
                if let Some(bytes) = prefix.take()
                    && !bytes.is_empty()
                {
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                if let Some(body) = inner {
                    match ready!(body.as_mut().poll_frame(cx)) {
                        Some(frame) => return Poll::Ready(Some(frame)),
                        None => *inner = None,
                    }
                }
                if let Some(error) = error.take() {
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(
                    trailers
                        .take()
                        .map(|trailers| Ok(Frame::trailers(trailers))),
                )
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Passthrough { inner } => inner.is_end_stream(),
            Kind::Problem { body } => body.is_end_stream(),
            Kind::Replay {
                prefix,
                inner,
                error,
                trailers,
            } => {
                prefix.as_ref().is_none_or(Bytes::is_empty)
                    && inner.as_ref().is_none_or(|body| body.is_end_stream())
                    && error.is_none()
                    && trailers.is_none()
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Passthrough { inner } => inner.size_hint(),
            Kind::Problem { body } => body.size_hint(),
            Kind::Replay { prefix, inner, .. } => {
                let prefix = prefix.as_ref().map_or(0, |bytes| bytes.len() as u64);
                let rest = inner
                    .as_ref()
                    .map_or_else(|| SizeHint::with_exact(0), |body| body.size_hint());
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + prefix);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + prefix);
                }
                hint
            }
        }
    }
}

/// Reads a body's first bytes, up to a cap, to replay them afterwards.
pub(crate) struct Capture<B: Body> {
    body: Option<Pin<Box<B>>>,
    buffer: BytesMut,
    trailers: Option<HeaderMap>,
    error: Option<B::Error>,
    cap: usize,
}

impl<B: Body> fmt::Debug for Capture<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("buffered", &self.buffer.len())
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

impl<B: Body<Data = Bytes>> Capture<B> {
    pub(crate) fn new(body: B, cap: usize) -> Self {
        Self {
            body: Some(Box::pin(body)),
            buffer: BytesMut::new(),
            trailers: None,
            error: None,
            cap,
        }
    }

    /// Reads until the cap, the end of the body, or an error (kept for the replay).
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.buffer.len() < self.cap {
            let Some(body) = self.body.as_mut() else {
                return Poll::Ready(());
            };
            if body.is_end_stream() {
                self.body = None;
                return Poll::Ready(());
            }
            match ready!(body.as_mut().poll_frame(cx)) {
                None => self.body = None,
                Some(Err(error)) => {
                    self.error = Some(error);
                    self.body = None;
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buffer.extend_from_slice(&data),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.trailers = Some(trailers);
                        }
                        self.body = None;
                    }
                },
            }
        }
        Poll::Ready(())
    }

    /// The captured bytes (at most the cap) and whether more followed.
    pub(crate) fn captured(&self) -> (&[u8], bool) {
        let cut = self.buffer.len().min(self.cap);
        let more = self.buffer.len() > self.cap
            || self.body.as_ref().is_some_and(|body| !body.is_end_stream());
        (&self.buffer[..cut], more)
    }

    /// The body to hand on: the captured bytes, then the rest.
    pub(crate) fn into_body(self) -> AuditBody<B> {
        AuditBody {
            kind: Kind::Replay {
                prefix: Some(self.buffer.freeze()),
                inner: self.body,
                error: self.error,
                trailers: self.trailers,
            },
        }
    }
}
