//! The response future of [`CspReportCollector`](super::CspReportCollector).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderValue;
use http_body::Body;
use http_body_util::Limited;
use pin_project_lite::pin_project;

use super::handler::ReportHandler;
use super::verdict::{BoxError, CollectorResponse, Judge, polled_after_completion};
use super::violation::ReportFormat;

pin_project! {
    /// Reads the report body, within the size limit, then answers.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Request, StatusCode};
    /// use http_body_util::Full;
    /// use portcullis_security_headers::report::{CspReportCollector, LogOnly, ResponseFuture};
    /// use tower_service::Service;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut collector = CspReportCollector::new();
    /// let request = Request::post("/csp-reports")
    ///     .header("content-type", "application/reports+json")
    ///     .body(Full::new(Bytes::from_static(b"[]")))
    ///     .unwrap();
    /// let future: ResponseFuture<Full<Bytes>, LogOnly> = collector.call(request);
    /// assert_eq!(future.await.unwrap().status(), StatusCode::NO_CONTENT);
    /// # }
    /// ```
    pub struct ResponseFuture<B, H> {
        #[pin]
        state: State<B, H>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B, H> {
        Ready {
            response: Option<CollectorResponse>,
        },
        Reading {
            #[pin]
            body: Limited<B>,
            buffer: Vec<u8>,
            format: ReportFormat,
            user_agent: Option<HeaderValue>,
            collector: Judge<H>,
        },
    }
}

impl<B, H> ResponseFuture<B, H> {
    pub(super) fn ready(response: CollectorResponse) -> Self {
        Self {
            state: State::Ready {
                response: Some(response),
            },
        }
    }

    pub(super) fn reading(
        body: Limited<B>,
        buffer: Vec<u8>,
        format: ReportFormat,
        user_agent: Option<HeaderValue>,
        collector: Judge<H>,
    ) -> Self {
        Self {
            state: State::Reading {
                body,
                buffer,
                format,
                user_agent,
                collector,
            },
        }
    }
}

impl<B, H> Future for ResponseFuture<B, H>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    H: ReportHandler,
{
    type Output = Result<CollectorResponse, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        let response = match state.as_mut().project() {
            StateProj::Ready { response } => {
                response.take().unwrap_or_else(polled_after_completion)
            }
            StateProj::Reading {
                mut body,
                buffer,
                format,
                user_agent,
                collector,
            } => loop {
                match ready!(body.as_mut().poll_frame(cx)) {
                    Some(Ok(frame)) => {
                        // Trailers carry nothing a report needs.
                        if let Ok(data) = frame.into_data() {
                            buffer.extend_from_slice(&data);
                        }
                    }
                    Some(Err(error)) => break collector.body_failed(&error),
                    None => break collector.finish(*format, buffer, user_agent.as_ref()),
                }
            },
        };
        // Drop the body and the buffer now rather than when the future is dropped.
        state.set(State::Ready { response: None });
        Poll::Ready(Ok(response))
    }
}

impl<B, H> fmt::Debug for ResponseFuture<B, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Ready { .. } => "Ready",
            State::Reading { .. } => "Reading",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
