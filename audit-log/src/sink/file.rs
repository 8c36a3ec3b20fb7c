use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::{Batch, Sink, SinkError};
use crate::json::compact;

/// When a [`FileSink`] starts a new file by time, on UTC-aligned boundaries.
///
/// ```
/// use portcullis_audit_log::sink::Rotation;
/// let rotation: Rotation = serde_json::from_str("\"daily\"").unwrap();
/// assert_eq!(rotation, Rotation::Daily);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rotation {
    /// Only by size.
    #[default]
    Never,
    /// At the start of every UTC hour.
    Hourly,
    /// At every UTC midnight.
    Daily,
    /// At every multiple of this interval since the Unix epoch.
    Every(Duration),
}

impl Rotation {
    fn interval_secs(self) -> Option<u64> {
        match self {
            Self::Never => None,
            Self::Hourly => Some(3_600),
            Self::Daily => Some(86_400),
            Self::Every(interval) => Some(interval.as_secs().max(1)),
        }
    }
}

/// Asks a [`FileSink`] to reopen its path before its next write, the way
/// `logrotate`'s `postrotate` sends `SIGHUP`. Clones share one request.
///
/// ```
/// use portcullis_audit_log::sink::FileSink;
/// let dir = tempfile::tempdir().unwrap();
/// let sink = FileSink::open(dir.path().join("audit.log")).unwrap();
/// let handle = sink.reopen_handle();
/// handle.reopen();
/// assert_eq!(handle.requests(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ReopenHandle {
    flag: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
}

impl ReopenHandle {
    /// Requests a reopen.
    pub fn reopen(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.flag.store(true, Ordering::SeqCst);
    }

    /// How many reopens were requested so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    fn take(&self) -> bool {
        self.flag.swap(false, Ordering::SeqCst)
    }
}

/// Reopens these file sinks whenever the process receives `SIGHUP`.
///
/// Registers the signal handler before returning (so a `SIGHUP` sent afterwards never
/// takes the default action of ending the process) and spawns a task that listens;
/// call it from within a Tokio runtime with its I/O driver enabled.
#[cfg(all(unix, feature = "sighup"))]
pub fn reopen_on_sighup(
    handles: impl IntoIterator<Item = ReopenHandle>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let handles: Vec<ReopenHandle> = handles.into_iter().collect();
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!(target: "portcullis_audit_log", "SIGHUP: reopening audit files");
            for handle in &handles {
                handle.reopen();
            }
        }
    }))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Switch {
    /// Rename the file aside and start a new one (size or time).
    Rotate,
    /// Open the path again (it was renamed, deleted, or a reopen was asked).
    Reopen,
}

/// JSON lines appended to a file, with rotation and reopening.
///
/// - **Rotation** by size ([`max_bytes`](Self::max_bytes)) and time
///   ([`rotate`](Self::rotate)): the file is renamed to
///   `<path>.<UTC timestamp>` (with `.001`, `.002`, … if taken) and a new one started
///   at `path`. Checked before each batch, so a file exceeds its size by at most one
///   batch.
/// - **Reopen**: on a [`ReopenHandle::reopen`] (`SIGHUP` with
///   [`reopen_on_sighup`](super::reopen_on_sighup)), and when the path no longer
///   names the open file (deleted, or renamed away by `logrotate`), checked at most
///   every [`check_every`](Self::check_every).
/// - Before either, the writer seals the old file with a chain checkpoint, and the
///   chain goes on in the new file, which starts with an `open` checkpoint naming
///   the old file's last line ([`crate::chain`]).
/// - On start-up the chain continues from the file's last whole line, or, when the
///   file is new or empty, from the last line of the most recently modified file
///   beside it named `<path>.…` (a file rotated by the sink or by logrotate while
///   the process was stopped; a compressed one cannot be read, and a new chain
///   starts).
/// - A batch is one `write`; [`sync`](Sink::sync) is `fdatasync`.
///
/// ```
/// use std::time::Duration;
/// use portcullis_audit_log::sink::{FileSink, Rotation};
///
/// let dir = tempfile::tempdir().unwrap();
/// let sink = FileSink::open(dir.path().join("audit.log"))?
///     .max_bytes(100 * 1024 * 1024)
///     .rotate(Rotation::Daily)
///     .check_every(Duration::from_secs(1));
/// assert!(sink.path().ends_with("audit.log"));
/// # Ok::<(), portcullis_audit_log::sink::SinkError>(())
/// ```
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    file: File,
    size: u64,
    identity: Option<(u64, u64)>,
    max_bytes: Option<u64>,
    rotation: Rotation,
    next_boundary: Option<u64>,
    check_every: Duration,
    last_check: Option<Instant>,
    reopen: ReopenHandle,
    pending: Option<Switch>,
}

