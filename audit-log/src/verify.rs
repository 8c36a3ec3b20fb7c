//! Checking audit files: modified, deleted, reordered, truncated records and gaps.
//!
//! [`verify_files`] reads one file or a rotated set (in any order: files are put in
//! chain order by their first `seq`) and reports each kind of finding separately, as
//! AWS CloudTrail's validation reports tampering apart from missing files:
//!
//! | finding | meaning |
//! |---|---|
//! | [`Modified`](Finding::Modified) | a record's bytes no longer hash to the next record's `prev_hash` |
//! | [`Deleted`](Finding::Deleted) | `seq` numbers are missing inside one file, or a file does not start at the genesis or with an `open` checkpoint ([`HeadDeleted`](Finding::HeadDeleted)) |
//! | [`Reordered`](Finding::Reordered) | a record comes after one with a higher `seq` |
//! | [`Duplicated`](Finding::Duplicated) | a `seq` appears twice |
//! | [`Truncated`](Finding::Truncated) | a file's last line is cut short, a file does not end with a seal (a `rotation` or `shutdown` checkpoint), the set ends with a `rotation` seal (the newer files are missing), or a process restarted on a file that was not sealed |
//! | [`Gap`](Finding::Gap) | `seq` numbers are missing between two files: a rotated file is missing |
//! | [`Malformed`](Finding::Malformed) | a line is not a chained JSON record |
//! | [`BadCheckpoint`](Finding::BadCheckpoint) | a checkpoint does not match the chain, has no known reason, its signature is invalid, or it is not signed by a trusted key |
//! | [`Untrusted`](Finding::Untrusted) | no trusted public key was given (and integrity only was not asked for), or none signs any checkpoint |
//!
//! What each checkpoint proves is in [`crate::chain`]: a file set verifies when its
//! first file starts at the genesis or at an `open` checkpoint (a set whose older
//! files were removed starts there: [`Report::continues_from`] says where), every
//! file ends with a seal, the last with a `shutdown` seal, and every checkpoint is
//! signed by a key given with [`VerifyOptions::public_key`]. The signature covers each checkpoint's whole line,
//! and each line's hash is in the next line's `prev_hash`, so no byte of a sealed
//! set can change unnoticed.
//!
//! # Trust
//!
//! Each checkpoint holds the public key it was signed with, so that it can be
//! checked at all; but whoever rewrites the files can re-sign them with a key of
//! their own. Without a trusted key, a report therefore holds an
//! [`Untrusted`](Finding::Untrusted) finding, unless [`VerifyOptions::integrity_only`]
//! says that only the chain's integrity is meant to be checked (against damage, say).
//!
//! # Live files
//!
//! The file being written is not sealed yet: verify it with [`VerifyOptions::live`]
//! to accept an unsealed last file. What a live file cannot prove: the lines after
//! its last checkpoint ([`Report::unsealed`]) are vouched for by nothing signed yet,
//! so they can be cut, or the last of them changed, unnoticed; everything up to the
//! last checkpoint is proven as in a sealed file.
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
//! // No checkpoint, no key: the chain's integrity only, in a file still written.
//! let options = VerifyOptions::new().live(true).integrity_only(true);
//! let clean = verify_contents(&[("audit.log".into(), log.clone().into_bytes())], &options).unwrap();
//! assert!(clean.is_clean());
//! assert_eq!(clean.records, 4);
//! assert_eq!(clean.unsealed, Some((0, 3)));
//!
//! // Remove the second line.
//! let lines: Vec<&str> = log.lines().collect();
//! let tampered = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
//! let report = verify_contents(&[("audit.log".into(), tampered.into_bytes())], &options).unwrap();
//! assert_eq!(report.count(FindingKind::Deleted), 1);
//! assert_eq!(report.findings.len(), 1);
//!
//! // Without a trusted key, and without asking for integrity only: not clean.
//! let untrusted = verify_contents(&[("audit.log".into(), log.into_bytes())], &VerifyOptions::new().live(true)).unwrap();
//! assert_eq!(untrusted.count(FindingKind::Untrusted), 1);
//! ```
//!
//! # The `portcullis-audit verify` command
//!
//! `portcullis-audit verify [--public-key KEY]... [--chain-key KEY] [--live]
//! [--integrity-only] FILE...` runs [`verify_files`]. KEY is hex, or a file holding
//! it (a `--public-key` file may hold several keys, one per line: a checkpoint
//! signed by any of them is trusted). Its output is stable, one line each, in order:
//!
//! - each finding, as its [`Display`](Finding#impl-Display-for-Finding):
//!   `<kind>: <what and where>`, `<kind>` being [`FindingKind::as_str`];
//! - `note: ` lines, which are not findings: where a set continues from
//!   ([`Report::continues_from`]), and, live, which lines are not signed yet
//!   ([`Report::unsealed`]);
//! - the summary, `<F> file(s), <N> chained line(s) (seq <first>..=<last>), <C>
//!   checkpoint(s), <S> signature(s) verified: <verdict>`, where `<S>` counts the
//!   signatures of a trusted key (`(by the keys in the files only)` follows it
//!   without one), and `<verdict>` is `OK`, `OK (integrity only: no trusted key)`,
//!   or `<n> finding(s)`.
//!
//! Its exit status is 0 when the verdict is OK, 1 when something was found
//! (including [`Untrusted`](Finding::Untrusted)), 2 on a usage or read error.

