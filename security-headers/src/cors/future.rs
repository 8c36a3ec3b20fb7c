//! [`ResponseFuture`]: the future of a [`Cors`](super::Cors) call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS,
};
use http::{HeaderValue, Response, StatusCode};
use pin_project_lite::pin_project;
use portcullis_core::body::ResponseBody;
use portcullis_core::problem::Problem;

use super::vary;
use super::verdict::{Answer, Decorate};

pin_project! {
    /// The response future of [`Cors`](super::Cors): the inner service's future, whose
    /// response gets the CORS headers, or an answer the layer made itself (a
    /// preflight answer or a 403).
    ///
    /// ```
    /// use http::{Request, Response};
    /// use portcullis_security_headers::cors::{Cors, CorsLayer, ResponseFuture};
    /// use tower::{Service, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut cors = Cors::new(
    ///     service_fn(|_: Request<()>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) }),
    ///     CorsLayer::new(),
    /// );
    /// let future = cors.call(Request::new(()));
    /// let response = future.await.unwrap();
    /// assert_eq!(response.headers()["vary"], "Origin");
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F> {
        Inner {
            #[pin]
            future: F,
            decorate: Decorate,
        },
        Answer {
            answer: Option<Answer>,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn inner(future: F, decorate: Decorate) -> Self {
        Self {
            kind: Kind::Inner { future, decorate },
        }
    }

    pub(crate) fn answer(answer: Answer) -> Self {
        Self {
            kind: Kind::Answer {
                answer: Some(answer),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, decorate } => {
                let response = ready!(future.poll(cx))?;
                let mut response = response.map(ResponseBody::inner);
                let headers = response.headers_mut();
                match std::mem::replace(decorate, Decorate::Nothing) {
                    Decorate::Nothing => {}
                    Decorate::Vary => vary::add_origin(headers),
                    Decorate::Allow {
                        origin,
                        credentials,
                        expose,
                        vary,
                    } => {
                        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                        if credentials {
                            headers.insert(
                                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                                HeaderValue::from_static("true"),
                            );
                        }
                        if let Some(expose) = expose {
                            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose);
                        }
                        if vary {
                            vary::add_origin(headers);
                        }
                    }
                }
                Poll::Ready(Ok(response))
            }
            KindProj::Answer { answer } => {
                // Polled again after completion: answer an empty 500 rather than panic.
                let response = match answer.take() {
                    Some(Answer::Preflight(headers)) => {
                        let mut response = Response::new(ResponseBody::empty());
                        *response.status_mut() = StatusCode::NO_CONTENT;
                        *response.headers_mut() = headers;
                        response
                    }
                    Some(Answer::Reject {
                        code,
                        title,
                        detail,
                        reason,
                        grpc,
                    }) => {
                        let mut problem = Problem::new(StatusCode::FORBIDDEN, code, title);
                        if let Some(detail) = detail {
                            problem = problem.with_detail(detail);
                        }
                        let mut response = if grpc {
                            problem.into_grpc_response()
                        } else {
                            problem.into_http_response()
                        };
                        response.extensions_mut().insert(reason);
                        response
                    }
                    None => {
                        let mut response = Response::new(ResponseBody::empty());
                        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                        response
                    }
                };
                Poll::Ready(Ok(response))
            }
        }
    }
}
