//! Configuration errors, reported when a layer is built.

use crate::sink::SinkError;

/// An invalid or unusable configuration.
///
/// ```
/// use portcullis_audit_log::layer::AuditLayer;
/// let error = AuditLayer::production("/nonexistent-dir/audit.log").unwrap_err();
/// assert!(error.to_string().starts_with("cannot open the audit sink"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A sink could not be opened.
    #[error("cannot open the audit sink")]
    Sink(#[from] SinkError),
}
