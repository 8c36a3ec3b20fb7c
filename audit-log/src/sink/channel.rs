use std::fmt;
use std::sync::mpsc::SyncSender;

use super::{Batch, Sink, SinkError};

/// Sends each JSON line into a bounded standard-library channel, for a forwarder
/// thread of your own (a SIEM client). Blocks while the channel is full; the sink's
/// write timeout bounds what that costs a fail-closed request.
///
/// ```
/// use portcullis_audit_log::sink::{Batch, ChannelSink, Sink};
/// let (sender, receiver) = std::sync::mpsc::sync_channel(1024);
/// let mut sink = ChannelSink::new(sender);
/// sink.write(&Batch::from_json_lines("{\"a\":1}\n")).unwrap();
/// assert_eq!(receiver.recv().unwrap(), "{\"a\":1}");
/// ```
#[derive(Debug)]
pub struct ChannelSink {
    sender: SyncSender<String>,
}

impl ChannelSink {
    /// A sink feeding `sender`.
    pub fn new(sender: SyncSender<String>) -> Self {
        Self { sender }
    }
}

impl Sink for ChannelSink {
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), SinkError> {
        for line in batch.lines() {
            self.sender
                .send(line.json.to_owned())
                .map_err(|_| SinkError::Closed)?;
        }
        Ok(())
    }
}

/// Calls a function with each batch: the simplest custom sink.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use portcullis_audit_log::sink::{Batch, CallbackSink, Sink, SinkError};
///
/// let seen = Arc::new(Mutex::new(0));
/// let counter = seen.clone();
/// let mut sink = CallbackSink::new(move |batch: &Batch<'_>| {
///     *counter.lock().unwrap() += batch.len();
///     Ok::<(), SinkError>(())
/// });
/// sink.write(&Batch::from_json_lines("{}\n{}\n")).unwrap();
/// assert_eq!(*seen.lock().unwrap(), 2);
/// ```
pub struct CallbackSink<F> {
    callback: F,
}

impl<F> CallbackSink<F>
where
    F: FnMut(&Batch<'_>) -> Result<(), SinkError> + Send + 'static,
{
    /// A sink calling `callback` with each batch.
    pub fn new(callback: F) -> Self {
        Self { callback }
    }
}

impl<F> fmt::Debug for CallbackSink<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackSink").finish_non_exhaustive()
    }
}

impl<F> Sink for CallbackSink<F>
where
    F: FnMut(&Batch<'_>) -> Result<(), SinkError> + Send + 'static,
{
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), SinkError> {
        (self.callback)(batch)
    }
}
