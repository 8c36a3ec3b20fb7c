//! Delivery: queues, writer threads, failure policies, flush and shutdown.
//!
//! Every sink gets a bounded queue and a writer thread of its own. The request path
//! only builds the record and pushes it (an `Arc`) into each sink's queue; the writer
//! takes whatever has queued up (up to a batch), encodes it as JSON lines, adds the
//! hash chain, writes the batch at once and, if asked, `fsync`s it.
//!
//! Each sink has a [`FailurePolicy`] in its [`SinkOptions`]:
//!
//! - **Fail-open**: the request never waits on I/O. When the queue is full the record
//!   is dropped and counted ([`SinkMetrics::overflowed`]); the writer logs a `tracing`
//!   warning with the count at most every
//!   [`report_interval`](crate::layer::AuditLayer::report_interval).
//! - **Fail-closed**, written ahead: the `request` record must be written (and
//!   `fsync`ed when [`fsync_per_batch`](SinkOptions::fsync_per_batch) is on) before
//!   the inner service runs. If the queue is full, the sink fails, or it does not
//!   answer within its [`write_timeout`](SinkOptions::write_timeout), the request is
//!   answered `503` with an `AUDIT_UNAVAILABLE` problem and the inner service never
//!   runs: an action cannot happen unrecorded. The response then waits for the
//!   `response` record too (the outcome is on disk before the client learns it),
//!   at most the write timeout; if that record cannot be written, the handler's
//!   response is returned all the same and counted
//!   ([`MetricsSnapshot::unconfirmed`]): the action already ran, its `request`
//!   record proves it was asked for, and a 503 would tell the client it did not
//!   happen (a created key's only copy would be lost, a rotation retried). With
//!   several fail-closed sinks a request waits at most the longest of their write
//!   timeouts. Waiting needs a Tokio runtime with its timer. A sink stuck in a write
//!   cannot be interrupted: its queue fills, and further records are refused at once.
//!
//! The policy is the sink's, or the request's own:
//! [`AuditLayer::failure_policy_for`](crate::layer::AuditLayer::failure_policy_for)
//! picks it per request (admin routes fail closed, the customer API fails open) for
//! the sinks that take the layer's defaults. [`AuditHandle::health`] tells whether
//! each sink works now (for a health or readiness endpoint); it recovers by itself
//! with the first write that succeeds.
//!
//! [`AuditHandle::flush`] waits until every record queued before it is written;
//! [`AuditHandle::shutdown`] also seals the hash chain and stops the writers: after
//! `N` audited requests have completed, shutdown leaves exactly `2N` records.
//!
//! # Example
//!
//! A fail-closed sink that cannot write: the request is refused and the handler never
//! runs, while a fail-open copy goes to `tracing` on the side.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::Duration;
//! use http::{Request, Response, StatusCode};
//! use portcullis_audit_log::delivery::SinkOptions;
//! use portcullis_audit_log::layer::AuditLayer;
//! use portcullis_audit_log::sink::{Batch, CallbackSink, SinkError, TracingSink};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // The evidence store is down: every write fails.
//! let evidence = CallbackSink::new(|_: &Batch<'_>| Err::<(), _>(SinkError::Closed));
//! let layer = AuditLayer::new()
//!     // The evidence: nothing runs unless it is recorded.
//!     .sink_with(evidence, SinkOptions::fail_closed().write_timeout(Duration::from_secs(2)))
//!     // A copy for the log pipeline, best effort.
//!     .sink_with(TracingSink::new(), SinkOptions::fail_open().queue_capacity(1024));
//! let ran = Arc::new(AtomicBool::new(false));
//! let flag = ran.clone();
//! let app = ServiceBuilder::new().layer(layer).service(service_fn(move |_: Request<_>| {
//!     flag.store(true, Ordering::SeqCst);
//!     async { Ok::<_, Infallible>(Response::new(String::new())) }
//! }));
//!
//! let request = Request::post("/v1/transfers").body(String::new()).unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert!(!ran.load(Ordering::SeqCst));
//! # }
//! ```

mod ack;
mod handle;
mod options;
mod pipeline;
mod pool;
mod writer;

pub(crate) use ack::Ack;
pub use handle::{
    AuditHandle, DeliveryError, Health, MetricsSnapshot, SinkHealth, SinkMetrics, SinkStatus,
};
pub use options::{FailurePolicy, FailurePolicyFn, SinkOptions};
pub(crate) use pipeline::{ChainSettings, Pipeline};
pub(crate) use pool::RecordPool;
