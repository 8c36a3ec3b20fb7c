use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct State {
    remaining: usize,
    failed: bool,
    waker: Option<Waker>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    done: Condvar,
}

/// Waits for `n` writers to acknowledge a record (or a flush). Fails as soon as one
/// of them reports a failure.
#[derive(Clone, Debug)]
pub(crate) struct Ack(Arc<Inner>);

impl Ack {
    pub(crate) fn new(writers: usize) -> Self {
        Self(Arc::new(Inner {
            state: Mutex::new(State {
                remaining: writers,
                failed: false,
                waker: None,
            }),
            done: Condvar::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// One writer's answer.
    pub(crate) fn complete(&self, ok: bool) {
        let waker = {
            let mut state = self.lock();
            state.remaining = state.remaining.saturating_sub(1);
            state.failed |= !ok;
            if state.remaining == 0 || state.failed {
                state.waker.take()
            } else {
                None
            }
        };
        self.0.done.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// `Ready(true)` when every writer succeeded, `Ready(false)` at the first failure.
    pub(crate) fn poll_done(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut state = self.lock();
        if state.failed {
            Poll::Ready(false)
        } else if state.remaining == 0 {
            Poll::Ready(true)
        } else {
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// Blocks until done or `timeout`; `None` on timeout.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<bool> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if state.failed {
                return Some(false);
            }
            if state.remaining == 0 {
                return Some(true);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .0
                .done
                .wait_timeout(state, left)
                .map(|(state, _)| state)
                .unwrap_or_else(|poison| poison.into_inner().0);
        }
    }
}

impl Future for Ack {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        self.poll_done(cx)
    }
}

/// A writer's duty to answer an [`Ack`]: answers `false` if dropped unanswered (the
/// writer died, the queue was dropped).
#[derive(Debug)]
pub(crate) struct AckToken(Option<Ack>);

impl AckToken {
    pub(crate) fn new(ack: Ack) -> Self {
        Self(Some(ack))
    }

    pub(crate) fn complete(mut self, ok: bool) {
        if let Some(ack) = self.0.take() {
            ack.complete(ok);
        }
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        if let Some(ack) = self.0.take() {
            ack.complete(false);
        }
    }
}
