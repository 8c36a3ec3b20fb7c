//! Checking audit files: modified, deleted, reordered, truncated records and gaps.
//!
//! [`verify_files`] reads one file or a rotated set (in any order: files are put in
//! chain order by their first `seq`) and reports each kind of finding separately, as
//! AWS CloudTrail's validation reports tampering apart from missing files:
//!
//! | finding | meaning |
//! |---|---|
//! | [`Modified`](Finding::Modified) | a record's bytes no longer hash to the next record's `prev_hash` |
//! | [`Deleted`](Finding::Deleted) | `seq` numbers are missing inside one file |
//! | [`Reordered`](Finding::Reordered) | a record comes after one with a higher `seq` |
//! | [`Duplicated`](Finding::Duplicated) | a `seq` appears twice |
//! | [`Truncated`](Finding::Truncated) | a file's last line is cut short, or the file does not end with its sealing checkpoint |
//! | [`Gap`](Finding::Gap) | `seq` numbers are missing between two files: a rotated file is missing |
//! | [`Malformed`](Finding::Malformed) | a line is not a chained JSON record |
//! | [`BadCheckpoint`](Finding::BadCheckpoint) | a checkpoint does not match the chain, its signature is invalid, or it is not signed by the trusted key |
//!
//! The file being written is not sealed yet: verify it with
//! [`VerifyOptions::live`] to accept an unsealed last file.
//!
//! # Example
//!
//! ```
//! use portcullis_audit_log::chain::Chain;
//! use portcullis_audit_log::verify::{FindingKind, VerifyOptions, verify_contents};
//!
//! let mut chain = Chain::sha256();
//! let mut log = String::new();
//! for n in 0..4 {
//!     let mut line = format!(r#"{{"n":{n}}}"#).into_bytes();
//!     chain.append(&mut line);
//!     log.push_str(std::str::from_utf8(&line).unwrap());
//!     log.push('\n');
//! }
//! let options = VerifyOptions::new().live(true);
//! let clean = verify_contents(&[("audit.log".into(), log.clone().into_bytes())], &options).unwrap();
//! assert!(clean.is_clean());
//! assert_eq!(clean.records, 4);
//!
//! // Remove the second line.
//! let lines: Vec<&str> = log.lines().collect();
//! let tampered = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
//! let report = verify_contents(&[("audit.log".into(), tampered.into_bytes())], &options).unwrap();
//! assert_eq!(report.count(FindingKind::Deleted), 1);
//! assert_eq!(report.findings.len(), 1);
//! ```

use std::fmt;
use std::path::Path;

use ed25519_dalek::VerifyingKey;

use crate::chain::{GENESIS, hash_line, verify_checkpoint};
use crate::json::hex;

/// What to verify against.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    public_key: Option<VerifyingKey>,
    chain_key: Option<Vec<u8>>,
    live: bool,
}

impl VerifyOptions {
    /// Checks the chain and each checkpoint's own signature.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires every checkpoint to be signed by this key (without it, a forger could
    /// rewrite the files and sign with a key of their own).
    #[must_use]
    pub fn public_key(mut self, key: VerifyingKey) -> Self {
        self.public_key = Some(key);
        self
    }

    /// The chain's HMAC key, for a keyed chain.
    #[must_use]
    pub fn chain_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.chain_key = Some(key.as_ref().to_vec());
        self
    }

    /// Accepts a last file that does not end with a checkpoint (the file still being
    /// written).
    #[must_use]
    pub fn live(mut self, live: bool) -> Self {
        self.live = live;
        self
    }
}

/// The kind of a [`Finding`].
///
/// ```
/// use portcullis_audit_log::verify::FindingKind;
/// assert_eq!(FindingKind::Gap.as_str(), "gap");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FindingKind {
    /// See [`Finding::Modified`].
    Modified,
    /// See [`Finding::Deleted`].
    Deleted,
    /// See [`Finding::Reordered`].
    Reordered,
    /// See [`Finding::Duplicated`].
    Duplicated,
    /// See [`Finding::Truncated`].
    Truncated,
    /// See [`Finding::Gap`].
    Gap,
    /// See [`Finding::Malformed`].
    Malformed,
    /// See [`Finding::BadCheckpoint`].
    BadCheckpoint,
}

impl FindingKind {
    /// The kind's name, as the `verify` command prints it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Modified => "modified",
            Self::Deleted => "deleted",
            Self::Reordered => "reordered",
            Self::Duplicated => "duplicated",
            Self::Truncated => "truncated",
            Self::Gap => "gap",
            Self::Malformed => "malformed",
            Self::BadCheckpoint => "bad-checkpoint",
        }
    }
}

