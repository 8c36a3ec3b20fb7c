//! [`ResponseFuture`]: the future of an [`ApiKey`](super::ApiKey) call.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use portcullis_core::body::ResponseBody;
use portcullis_core::boxed::BoxFuture;
use tower_service::Service;

use super::context::ApiKeyContext;
use super::rejection::Refusal;
use super::verdict::admit;

/// The store lookup of a cache miss, judged.
pub(crate) type Verifying = BoxFuture<'static, Result<ApiKeyContext, Refusal>>;

pin_project! {
    /// The response future of [`ApiKey`](super::ApiKey): on a cache miss, waits for
    /// the store and judges its answer; then calls the inner service (or answers the
    /// refusal).
    ///
    /// ```
    /// use http::{Request, Response, StatusCode};
    /// use portcullis_api_keys::{hash::KeyHasher, api_key::{ApiKey, ApiKeyLayer}};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// use tower::{Service, service_fn};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut service = ApiKey::new(
    ///     service_fn(|_: Request<()>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) }),
    ///     ApiKeyLayer::new(MemoryKeyStore::new(), KeyHasher::sha256()),
    /// );
    /// let future = service.call(Request::new(())); // no key
    /// assert_eq!(future.await.unwrap().status(), StatusCode::UNAUTHORIZED);
    /// # });
    /// ```
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Verifying {
            verifying: Verifying,
            request: Option<Request<ReqBody>>,
            inner: Option<S>,
            grpc: bool,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Refused {
            refusal: Option<Refusal>,
            grpc: bool,
        },
    }
}

impl<S, ReqBody> fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn verifying(
        verifying: Verifying,
        request: Request<ReqBody>,
        inner: S,
        grpc: bool,
    ) -> Self {
        Self {
            state: State::Verifying {
                verifying,
                request: Some(request),
                inner: Some(inner),
                grpc,
            },
        }
    }

    pub(crate) fn calling(future: S::Future) -> Self {
        Self {
            state: State::Calling { future },
        }
    }

    pub(crate) fn refused(refusal: Refusal, grpc: bool) -> Self {
        Self {
            state: State::Refused {
                refusal: Some(refusal),
                grpc,
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Verifying {
                    verifying,
                    request,
                    inner,
                    grpc,
                } => match ready!(verifying.as_mut().poll(cx)) {
                    Ok(context) => {
                        let (Some(mut request), Some(mut inner)) = (request.take(), inner.take())
                        else {
                            unreachable!("polled after completion")
                        };
                        admit(&mut request, context);
                        State::Calling {
                            future: inner.call(request),
                        }
                    }
                    Err(refusal) => return Poll::Ready(Ok(refusal.into_response(*grpc))),
                },
                StateProj::Calling { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Refused { refusal, grpc } => {
                    let Some(refusal) = refusal.take() else {
                        unreachable!("polled after completion")
                    };
                    return Poll::Ready(Ok(refusal.into_response(*grpc)));
                }
            };
            this.state.set(next);
        }
    }
}
