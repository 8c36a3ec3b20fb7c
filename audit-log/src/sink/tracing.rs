use super::{Batch, Sink, SinkError};

/// Emits one `tracing` event per record at `INFO`, target `portcullis_audit_log::audit`,
/// with the JSON line in the `audit` field.
///
/// For services whose log pipeline already ships `tracing` output. The subscriber
/// decides what survives; no write is acknowledged beyond handing the event over.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink {
    _private: (),
}

impl TracingSink {
    /// The sink.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Sink for TracingSink {
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), SinkError> {
        for line in batch.lines() {
            ::tracing::info!(target: "portcullis_audit_log::audit", audit = line.json);
        }
        Ok(())
    }
}
