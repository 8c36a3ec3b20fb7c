//! What happens to each accepted violation.

use super::violation::CspViolation;

/// Receives every parsed, non-duplicate CSP violation.
///
/// Implemented for any `Fn(CspViolation) + Send + Sync + 'static` closure, so most
/// users pass a closure to
/// [`CspReportCollector::handler`](super::CspReportCollector::handler). The collector
/// has already logged the violation at `warn` level when the handler runs.
///
/// The handler runs inside the request: keep it quick and non-blocking. To store
/// reports in a database, send them into a channel (`tokio::sync::mpsc::Sender::try_send`)
/// and write them from a task of your own.
///
/// # Example
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use portcullis_security_headers::report::{CspViolation, ReportHandler};
///
/// let received = Arc::new(Mutex::new(Vec::new()));
/// let sink = received.clone();
/// let handler = move |violation: CspViolation| sink.lock().unwrap().push(violation);
///
/// handler.handle_violation(CspViolation::default());
/// assert_eq!(received.lock().unwrap().len(), 1);
/// ```
pub trait ReportHandler: Send + Sync + 'static {
    /// Called once per accepted violation.
    fn handle_violation(&self, violation: CspViolation);
}

impl<F> ReportHandler for F
where
    F: Fn(CspViolation) + Send + Sync + 'static,
{
    fn handle_violation(&self, violation: CspViolation) {
        self(violation)
    }
}

/// The default handler: the collector's `warn` event is the only trace of a violation.
///
/// Route the `portcullis_security_headers::report` tracing target to wherever your
/// logs go, or replace this handler with a closure to store or forward reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogOnly;

impl ReportHandler for LogOnly {
    fn handle_violation(&self, _violation: CspViolation) {}
}