/// One problem found; lines are numbered from 1.
///
/// ```
/// use portcullis_audit_log::verify::{Finding, FindingKind};
/// let finding = Finding::Gap { after: "a.log".into(), before: "b.log".into(), first_missing: 10, last_missing: 19 };
/// assert_eq!(finding.kind(), FindingKind::Gap);
/// assert_eq!(finding.to_string(), "gap: seq 10..=19 missing between a.log and b.log (a rotated file is missing)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// The record's bytes do not hash to the next record's `prev_hash`.
    Modified {
        /// The file.
        file: String,
        /// The record's line.
        line: usize,
        /// The record's `seq`.
        seq: u64,
    },
    /// Records are missing inside one file.
    Deleted {
        /// The file.
        file: String,
        /// The line after the hole.
        line: usize,
        /// The first missing `seq`.
        first_missing: u64,
        /// The last missing `seq`.
        last_missing: u64,
    },
    /// A record comes after one with a higher `seq`.
    Reordered {
        /// The file.
        file: String,
        /// The record's line.
        line: usize,
        /// The record's `seq`.
        seq: u64,
        /// The `seq` of the line before it.
        after: u64,
    },
    /// A `seq` appears twice.
    Duplicated {
        /// The file of the second occurrence.
        file: String,
        /// Its line.
        line: usize,
        /// The `seq`.
        seq: u64,
    },
    /// A file is cut short.
    Truncated {
        /// The file.
        file: String,
        /// The last line.
        line: usize,
        /// How.
        reason: &'static str,
    },
    /// Records are missing between two files.
    Gap {
        /// The file before the hole.
        after: String,
        /// The file after it.
        before: String,
        /// The first missing `seq`.
        first_missing: u64,
        /// The last missing `seq`.
        last_missing: u64,
    },
    /// A line is not a chained JSON record.
    Malformed {
        /// The file.
        file: String,
        /// The line.
        line: usize,
        /// Why.
        reason: &'static str,
    },
    /// A checkpoint is wrong.
    BadCheckpoint {
        /// The file.
        file: String,
        /// The checkpoint's line.
        line: usize,
        /// Its `seq`.
        seq: u64,
        /// Why.
        reason: &'static str,
    },
}

impl Finding {
    /// The finding's kind.
    pub fn kind(&self) -> FindingKind {
        match self {
            Self::Modified { .. } => FindingKind::Modified,
            Self::Deleted { .. } => FindingKind::Deleted,
            Self::Reordered { .. } => FindingKind::Reordered,
            Self::Duplicated { .. } => FindingKind::Duplicated,
            Self::Truncated { .. } => FindingKind::Truncated,
            Self::Gap { .. } => FindingKind::Gap,
            Self::Malformed { .. } => FindingKind::Malformed,
            Self::BadCheckpoint { .. } => FindingKind::BadCheckpoint,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.kind().as_str())?;
        match self {
            Self::Modified { file, line, seq } => write!(
                f,
                "{file} line {line} (seq {seq}) does not hash to the next record's prev_hash"
            ),
            Self::Deleted {
                file,
                line,
                first_missing,
                last_missing,
            } => write!(
                f,
                "seq {first_missing}..={last_missing} missing in {file} before line {line}"
            ),
            Self::Reordered {
                file,
                line,
                seq,
                after,
            } => write!(f, "{file} line {line} (seq {seq}) comes after seq {after}"),
            Self::Duplicated { file, line, seq } => {
                write!(f, "{file} line {line} repeats seq {seq}")
            }
            Self::Truncated { file, line, reason } => write!(f, "{file} line {line}: {reason}"),
            Self::Gap {
                after,
                before,
                first_missing,
                last_missing,
            } => write!(
                f,
                "seq {first_missing}..={last_missing} missing between {after} and {before} (a rotated file is missing)"
            ),
            Self::Malformed { file, line, reason } => write!(f, "{file} line {line}: {reason}"),
            Self::BadCheckpoint {
                file,
                line,
                seq,
                reason,
            } => write!(f, "{file} line {line} (seq {seq}): {reason}"),
        }
    }
}

/// What a verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Every finding, in file and line order.
    pub findings: Vec<Finding>,
    /// Files read.
    pub files: usize,
    /// Chained lines read (records and checkpoints).
    pub records: u64,
    /// Checkpoints read.
    pub checkpoints: u64,
    /// Checkpoints whose signature verified.
    pub signed_checkpoints: u64,
    /// The lowest and highest `seq` seen.
    pub seq_range: Option<(u64, u64)>,
}

