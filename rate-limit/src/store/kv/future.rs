//! The futures of [`KvStore`](super::KvStore): a read, a decision, maybe a write.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use pin_project_lite::pin_project;

use super::decide::Request;
use super::instance::Instance;
use super::key_value::KeyValue;
use crate::outcome::Outcome;
use crate::store::StoreError;

/// A decision step: the output and, when there is something to write, the write.
pub(super) type Decide<T, O> = fn(
    &Instance<T>,
    &Request,
    Option<Bytes>,
) -> Result<(O, Option<<T as KeyValue>::PutFuture>), StoreError>;

pin_project! {
    /// A read, a decision, maybe a write.
    #[project = RoundProj]
    pub(super) enum Round<T, O>
    where
        T: KeyValue,
    {
        Reading {
            #[pin]
            future: T::GetFuture,
            inner: Arc<Instance<T>>,
            request: Request,
            decide: Decide<T, O>,
        },
        Writing {
            #[pin]
            future: T::PutFuture,
            output: Option<O>,
        },
        Done,
    }
}

impl<T: KeyValue, O> Round<T, O> {
    pub(super) fn start(inner: &Arc<Instance<T>>, request: Request, decide: Decide<T, O>) -> Self {
        Self::Reading {
            future: inner.kv.get(&request.storage_key),
            inner: inner.clone(),
            request,
            decide,
        }
    }
}

impl<T: KeyValue, O> Future for Round<T, O> {
    type Output = Result<O, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project() {
                RoundProj::Reading {
                    future,
                    inner,
                    request,
                    decide,
                } => match ready!(future.poll(cx))
                    .map_err(StoreError::from)
                    .and_then(|stored| decide(inner, request, stored))
                {
                    Ok((output, Some(write))) => Self::Writing {
                        future: write,
                        output: Some(output),
                    },
                    Ok((output, None)) => {
                        self.set(Self::Done);
                        return Poll::Ready(Ok(output));
                    }
                    Err(error) => {
                        self.set(Self::Done);
                        return Poll::Ready(Err(error));
                    }
                },
                RoundProj::Writing { future, output } => {
                    let written = ready!(future.poll(cx));
                    let Some(output) = output.take() else {
                        unreachable!("polled after completion")
                    };
                    self.set(Self::Done);
                    return Poll::Ready(written.map(|()| output).map_err(StoreError::from));
                }
                RoundProj::Done => panic!("`KvStore` future polled after completion"),
            };
            self.set(next);
        }
    }
}

pin_project! {
    /// The future of [`KvStore`](super::KvStore)'s [`Store::check`](crate::store::Store::check): reads the stored states, decides,
    /// and writes when the request is admitted.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::Store};
    /// use portcullis_rate_limit::store::kv::{CheckFuture, KvStore, MemoryKeyValue};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = KvStore::new(MemoryKeyValue::new());
    /// let future: CheckFuture<MemoryKeyValue> =
    ///     store.check(Fingerprint::from_u64(1), &Arc::new(Plan::free()), 1, 0);
    /// assert!(future.await.unwrap().allowed());
    /// # });
    /// ```
    pub struct CheckFuture<T>
    where
        T: KeyValue,
    {
        #[pin]
        round: Round<T, Outcome>,
    }
}

pin_project! {
    /// The future of [`KvStore`](super::KvStore)'s [`Store::refund`](crate::store::Store::refund): reads the stored states, gives
    /// the cost back, and writes.
    pub struct RefundFuture<T>
    where
        T: KeyValue,
    {
        #[pin]
        round: Round<T, ()>,
    }
}

impl<T: KeyValue> Future for CheckFuture<T> {
    type Output = Result<Outcome, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().round.poll(cx)
    }
}

impl<T: KeyValue> Future for RefundFuture<T> {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().round.poll(cx)
    }
}

impl<T: KeyValue> fmt::Debug for CheckFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckFuture").finish_non_exhaustive()
    }
}

impl<T: KeyValue> fmt::Debug for RefundFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefundFuture").finish_non_exhaustive()
    }
}

impl<T: KeyValue> CheckFuture<T> {
    pub(super) fn new(round: Round<T, Outcome>) -> Self {
        Self { round }
    }
}

impl<T: KeyValue> RefundFuture<T> {
    pub(super) fn new(round: Round<T, ()>) -> Self {
        Self { round }
    }
}