impl FileSink {
    /// Opens (creating it if needed) the file at `path` for appending.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, SinkError> {
        let path = path.into();
        let (file, size, identity) = open_append(&path)?;
        Ok(Self {
            path,
            file,
            size,
            identity,
            max_bytes: None,
            rotation: Rotation::Never,
            next_boundary: None,
            check_every: Duration::from_secs(1),
            last_check: None,
            reopen: ReopenHandle::default(),
            pending: None,
        })
    }

    /// Starts a new file once this one holds `bytes` (checked before each batch).
    #[must_use]
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes.max(1));
        self
    }

    /// Starts a new file on this time boundary.
    #[must_use]
    pub fn rotate(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// How often the path is checked for a deleted or replaced file (a `stat` call);
    /// `Duration::ZERO` checks before every batch. One second by default.
    #[must_use]
    pub fn check_every(mut self, interval: Duration) -> Self {
        self.check_every = interval;
        self
    }

    /// A handle that makes the sink reopen its path before its next write.
    pub fn reopen_handle(&self) -> ReopenHandle {
        self.reopen.clone()
    }

    /// The path written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn path_changed(&self) -> bool {
        match std::fs::metadata(&self.path) {
            Err(_) => true,
            Ok(metadata) => identity(&metadata).is_some() && identity(&metadata) != self.identity,
        }
    }

    fn rotated_name(&self, now: SystemTime) -> PathBuf {
        let base = format!("{}.{}", self.path.display(), compact(now));
        if !Path::new(&base).exists() {
            return PathBuf::from(base);
        }
        (1u32..)
            .map(|n| PathBuf::from(format!("{base}.{n:03}")))
            .find(|candidate| !candidate.exists())
            .unwrap_or_else(|| PathBuf::from(base))
    }

    fn reopen_path(&mut self) -> Result<(), SinkError> {
        let (file, size, identity) = open_append(&self.path)?;
        self.file = file;
        self.size = size;
        self.identity = identity;
        Ok(())
    }
}

/// A file's device and inode.
type Identity = Option<(u64, u64)>;

fn open_append(path: &Path) -> Result<(File, u64, Identity), SinkError> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|source| SinkError::io("open", path, source))?;
    let metadata = file
        .metadata()
        .map_err(|source| SinkError::io("stat", path, source))?;
    let mut size = metadata.len();
    if size > 0 {
        // A line cut short by a crash stays as it is; new lines start on a line of
        // their own.
        let mut last = [0u8; 1];
        let ends_with_newline = file
            .seek(SeekFrom::End(-1))
            .and_then(|_| file.read_exact(&mut last))
            .map(|()| last[0] == b'\n')
            .unwrap_or(true);
        if !ends_with_newline {
            file.write_all(b"\n")
                .map_err(|source| SinkError::io("write", path, source))?;
            size += 1;
        }
    }
    Ok((file, size, identity(&metadata)))
}

#[cfg(unix)]
fn identity(metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

impl Sink for FileSink {
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), SinkError> {
        self.file
            .write_all(batch.as_bytes())
            .map_err(|source| SinkError::io("write", &self.path, source))?;
        self.size += batch.as_bytes().len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        self.file
            .sync_data()
            .map_err(|source| SinkError::io("fsync", &self.path, source))
    }

    fn rotation_due(&mut self, now: SystemTime) -> bool {
        if self.pending.is_some() {
            return true;
        }
        if self.reopen.take() {
            self.pending = Some(Switch::Reopen);
            return true;
        }
        let checked_long_ago = self
            .last_check
            .is_none_or(|at| at.elapsed() >= self.check_every);
        if checked_long_ago {
            self.last_check = Some(Instant::now());
            if self.path_changed() {
                self.pending = Some(Switch::Reopen);
                return true;
            }
        }
        if self.max_bytes.is_some_and(|max| self.size >= max) {
            self.pending = Some(Switch::Rotate);
            return true;
        }
        if let Some(interval) = self.rotation.interval_secs() {
            let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            match self.next_boundary {
                None => self.next_boundary = Some((secs / interval + 1) * interval),
                Some(boundary) if secs >= boundary => {
                    self.next_boundary = Some((secs / interval + 1) * interval);
                    if self.size > 0 {
                        self.pending = Some(Switch::Rotate);
                        return true;
                    }
                }
                Some(_) => {}
            }
        }
        false
    }

    fn rotate(&mut self, now: SystemTime) -> Result<(), SinkError> {
        match self.pending.take() {
            Some(Switch::Reopen) => self.reopen_path(),
            Some(Switch::Rotate) => {
                let target = self.rotated_name(now);
                std::fs::rename(&self.path, &target)
                    .map_err(|source| SinkError::io("rename", &self.path, source))?;
                self.reopen_path()
            }
            None => Ok(()),
        }
    }

    fn last_line(&mut self) -> Option<Vec<u8>> {
        last_line_of(&self.path)
    }

    fn previous_last_line(&mut self) -> Option<Vec<u8>> {
        last_line_of(&newest_sibling(&self.path)?)
    }
}

/// The last line of the file at `path` that is a whole JSON value (a line cut short
/// by a crash is passed over), or else its last line; `None` when it has none.
fn last_line_of(path: &Path) -> Option<Vec<u8>> {
    const TAIL: u64 = 64 * 1024;
    let mut file = File::open(path).ok()?;
    let metadata = file.metadata().ok()?;
    // A device (`/dev/full`, `/dev/zero`) never ends: only a regular file has lines to
    // continue from, and no more than its tail is read whatever it is.
    if !metadata.is_file() {
        return None;
    }
    file.seek(SeekFrom::Start(metadata.len().saturating_sub(TAIL)))
        .ok()?;
    let mut tail = Vec::new();
    file.take(TAIL).read_to_end(&mut tail).ok()?;
    let mut lines = tail
        .split(|&byte| byte == b'\n')
        .rev()
        .filter(|line| !line.is_empty());
    let last = lines.next()?;
    if serde_json::from_slice::<serde::de::IgnoredAny>(last).is_ok() {
        return Some(last.to_vec());
    }
    Some(
        lines
            .find(|line| serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok())
            .unwrap_or(last)
            .to_vec(),
    )
}

/// The most recently modified file beside `path` whose name is `path`'s followed by
/// a dot (`audit.log.20250101T000000Z`, logrotate's `audit.log.1`).
fn newest_sibling(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let prefix = format!("{name}.");
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|other| other.starts_with(&prefix))
        })
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            metadata
                .is_file()
                .then(|| (metadata.modified().ok(), entry.file_name(), entry.path()))
        })
        .max_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)))
        .map(|(_, _, path)| path)
}