impl Report {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// How many findings of `kind`.
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.kind() == kind)
            .count()
    }
}

/// Why a verification could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The chain is keyed (`hmac-sha256:` hashes) and no chain key was given.
    #[error("the chain is keyed (hmac-sha256): pass the chain key")]
    ChainKeyRequired,
}

struct Checkpoint {
    head_seq: Option<u64>,
    head_hash: Option<String>,
    timestamp: Option<String>,
    public_key: Option<String>,
    signature: Option<String>,
}

struct Entry {
    file: usize,
    line: usize,
    seq: u64,
    prev_hash: String,
    hash: String,
    checkpoint: Option<Checkpoint>,
}

/// Verifies the files at `paths`; see the [module docs](self).
pub fn verify_files(
    paths: &[impl AsRef<Path>],
    options: &VerifyOptions,
) -> Result<Report, VerifyError> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let path = path.as_ref();
        let contents = std::fs::read(path).map_err(|source| VerifyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        files.push((path.display().to_string(), contents));
    }
    verify_contents(&files, options)
}

/// Verifies files given as `(name, contents)`; see the [module docs](self).
pub fn verify_contents(
    files: &[(String, Vec<u8>)],
    options: &VerifyOptions,
) -> Result<Report, VerifyError> {
    let mut report = Report {
        files: files.len(),
        ..Report::default()
    };
    let key = options.chain_key.as_deref();
    // Parse every file.
    let mut parsed: Vec<Vec<Entry>> = Vec::with_capacity(files.len());
    let mut cut_short = vec![false; files.len()];
    let mut findings_by_file: Vec<Vec<Finding>> = (0..files.len()).map(|_| Vec::new()).collect();
    for (index, (name, contents)) in files.iter().enumerate() {
        let mut entries = Vec::new();
        let mut pieces: Vec<&[u8]> = contents.split(|&byte| byte == b'\n').collect();
        // `split` leaves an empty piece after a final newline; anything else there is
        // a line cut short.
        let last = pieces.pop().unwrap_or_default();
        if !last.is_empty() {
            cut_short[index] = true;
        }
        for (number, line) in pieces.iter().enumerate() {
            if line.is_empty() {
                continue;
            }
            match parse(line, key) {
                Ok(mut entry) => {
                    entry.file = index;
                    entry.line = number + 1;
                    entries.push(entry);
                }
                Err(reason) => findings_by_file[index].push(Finding::Malformed {
                    file: name.clone(),
                    line: number + 1,
                    reason,
                }),
            }
        }
        if cut_short[index] {
            findings_by_file[index].push(Finding::Truncated {
                file: name.clone(),
                line: pieces.len() + 1,
                reason: "the last line is cut short",
            });
        }
        parsed.push(entries);
    }
    if key.is_none()
        && parsed
            .iter()
            .flatten()
            .any(|entry| entry.prev_hash.starts_with("hmac-sha256:"))
    {
        return Err(VerifyError::ChainKeyRequired);
    }

    // Chain order: by each file's first seq.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&index| parsed[index].first().map_or(u64::MAX, |entry| entry.seq));
    let name = |index: usize| files[index].0.clone();

    // Within a file: reordering and the seal.
    for (position, &index) in order.iter().enumerate() {
        let entries = &parsed[index];
        for pair in entries.windows(2) {
            if pair[1].seq < pair[0].seq {
                findings_by_file[index].push(Finding::Reordered {
                    file: name(index),
                    line: pair[1].line,
                    seq: pair[1].seq,
                    after: pair[0].seq,
                });
            }
        }
        let is_last = position + 1 == order.len();
        let sealed = entries
            .iter()
            .max_by_key(|entry| entry.line)
            .is_none_or(|entry| entry.checkpoint.is_some());
        if !(sealed || cut_short[index] || (is_last && options.live)) {
            let line = entries.iter().map(|entry| entry.line).max().unwrap_or(0);
            findings_by_file[index].push(Finding::Truncated {
                file: name(index),
                line,
                reason: "the file does not end with its sealing checkpoint: records after this line are missing",
            });
        }
    }

    // Across the whole set, in seq order: holes, links, checkpoints.
    let mut all: Vec<&Entry> = order
        .iter()
        .flat_map(|&index| parsed[index].iter())
        .collect();
    all.sort_by_key(|entry| entry.seq);
    report.records = all.len() as u64;
    report.seq_range = all.first().zip(all.last()).map(|(a, b)| (a.seq, b.seq));
    let mut previous: Option<&Entry> = None;
    for entry in all {
        let file = entry.file;
        match previous {
            None => {
                if entry.seq == 0 && entry.prev_hash != GENESIS {
                    findings_by_file[file].push(Finding::Modified {
                        file: name(file),
                        line: entry.line,
                        seq: entry.seq,
                    });
                }
            }
            Some(before) if entry.seq == before.seq => {
                findings_by_file[file].push(Finding::Duplicated {
                    file: name(file),
                    line: entry.line,
                    seq: entry.seq,
                });
                continue;
            }
            Some(before) if entry.seq == before.seq + 1 => {
                if entry.prev_hash != before.hash {
                    findings_by_file[before.file].push(Finding::Modified {
                        file: name(before.file),
                        line: before.line,
                        seq: before.seq,
                    });
                }
            }
            Some(before) => {
                let (first_missing, last_missing) = (before.seq + 1, entry.seq - 1);
                if before.file == file {
                    findings_by_file[file].push(Finding::Deleted {
                        file: name(file),
                        line: entry.line,
                        first_missing,
                        last_missing,
                    });
                } else {
                    findings_by_file[file].push(Finding::Gap {
                        after: name(before.file),
                        before: name(file),
                        first_missing,
                        last_missing,
                    });
                }
            }
        }
        if let Some(checkpoint) = &entry.checkpoint {
            report.checkpoints += 1;
            let bad = |reason| Finding::BadCheckpoint {
                file: name(file),
                line: entry.line,
                seq: entry.seq,
                reason,
            };
            if checkpoint.head_seq != entry.seq.checked_sub(1)
                || checkpoint.head_hash.as_deref() != Some(entry.prev_hash.as_str())
            {
                findings_by_file[file].push(bad("its head is not the record before it"));
            }
            match (&checkpoint.public_key, &checkpoint.signature) {
                (Some(public_key), Some(signature)) => {
                    let valid = verify_checkpoint(
                        public_key,
                        signature,
                        checkpoint.head_seq.unwrap_or_default(),
                        checkpoint.head_hash.as_deref().unwrap_or_default(),
                        checkpoint.timestamp.as_deref().unwrap_or_default(),
                    );
                    if !valid {
                        findings_by_file[file].push(bad("its signature does not verify"));
                    } else if options
                        .public_key
                        .is_some_and(|trusted| hex(trusted.as_bytes()) != *public_key)
                    {
                        findings_by_file[file]
                            .push(bad("it is signed by another key than the trusted one"));
                    } else {
                        report.signed_checkpoints += 1;
                    }
                }
                _ if options.public_key.is_some() => {
                    findings_by_file[file].push(bad("it is not signed"));
                }
                _ => {}
            }
        }
        previous = Some(entry);
    }

    for &index in &order {
        let mut findings = std::mem::take(&mut findings_by_file[index]);
        findings.sort_by_key(finding_line);
        report.findings.extend(findings);
    }
    Ok(report)
}

