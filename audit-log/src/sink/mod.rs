//! Where records go: the [`Sink`] trait and the built-in sinks.
//!
//! | sink | for |
//! |---|---|
//! | [`StdoutSink`] | JSON lines, or one human-readable line per record for development |
//! | [`FileSink`] | JSON lines in a file, rotated by size and time, reopened on `SIGHUP` (feature `sighup`) or when the file was deleted or renamed |
//! | [`TracingSink`] | a `tracing` event per record, for an existing log pipeline |
//! | [`ChannelSink`], [`CallbackSink`] | a SIEM forwarder of your own |
//!
//! Each sink runs on its own writer thread with its own queue and
//! [failure policy](crate::delivery::SinkOptions), so a slow or failing sink affects
//! only the records and requests its policy says. A sink receives records in
//! [`Batch`]es, already encoded as JSON lines (with the hash chain's `seq` and
//! `prev_hash` when it is on), and writes each batch at once.
//!
//! # Example
//!
//! A sink of your own:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use portcullis_audit_log::sink::{Batch, Sink, SinkError};
//!
//! #[derive(Debug, Default)]
//! struct Memory(Arc<Mutex<Vec<String>>>);
//!
//! impl Sink for Memory {
//!     fn write(&mut self, batch: &Batch<'_>) -> Result<(), SinkError> {
//!         let mut lines = self.0.lock().unwrap();
//!         lines.extend(batch.lines().map(|line| line.json.to_owned()));
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use http::{Request, Response};
//! use portcullis_audit_log::layer::AuditLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let lines = Arc::new(Mutex::new(Vec::new()));
//! let layer = AuditLayer::new().sink(Memory(lines.clone()));
//! let handle = layer.handle();
//! let app = ServiceBuilder::new().layer(layer).service(service_fn(|_: Request<_>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::new()))
//! }));
//! app.oneshot(Request::get("/v1/quote").body(String::new()).unwrap()).await.unwrap();
//!
//! handle.shutdown().await.unwrap();
//! let lines = lines.lock().unwrap();
//! assert_eq!(lines.len(), 2); // the request record and the response record
//! assert!(lines.iter().all(|line| line.contains("/v1/quote")));
//! # }
//! ```

mod channel;
mod file;
mod stdout;
mod tracing;

use std::fmt;
use std::time::SystemTime;

pub use self::tracing::TracingSink;
pub use channel::{CallbackSink, ChannelSink};
#[cfg(all(unix, feature = "sighup"))]
pub use file::reopen_on_sighup;
pub use file::{FileSink, ReopenHandle, Rotation};
pub use stdout::StdoutSink;

use crate::record::Record;

/// A failed sink operation.
///
/// ```
/// use portcullis_audit_log::sink::SinkError;
/// let error = SinkError::other("SIEM answered 500");
/// assert_eq!(error.to_string(), "SIEM answered 500");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// An I/O operation failed.
    #[error("{operation} {path}: {source}")]
    Io {
        /// What was being done (`write`, `open`, `rename`, `fsync`).
        operation: &'static str,
        /// The file, if any.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The receiving end (a channel, the writer thread) is gone.
    #[error("the sink is closed")]
    Closed,
    /// The sink did not answer within its write timeout.
    #[error("the sink did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// Any other failure, described.
    #[error("{0}")]
    Other(String),
}

impl SinkError {
    /// An error with a message.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other(message.into())
    }

    pub(crate) fn io(
        operation: &'static str,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            operation,
            path: path.display().to_string(),
            source,
        }
    }
}

/// One line of a batch: the record (`None` for a checkpoint) and its JSON.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Line<'a> {
    /// The record; `None` for a chain checkpoint.
    pub record: Option<&'a Record>,
    /// The JSON line as written, without the newline.
    pub json: &'a str,
}

/// Records to write at once, encoded as newline-terminated JSON lines.
///
/// ```
/// use portcullis_audit_log::sink::Batch;
/// let batch = Batch::from_json_lines("{\"a\":1}\n{\"a\":2}\n");
/// assert_eq!(batch.len(), 2);
/// assert_eq!(batch.as_bytes().len(), 16);
/// assert_eq!(batch.lines().nth(1).unwrap().json, "{\"a\":2}");
/// ```
#[derive(Debug)]
pub struct Batch<'a> {
    bytes: &'a str,
    entries: Vec<(Option<&'a Record>, usize)>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(bytes: &'a str, entries: Vec<(Option<&'a Record>, usize)>) -> Self {
        Self { bytes, entries }
    }

    /// A batch of newline-terminated JSON lines without records, to test a sink.
    pub fn from_json_lines(text: &'a str) -> Self {
        let entries = text
            .match_indices('\n')
            .map(|(index, _)| (None, index + 1))
            .collect();
        Self {
            bytes: text,
            entries,
        }
    }

    /// Every line with its newline, ready for one `write`.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes.as_bytes()
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no line.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The lines, in order.
    pub fn lines(&self) -> impl Iterator<Item = Line<'a>> + '_ {
        let mut start = 0;
        self.entries.iter().map(move |(record, end)| {
            let json = self.bytes[start..*end].trim_end_matches('\n');
            start = *end;
            Line {
                record: *record,
                json,
            }
        })
    }
}

/// A destination for audit records; see the [module docs](self).
///
/// Methods run on the sink's own writer thread, never on the request path, so they
/// may block. Object safe: sinks are kept as `Box<dyn Sink>`.
pub trait Sink: fmt::Debug + Send + 'static {
    /// Writes a batch of lines. An error fails every record of the batch (and, for a
    /// fail-closed sink, the requests waiting on them).
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), SinkError>;

    /// Makes what was written durable (`fsync`); called after each batch when the
    /// sink's options ask for it, and at flush and shutdown.
    fn sync(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Whether the sink is about to move to a new file (rotation, or a reopen): the
    /// writer then seals the current file with a checkpoint and calls
    /// [`rotate`](Self::rotate).
    fn rotation_due(&mut self, now: SystemTime) -> bool {
        let _ = now;
        false
    }

    /// Moves to the new file.
    fn rotate(&mut self, now: SystemTime) -> Result<(), SinkError> {
        let _ = now;
        Ok(())
    }

    /// The last complete line already in the sink's storage, for the hash chain to
    /// continue from after a restart; `None` when the storage is empty.
    fn last_line(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// When [`last_line`](Self::last_line) is `None`: the last line of the storage
    /// written before this one (for a file, the newest rotated file beside it), for
    /// the chain to continue from in a new file.
    fn previous_last_line(&mut self) -> Option<Vec<u8>> {
        None
    }
}

impl Sink for Box<dyn Sink> {
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), SinkError> {
        (**self).write(batch)
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        (**self).sync()
    }

    fn rotation_due(&mut self, now: SystemTime) -> bool {
        (**self).rotation_due(now)
    }

    fn rotate(&mut self, now: SystemTime) -> Result<(), SinkError> {
        (**self).rotate(now)
    }

    fn last_line(&mut self) -> Option<Vec<u8>> {
        (**self).last_line()
    }

    fn previous_last_line(&mut self) -> Option<Vec<u8>> {
        (**self).previous_last_line()
    }
}
