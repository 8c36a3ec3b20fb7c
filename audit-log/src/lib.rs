//! A tamper-evident, redacting, no-loss audit trail as a Tower layer.
//!
//! An audit trail is evidence: it says who did what, when, with what outcome; it never
//! leaks the secrets it sees; it does not lose records; and a modified record is
//! detectable. [`AuditLayer`](layer::AuditLayer) writes one JSON [record] per
//! phase of each request, with [Elastic Common Schema](record) field names:
//!
//! - [`layer`]: the middleware. A `request` record before the inner service runs and a
//!   `response` record after, correlated by the request id; a `panic` record when the
//!   inner service panics and a `cancelled` one when the client goes away.
//! - [`level`]: `None`, `Metadata`, `Request` (body up to a cap), `RequestResponse`,
//!   and a rule picking the level per route and method.
//! - [`redact`]: deny-listed headers, query parameters and JSON keys, and card
//!   numbers, become `hmac-sha256:<hex>` under a per-deployment secret, still
//!   searchable with [`hash_for_search`](redact::Redactor::hash_for_search).
//! - [`sink`], [`delivery`]: stdout (JSON or human), rotating files (`SIGHUP`,
//!   deleted-file detection), `tracing`, channels and callbacks; each sink with its
//!   own bounded queue, writer thread and failure policy: fail-open (never wait,
//!   count what overflows) or fail-closed (`503 AUDIT_UNAVAILABLE` unless the record
//!   is written, `fsync`ed per batch if asked, within a timeout); graceful shutdown.
//! - [`chain`], [`verify`]: a SHA-256 (or HMAC) hash chain with `seq` and `prev_hash`
//!   on every line, Ed25519-signed checkpoints, and a verifier reporting modified,
//!   deleted, reordered and truncated records and gaps between files, also as the
//!   `portcullis-audit verify` command.
//! - [`context`], [`request_id`]: security context from other layers (the principal,
//!   the API key, the rate-limit decision, rejection codes) and the request id.
//!
//! Presets: [`development`](layer::AuditLayer::development),
//! [`production`](layer::AuditLayer::production),
//! [`compliance`](layer::AuditLayer::compliance).
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `rate-limit` | no | records the `portcullis-rate-limit` `Decision` (plan, allowed, violated quotas, degraded mode) |
//! | `sighup` | no | [`reopen_on_sighup`](sink::reopen_on_sighup): file sinks reopen on `SIGHUP` (Unix) |
//! | `axum` | no | `source.ip` from axum's `ConnectInfo<SocketAddr>` as well |
//!
//! # Example
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use portcullis_audit_log::layer::AuditLayer;
//! use portcullis_audit_log::verify::{VerifyOptions, verify_files};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("audit.log");
//! let layer = AuditLayer::compliance(&path)?.hmac_secret(b"per-deployment secret");
//! let public_key = layer.public_key_hex().unwrap();
//! let handle = layer.handle();
//! let mut app = ServiceBuilder::new().layer(layer).service(service_fn(|_request: Request<_>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("{}")))
//! }));
//!
//! let request = Request::post("/v1/login")
//!     .header("content-type", "application/json")
//!     .body(String::from(r#"{"user":"ada","password":"hunter2"}"#))?;
//! let response = app.ready().await?.call(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! handle.shutdown().await?;
//! let log = std::fs::read_to_string(&path)?;
//! assert!(log.contains(r#"\"user\":\"ada\""#));
//! assert!(!log.contains("hunter2"));
//!
//! let key = portcullis_audit_log::chain::parse_public_key(&public_key).unwrap();
//! let report = verify_files(&[&path], &VerifyOptions::new().public_key(key))?;
//! assert!(report.is_clean(), "{:?}", report.findings);
//! assert_eq!(report.signed_checkpoints, 1);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod body;
pub mod chain;
pub mod context;
pub mod delivery;
mod error;
mod json;
pub mod layer;
pub mod level;
pub mod record;
pub mod redact;
pub mod request_id;
pub mod sink;
pub mod verify;

pub use error::ConfigError;