use std::fmt;
use std::path::Path;

use ed25519_dalek::VerifyingKey;

use crate::chain::{
    CheckpointReason, GENESIS, has_signature, hash_line, parse_public_key, verify_line_signature,
};
use crate::json::hex;

/// What to verify against.
///
/// ```
/// use portcullis_audit_log::chain::CheckpointSigner;
/// use portcullis_audit_log::verify::VerifyOptions;
/// let before = CheckpointSigner::from_bytes(&[1; 32]);
/// let after = CheckpointSigner::from_bytes(&[2; 32]);
/// // Both keys a service signed with, before and after its key was changed.
/// let options = VerifyOptions::new()
///     .public_key(before.verifying_key())
///     .public_key(after.verifying_key());
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    public_keys: Vec<VerifyingKey>,
    chain_key: Option<Vec<u8>>,
    live: bool,
    integrity_only: bool,
}

impl VerifyOptions {
    /// Checks the chain and each checkpoint's signature; add a trusted key with
    /// [`public_key`](Self::public_key).
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts this key: every checkpoint must be signed by one of the keys given
    /// (without one, a forger could rewrite the files and sign with a key of their
    /// own). Call it once per key the files were signed with.
    #[must_use]
    pub fn public_key(mut self, key: VerifyingKey) -> Self {
        self.public_keys.push(key);
        self
    }

