use std::io::Write;

use super::{Batch, Sink, SinkError};

/// Writes records to standard output: JSON lines, or human-readable lines.
#[derive(Clone, Copy, Debug)]
pub struct StdoutSink {
    human: bool,
}

impl StdoutSink {
    /// One JSON object per line.
    pub fn json() -> Self {
        Self { human: false }
    }

    /// One short human-readable line per record, for development; checkpoints are
    /// printed as JSON.
    pub fn human() -> Self {
        Self { human: true }
    }
}

impl Sink for StdoutSink {
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), SinkError> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let result = if self.human {
            batch.lines().try_for_each(|line| match line.record {
                Some(record) => writeln!(out, "{}", record.to_human()),
                None => writeln!(out, "{}", line.json),
            })
        } else {
            out.write_all(batch.as_bytes())
        };
        result
            .and_then(|()| out.flush())
            .map_err(|source| SinkError::io("write", std::path::Path::new("<stdout>"), source))
    }
}