fn finding_line(finding: &Finding) -> usize {
    match finding {
        Finding::Modified { line, .. }
        | Finding::Deleted { line, .. }
        | Finding::Reordered { line, .. }
        | Finding::Duplicated { line, .. }
        | Finding::Truncated { line, .. }
        | Finding::Malformed { line, .. }
        | Finding::BadCheckpoint { line, .. } => *line,
        Finding::Gap { .. } => 0,
    }
}

fn parse(line: &[u8], key: Option<&[u8]>) -> Result<Entry, &'static str> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|_| "not a JSON object")?;
    let seq = value
        .get("seq")
        .and_then(serde_json::Value::as_u64)
        .ok_or("no chain `seq`")?;
    let prev_hash = value
        .get("prev_hash")
        .and_then(serde_json::Value::as_str)
        .ok_or("no chain `prev_hash`")?
        .to_owned();
    let checkpoint = (value["event"]["action"] == "checkpoint").then(|| {
        let fields = &value["checkpoint"];
        let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
        Checkpoint {
            head_seq: fields["head_seq"].as_u64(),
            head_hash: text(&fields["head_hash"]),
            timestamp: text(&value["@timestamp"]),
            public_key: text(&fields["public_key"]),
            signature: text(&fields["signature"]),
        }
    });
    Ok(Entry {
        file: 0,
        line: 0,
        seq,
        prev_hash,
        hash: hash_line(line, key),
        checkpoint,
    })
}
