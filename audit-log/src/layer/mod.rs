//! The audit middleware: [`AuditLayer`], the [`Audit`] service and its
//! [`ResponseFuture`].
//!
//! For each request the service picks the [level](crate::level) (skipping the rest
//! at [`Level::None`](crate::level::Level::None)), takes or makes the
//! [request id](crate::request_id) (into the request extensions, echoed on the
//! response), puts an [`AuditContext`](crate::context::AuditContext) into the request
//! extensions, and:
//!
//! 1. at [`Level::Request`](crate::level::Level::Request) and above, reads the body up
//!    to the cap (the inner service still gets all of it);
//! 2. writes the **`request`** record, and when the request fails closed (its sinks',
//!    or its own [failure policy](AuditLayer::failure_policy_for)) waits until it is
//!    written, answering `503 AUDIT_UNAVAILABLE` (problem+json, or gRPC `UNAVAILABLE`)
//!    without calling the inner service if it is not;
//! 3. calls the inner service;
//! 4. writes the **`response`** record (after capturing the response body at
//!    [`Level::RequestResponse`](crate::level::Level::RequestResponse)), with the
//!    status, the duration, the principal, the rejection code of a Portcullis
//!    [`Problem`](portcullis_core::problem::Problem) and the rate-limit decision from
//!    the response extensions; when the request fails closed, the response waits
//!    until that record is written too.
//!
//! With a rule deciding after the response
//! ([`level_after_response`](AuditLayer::level_after_response)), a request that fails
//! open keeps its `request` record until the outcome is known, then writes both
//! records at the level the rule picks, or none.
//!
//! Everything recorded is [redacted](crate::redact), by name and by value (API keys,
//! Stripe secrets, JWTs and bearer tokens wherever they are), and a valid W3C
//! `traceparent` adds `trace.id` and `span.id` ([`trace_context`](crate::trace_context)).
//!
//! If the inner service **panics**, a `panic` record is written instead and the panic
//! is re-raised ([`PanicPolicy::Resume`], the default) or answered `500
//! INTERNAL_ERROR` ([`PanicPolicy::Respond`]). If the response future is **dropped**
//! before it completes (the client went away, a timeout outside fired), a
//! `cancelled` record is written (`error.type` `client_gone`). So every audited
//! request that got its `request` record gets exactly one closing record.
//!
//! # Cost
//!
//! At `Metadata` with fail-open sinks the request path fills the request's fields
//! once (shared by both records through an `Arc`), pushes two records into each
//! sink's queue without blocking, and never clones the inner service. Encoding,
//! hashing and I/O happen on the sinks' writer threads, which hand written records
//! back for the next requests to fill anew: in the steady state a request allocates
//! nothing for its two records, their shared fields or the fields' strings.
//!
//! # Example
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use portcullis_audit_log::layer::AuditLayer;
//! use portcullis_audit_log::sink::FileSink;
//! use portcullis_core::client_ip::{PeerAddr, TrustedProxies};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("audit.log");
//! let layer = AuditLayer::new()
//!     .trusted_proxies(TrustedProxies::loopback())
//!     .sink(FileSink::open(&path)?);
//! let handle = layer.handle();
//! let app = ServiceBuilder::new().layer(layer).service(service_fn(|_request: Request<_>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
//! }));
//!
//! // From a trusted proxy (loopback here), whose request id is this request's id.
//! let mut request = Request::get("/v1/invoices?api_key=sk_live_1")
//!     .header("x-request-id", "req-1")
//!     .body(String::new())?;
//! request.extensions_mut().insert(PeerAddr("127.0.0.1:40000".parse()?));
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["x-request-id"], "req-1");
//!
//! handle.shutdown().await?;
//! let log = std::fs::read_to_string(&path)?;
//! let records: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
//! assert_eq!(records.len(), 2);
//! assert_eq!(records[0]["event"]["action"], "request");
//! assert_eq!(records[1]["event"]["action"], "response");
//! assert_eq!(records[1]["http"]["response"]["status_code"], 200);
//! assert!(!log.contains("sk_live_1"));
//! # Ok(())
//! # }
//! ```

mod capture;
mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::{AuditLayer, PanicPolicy};
pub use service::Audit;
