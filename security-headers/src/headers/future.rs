use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use crate::csp::CspNonce;

use super::state::State;

pin_project! {
    /// The response future of [`SecurityHeaders`](super::SecurityHeaders): the inner
    /// future, then the headers put on its response.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        state: Arc<State>,
        https: bool,
        nonce: Option<CspNonce>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, state: Arc<State>, https: bool, nonce: Option<CspNonce>) -> Self {
        Self {
            inner,
            state,
            https,
            nonce,
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("https", &self.https)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        this.state
            .apply(&mut response, *this.https, this.nonce.as_ref());
        Poll::Ready(Ok(response))
    }
}