    /// The chain's HMAC key, for a keyed chain.
    #[must_use]
    pub fn chain_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.chain_key = Some(key.as_ref().to_vec());
        self
    }

    /// Accepts a set still being written: its last file need not end with a seal,
    /// nor the set with a `shutdown` one; see [Live files](self#live-files) for what
    /// it cannot prove.
    #[must_use]
    pub fn live(mut self, live: bool) -> Self {
        self.live = live;
        self
    }

    /// Checks the chain's integrity alone when no trusted key is given, instead of
    /// reporting [`Untrusted`](Finding::Untrusted): against damage, or before the
    /// key is at hand. It proves nothing against whoever can rewrite the files.
    #[must_use]
    pub fn integrity_only(mut self, on: bool) -> Self {
        self.integrity_only = on;
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
    /// See [`Finding::Deleted`] and [`Finding::HeadDeleted`].
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
    /// See [`Finding::Untrusted`].
    Untrusted,
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
            Self::Untrusted => "untrusted",
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
    /// A file's first line is neither the chain's genesis nor an `open` checkpoint:
    /// the lines before it were deleted (of kind [`FindingKind::Deleted`]).
    HeadDeleted {
        /// The file.
        file: String,
        /// Its first chained line.
        line: usize,
        /// That line's `seq`.
        seq: u64,
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
    /// A file is cut short, or was not sealed.
    Truncated {
        /// The file.
        file: String,
        /// The last line before what is missing.
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
    /// Nothing proves who wrote the files: no trusted key was given, or no
    /// checkpoint is signed by one.
    Untrusted {
        /// Why.
        reason: &'static str,
    },
}

impl Finding {
    /// The finding's kind.
    pub fn kind(&self) -> FindingKind {
        match self {
            Self::Modified { .. } => FindingKind::Modified,
            Self::Deleted { .. } | Self::HeadDeleted { .. } => FindingKind::Deleted,
            Self::Reordered { .. } => FindingKind::Reordered,
            Self::Duplicated { .. } => FindingKind::Duplicated,
            Self::Truncated { .. } => FindingKind::Truncated,
            Self::Gap { .. } => FindingKind::Gap,
            Self::Malformed { .. } => FindingKind::Malformed,
            Self::BadCheckpoint { .. } => FindingKind::BadCheckpoint,
            Self::Untrusted { .. } => FindingKind::Untrusted,
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
            Self::HeadDeleted { file, line, seq } => write!(
                f,
                "{file} line {line} (seq {seq}) starts the file but is neither the chain's genesis nor an `open` checkpoint: the lines before it were deleted"
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
            Self::Untrusted { reason } => f.write_str(reason),
        }
    }
}

/// What a verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Every finding, in file and line order ([`Untrusted`](Finding::Untrusted) last).
    pub findings: Vec<Finding>,
    /// Files read.
    pub files: usize,
    /// Chained lines read (records and checkpoints).
    pub records: u64,
    /// Checkpoints read.
    pub checkpoints: u64,
    /// Checkpoints whose signature verified: by a trusted key, or, when none was
    /// given, by the key written in the checkpoint.
    pub signed_checkpoints: u64,
    /// Whether signatures were checked against trusted keys.
    pub trusted: bool,
    /// The lowest and highest `seq` seen.
    pub seq_range: Option<(u64, u64)>,
    /// The `seq` the set continues from when it starts at an `open` checkpoint rather
    /// than at the genesis: the last line of an older file, not given.
    pub continues_from: Option<u64>,
    /// Verified live: the `seq` range after the last checkpoint, which nothing signed
    /// vouches for yet.
    pub unsealed: Option<(u64, u64)>,
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

const NOT_SEALED: &str = "the file does not end with a seal (a `rotation` or `shutdown` checkpoint): lines after this one were cut, or its writer stopped without sealing it (a crash); verify a file still being written as live";
const ENDS_AT_ROTATION: &str = "the files end with a `rotation` seal, which closes a file and not the log: the files written after it are missing (verify a set still being written as live)";
const CUT_SHORT: &str = "the last line is cut short";
const RESTARTED_UNSEALED: &str = "a process restarted on this file after this line, and the file was not sealed before: lines after this one may have been cut while it was stopped, or the process before crashed";
const NO_TRUSTED_KEY: &str = "no trusted public key given: signatures were checked only against the keys written in the files, which whoever rewrites them can replace; give the signer's public key, or ask for integrity only";
const NOTHING_SIGNED: &str =
    "no checkpoint is signed by a trusted key: nothing proves who wrote these lines";

/// A checkpoint's signature, checked against the key written in it.
enum Signed {
    /// No `signature` member.
    No,
    /// Valid for the key written in the checkpoint (hex).
    By(String),
    /// Present, but not the signature of its line by the key written in it.
    Invalid,
}

struct Checkpoint {
    reason: Option<CheckpointReason>,
    head_seq: Option<u64>,
    head_hash: Option<String>,
    has_head: bool,
    signature: Signed,
}

struct Entry {
    file: usize,
    line: usize,
    seq: u64,
    prev_hash: String,
    hash: String,
    checkpoint: Option<Checkpoint>,
}

impl Entry {
    fn reason(&self) -> Option<CheckpointReason> {
        self.checkpoint
            .as_ref()
            .and_then(|checkpoint| checkpoint.reason)
    }

    fn is_seal(&self) -> bool {
        self.reason().is_some_and(|reason| reason.is_seal())
    }

    /// The genesis line, or an `open` checkpoint: where a file may start.
    fn is_anchor(&self) -> bool {
        (self.seq == 0 && self.prev_hash == GENESIS)
            || self.reason() == Some(CheckpointReason::Open)
    }
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
    let trusted: Vec<String> = options
        .public_keys
        .iter()
        .map(|key| hex(key.as_bytes()))
        .collect();
    let mut report = Report {
        files: files.len(),
        trusted: !trusted.is_empty(),
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
                reason: CUT_SHORT,
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

    // Chain order: by each file's first seq (files without a chained line last).
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&index| parsed[index].first().map_or(u64::MAX, |entry| entry.seq));
    let name = |index: usize| files[index].0.clone();
    let last_file = order
        .iter()
        .rev()
        .find(|&&index| !parsed[index].is_empty())
        .copied();

    // Within a file: reordering, where it starts and how it ends. A file without a
    // chained line claims nothing.
    for &index in &order {
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
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            continue;
        };
        if !first.is_anchor() {
            findings_by_file[index].push(Finding::HeadDeleted {
                file: name(index),
                line: first.line,
                seq: first.seq,
            });
        }
        let live = options.live && last_file == Some(index);
        if !(last.is_seal() || cut_short[index] || live) {
            findings_by_file[index].push(Finding::Truncated {
                file: name(index),
                line: last.line,
                reason: NOT_SEALED,
            });
        }
    }

    // Across the whole set, in seq order: holes, links, restarts, checkpoints.
    let mut all: Vec<&Entry> = order
        .iter()
        .flat_map(|&index| parsed[index].iter())
        .collect();
    all.sort_by_key(|entry| entry.seq);
    report.records = all.len() as u64;
    report.seq_range = all.first().zip(all.last()).map(|(a, b)| (a.seq, b.seq));
    let mut previous: Option<&Entry> = None;
    let mut last_checkpoint: Option<u64> = None;
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
                if entry.seq > 0 && entry.is_anchor() {
                    report.continues_from = Some(entry.seq - 1);
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
                } else if before.file == file
                    && entry.reason().is_some_and(|reason| reason.is_start())
                    && !before.is_seal()
                {
                    // (Across files, the file before is checked for its seal.)
                    findings_by_file[file].push(Finding::Truncated {
                        file: name(file),
                        line: before.line,
                        reason: RESTARTED_UNSEALED,
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
            last_checkpoint = Some(entry.seq);
            let bad = |reason| Finding::BadCheckpoint {
                file: name(file),
                line: entry.line,
                seq: entry.seq,
                reason,
            };
            if checkpoint.reason.is_none() {
                findings_by_file[file].push(bad("its reason is missing or unknown"));
            }
            let head_matches = match entry.seq.checked_sub(1) {
                None => !checkpoint.has_head,
                Some(head_seq) => {
                    checkpoint.head_seq == Some(head_seq)
                        && checkpoint.head_hash.as_deref() == Some(entry.prev_hash.as_str())
                }
            };
            if !head_matches {
                findings_by_file[file].push(bad("its head is not the record before it"));
            }
            match &checkpoint.signature {
                Signed::By(key) if !trusted.is_empty() && !trusted.contains(key) => {
                    findings_by_file[file]
                        .push(bad("it is signed by another key than the trusted ones"));
                }
                Signed::By(_) => report.signed_checkpoints += 1,
                Signed::Invalid => {
                    findings_by_file[file].push(bad("its signature does not verify"));
                }
                Signed::No if !trusted.is_empty() => {
                    findings_by_file[file].push(bad("it is not signed"));
                }
                Signed::No => {}
            }
        }
        previous = Some(entry);
    }
    // The set's last line: a `rotation` seal closes a file, not the log: the files
    // after it are missing.
    if !options.live
        && let Some(last) = previous
        && last.reason() == Some(CheckpointReason::Rotation)
    {
        findings_by_file[last.file].push(Finding::Truncated {
            file: name(last.file),
            line: last.line,
            reason: ENDS_AT_ROTATION,
        });
    }
    if options.live
        && let Some((first, last)) = report.seq_range
    {
        let from = match last_checkpoint {
            None => Some(first),
            Some(seq) => seq.checked_add(1),
        };
        if let Some(from) = from.filter(|&from| from <= last) {
            report.unsealed = Some((from, last));
        }
    }

    for &index in &order {
        let mut findings = std::mem::take(&mut findings_by_file[index]);
        findings.sort_by_key(finding_line);
        report.findings.extend(findings);
    }
    if trusted.is_empty() {
        if !options.integrity_only {
            report.findings.push(Finding::Untrusted {
                reason: NO_TRUSTED_KEY,
            });
        }
    } else if report.signed_checkpoints == 0 {
        report.findings.push(Finding::Untrusted {
            reason: NOTHING_SIGNED,
        });
    }
    Ok(report)
}

fn finding_line(finding: &Finding) -> usize {
    match finding {
        Finding::Modified { line, .. }
        | Finding::Deleted { line, .. }
        | Finding::HeadDeleted { line, .. }
        | Finding::Reordered { line, .. }
        | Finding::Duplicated { line, .. }
        | Finding::Truncated { line, .. }
        | Finding::Malformed { line, .. }
        | Finding::BadCheckpoint { line, .. } => *line,
        Finding::Gap { .. } => 0,
        Finding::Untrusted { .. } => usize::MAX,
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
        let signature = if has_signature(line) {
            match fields["public_key"].as_str().and_then(parse_public_key) {
                Some(public_key) if verify_line_signature(line, &public_key) => {
                    Signed::By(hex(public_key.as_bytes()))
                }
                _ => Signed::Invalid,
            }
        } else if value.get("signature").is_some() || fields.get("signature").is_some() {
            Signed::Invalid
        } else {
            Signed::No
        };
        Checkpoint {
            reason: value["event"]["reason"]
                .as_str()
                .and_then(|reason| reason.parse().ok()),
            head_seq: fields["head_seq"].as_u64(),
            head_hash: fields["head_hash"].as_str().map(str::to_owned),
            has_head: fields.get("head_seq").is_some() || fields.get("head_hash").is_some(),
            signature,
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
