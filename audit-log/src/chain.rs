//! Tamper evidence: a SHA-256 hash chain over the lines, and signed checkpoints.
//!
//! With the chain on, the writer of each sink adds two members to every line it
//! writes: `seq`, the line's number in the sink's chain (from 0), and `prev_hash`,
//! the hash of the previous line (`sha256:<hex>` of its exact bytes, or
//! `hmac-sha256:<hex>` under a chain key; the first line's is [`GENESIS`]). Changing,
//! removing, reordering or adding a line breaks the chain at that point.
//!
//! A plain SHA-256 chain can be recomputed by whoever rewrites the whole file. Two
//! defences, as in AWS CloudTrail's log-file integrity validation:
//!
//! - a **chain key** (`HMAC-SHA256` instead of SHA-256): only holders of the key can
//!   compute valid hashes, and verifying needs it too;
//! - **checkpoints**: lines (`event.action` `checkpoint`) holding the chain head
//!   (`checkpoint.head_seq`, `checkpoint.head_hash`: the line before), each signed
//!   with Ed25519: `signature`, the line's last member, signs every other byte of
//!   the line (its time, reason, head, `seq`, `prev_hash` and `checkpoint.public_key`
//!   alike; [`verify_line_signature`]). Ship the public key to whoever verifies: a
//!   forger without the signing key cannot re-sign.
//!
//! # Checkpoints and what they prove
//!
//! Every checkpoint has a [`CheckpointReason`] in `event.reason`:
//!
//! | reason | written | proves |
//! |---|---|---|
//! | `open` | as the first line of every file the writer starts: after a rotation or a reopen, and when the process starts on an empty file | where the file continues from (the last line of the file before it, or [`GENESIS`]): a file set may start here, older files having been removed |
//! | `restart` | when the process starts on a file that already has lines | that a new process continues the chain; the line before it must be a seal, or the file was not closed properly (a crash, or lines cut while the process was stopped) |
//! | `periodic` | every N lines and every T seconds with unsealed lines | the chain up to here: lines before it cannot be changed or removed unnoticed any more |
//! | `rotation` | as the last line of a file, before the writer moves to a new one | a *seal*: nothing was written to this file after it |
//! | `shutdown` | as the last line at shutdown | a *seal*, too |
//!
//! So a file set verifies only if each file starts at the genesis or with an `open`
//! checkpoint and ends with a seal, the last file with a `shutdown` one (a set still
//! being written, checked as *live*, excepted: deleting the newest files leaves a
//! set that ends with a `rotation` seal). The reason is signed: cutting a file after a `periodic`
//! checkpoint and relabelling it `shutdown` breaks the signature.
//!
//! **Restarts** continue the chain: the file sink reads its file's last line back
//! (or, when the file is empty or new, the last line of the newest rotated file
//! beside it), the writer goes on from that line's `seq` and hash and first writes a
//! signed `restart` checkpoint (`open` into an empty file) naming it. `seq` therefore
//! grows across every file and process of one log. When no earlier line can be
//! found, a new chain starts at seq 0 with an `open` checkpoint at the genesis;
//! verify the files of each chain apart.
//!
//! See [`crate::verify`] for the checks, and the `portcullis-audit verify` command.
//!
//! # Example
//!
//! ```
//! use portcullis_audit_log::chain::{Chain, GENESIS};
//!
//! let mut chain = Chain::sha256();
//! let mut first = br#"{"event":{"action":"request"}}"#.to_vec();
//! let first_hash = chain.append(&mut first);
//! let text = String::from_utf8(first).unwrap();
//! assert!(text.ends_with(&format!(r#","seq":0,"prev_hash":"{GENESIS}"}}"#)));
//!
//! let mut second = br#"{"event":{"action":"response"}}"#.to_vec();
//! chain.append(&mut second);
//! assert!(String::from_utf8(second).unwrap().contains(&format!(r#""seq":1,"prev_hash":"{first_hash}""#)));
//! assert_eq!(chain.head().next_seq, 2);
//! ```

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::json::{hex, push_hex, unhex, write_u64};

/// The `prev_hash` of the first line of a chain.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// What a signature signs: this, then the line without its `signature` member.
const SIGNATURE_DOMAIN: &[u8] = b"portcullis-audit-checkpoint-v2\n";
/// How a signed line's `signature` member starts; it is the line's last member.
const SIGNATURE_MEMBER: &[u8] = b",\"signature\":\"";
/// Hex digits of an Ed25519 signature.
const SIGNATURE_HEX: usize = 128;

/// Why a checkpoint was written (its `event.reason`); see the [module docs](self).
///
/// ```
/// use portcullis_audit_log::chain::CheckpointReason;
/// let reason: CheckpointReason = "rotation".parse().unwrap();
/// assert!(reason.is_seal());
/// assert!(!CheckpointReason::Periodic.is_seal());
/// assert_eq!(CheckpointReason::Open.as_str(), "open");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckpointReason {
    /// The first line of a file: where it continues from.
    Open,
    /// A new process continues a file that already has lines.
    Restart,
    /// Every N lines and every T seconds.
    Periodic,
    /// The last line of a file before the writer moved to a new one (a seal).
    Rotation,
    /// The last line at shutdown (a seal).
    Shutdown,
}

impl CheckpointReason {
    /// The reason as written in `event.reason`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Restart => "restart",
            Self::Periodic => "periodic",
            Self::Rotation => "rotation",
            Self::Shutdown => "shutdown",
        }
    }

    /// Whether it seals a file: nothing follows it in its file but an `open` or
    /// `restart` checkpoint.
    pub fn is_seal(&self) -> bool {
        matches!(self, Self::Rotation | Self::Shutdown)
    }

    /// Whether it starts what a writer writes (`open`, `restart`).
    pub fn is_start(&self) -> bool {
        matches!(self, Self::Open | Self::Restart)
    }
}

impl FromStr for CheckpointReason {
    type Err = UnknownReason;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "open" => Self::Open,
            "restart" => Self::Restart,
            "periodic" => Self::Periodic,
            "rotation" => Self::Rotation,
            "shutdown" => Self::Shutdown,
            _ => return Err(UnknownReason),
        })
    }
}

/// A checkpoint reason that is none of [`CheckpointReason`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown checkpoint reason")]
#[non_exhaustive]
pub struct UnknownReason;

/// Where a chain stands: the next line's `seq` and the last line's hash.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainHead {
    /// The `seq` the next line gets.
    pub next_seq: u64,
    /// The hash of the last line (the next line's `prev_hash`).
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty chain.
    pub fn genesis() -> Self {
        Self {
            next_seq: 0,
            hash: GENESIS.to_owned(),
        }
    }

    /// Whether no line has been chained yet.
    pub fn is_genesis(&self) -> bool {
        self.next_seq == 0
    }
}

/// The hash of one line as the chain computes it: `sha256:<hex>`, or
/// `hmac-sha256:<hex>` under `key`. `line` excludes the newline.
///
/// ```
/// use portcullis_audit_log::chain::hash_line;
/// assert_eq!(hash_line(b"", None), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// assert!(hash_line(b"", Some(b"k")).starts_with("hmac-sha256:"));
/// ```
pub fn hash_line(line: &[u8], key: Option<&[u8]>) -> String {
    match key {
        None => format!("sha256:{}", hex(&Sha256::digest(line))),
        Some(key) => {
            let mut mac = keyed(key);
            mac.update(line);
            format!("hmac-sha256:{}", hex(&mac.finalize().into_bytes()))
        }
    }
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// A running hash chain; see the [module docs](self).
#[derive(Clone)]
pub struct Chain {
    head: ChainHead,
    key: Option<Hmac<Sha256>>,
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("head", &self.head)
            .field("keyed", &self.key.is_some())
            .finish()
    }
}

impl Chain {
    /// A SHA-256 chain from genesis.
    pub fn sha256() -> Self {
        Self {
            head: ChainHead::genesis(),
            key: None,
        }
    }

    /// An HMAC-SHA256 chain under `key`, from genesis.
    pub fn keyed(key: impl AsRef<[u8]>) -> Self {
        Self {
            head: ChainHead::genesis(),
            key: Some(keyed(key.as_ref())),
        }
    }

    /// Continues from `head` (the last line of an existing file).
    ///
    /// ```
    /// use portcullis_audit_log::chain::{Chain, ChainHead};
    /// let mut head = ChainHead::genesis();
    /// head.next_seq = 41;
    /// let mut line = b"{}".to_vec();
    /// Chain::sha256().resume(head).append(&mut line);
    /// assert!(String::from_utf8(line).unwrap().contains("\"seq\":41"));
    /// ```
    #[must_use]
    pub fn resume(mut self, head: ChainHead) -> Self {
        self.head = head;
        self
    }

    /// Goes back to `head` (lines after it were not written).
    pub(crate) fn rewind(&mut self, head: ChainHead) {
        self.head = head;
    }

    /// Where the chain stands.
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// The hash of a line under this chain's key.
    pub fn hash(&self, line: &[u8]) -> String {
        let mut text = String::with_capacity(76);
        self.push_hash(&mut text, line);
        text
    }

    /// Appends the hash of `line` to `out`.
    fn push_hash(&self, out: &mut String, line: &[u8]) {
        match &self.key {
            None => {
                out.push_str("sha256:");
                push_hex(out, &Sha256::digest(line));
            }
            Some(mac) => {
                let mut mac = mac.clone();
                mac.update(line);
                out.push_str("hmac-sha256:");
                push_hex(out, &mac.finalize().into_bytes());
            }
        }
    }

    /// Adds `seq` and `prev_hash` to the JSON object in `line` (no newline), moves
    /// the chain on, and returns the line's hash.
    pub fn append(&mut self, line: &mut Vec<u8>) -> String {
        self.advance(line);
        self.head.hash.clone()
    }

    /// [`append`](Self::append) in two steps, for a line that is signed once linked:
    /// adds `seq` and `prev_hash` without moving the chain on; [`commit`](Self::commit)
    /// the line as finally written.
    ///
    /// ```
    /// use portcullis_audit_log::chain::{Chain, CheckpointSigner, verify_line_signature};
    /// let signer = CheckpointSigner::from_bytes(&[7; 32]);
    /// let mut chain = Chain::sha256();
    /// let mut line = br#"{"event":{"action":"checkpoint","reason":"open"}}"#.to_vec();
    /// chain.link(&mut line);
    /// signer.sign_line(&mut line);
    /// let hash = chain.commit(&line);
    /// assert_eq!(chain.head().hash, hash);
    /// assert!(verify_line_signature(&line, &signer.verifying_key()));
    /// ```
    pub fn link(&self, line: &mut Vec<u8>) {
        self.link_at(line, 0);
    }

    /// Moves the chain on past `line`, linked by [`link`](Self::link) (and maybe
    /// signed since); returns its hash.
    pub fn commit(&mut self, line: &[u8]) -> String {
        self.commit_line(line);
        self.head.hash.clone()
    }

    /// [`append`](Self::append) without returning the hash: no allocation once the
    /// head's hash has its capacity.
    pub(crate) fn advance(&mut self, line: &mut Vec<u8>) {
        self.advance_at(line, 0);
    }

    /// [`advance`](Self::advance) on the line that starts at `start` in `buffer` and
    /// runs to its end.
    pub(crate) fn advance_at(&mut self, buffer: &mut Vec<u8>, start: usize) {
        self.link_at(buffer, start);
        self.commit_line(&buffer[start..]);
    }

    fn link_at(&self, buffer: &mut Vec<u8>, start: usize) {
        if buffer.last() == Some(&b'}') && buffer.len() > start {
            buffer.pop();
            if buffer.len() - start > 1 {
                buffer.push(b',');
            }
        }
        buffer.extend_from_slice(b"\"seq\":");
        write_u64(buffer, self.head.next_seq);
        buffer.extend_from_slice(b",\"prev_hash\":\"");
        buffer.extend_from_slice(self.head.hash.as_bytes());
        buffer.extend_from_slice(b"\"}");
    }

    fn commit_line(&mut self, line: &[u8]) {
        let mut hash = std::mem::take(&mut self.head.hash);
        hash.clear();
        self.push_hash(&mut hash, line);
        self.head.hash = hash;
        self.head.next_seq += 1;
    }
}

/// The bytes a signed line's signature signs, and the signature; `None` when the
/// line does not end with a `signature` member of 128 hex digits.
fn split_signature(line: &[u8]) -> Option<(Vec<u8>, Signature)> {
    let tail = SIGNATURE_MEMBER.len() + SIGNATURE_HEX + 2;
    let at = line.len().checked_sub(tail)?;
    let (body, member) = line.split_at(at);
    let digits = member
        .strip_prefix(SIGNATURE_MEMBER)?
        .strip_suffix(b"\"}")?;
    let bytes = unhex(std::str::from_utf8(digits).ok()?)?;
    let signature = Signature::from_bytes(&<[u8; 64]>::try_from(bytes).ok()?);
    let mut message = Vec::with_capacity(SIGNATURE_DOMAIN.len() + body.len() + 1);
    message.extend_from_slice(SIGNATURE_DOMAIN);
    message.extend_from_slice(body);
    message.push(b'}');
    Some((message, signature))
}

/// Whether `line` ends with a `signature` member (the shape [`CheckpointSigner::sign_line`]
/// writes), valid or not.
pub(crate) fn has_signature(line: &[u8]) -> bool {
    split_signature(line).is_some()
}

/// Whether `line` ends with a `signature` member that is `key`'s signature of the
/// rest of the line; see [`CheckpointSigner::sign_line`].
///
/// ```
/// use portcullis_audit_log::chain::{CheckpointSigner, verify_line_signature};
/// let signer = CheckpointSigner::from_bytes(&[7; 32]);
/// let mut line = br#"{"event":{"reason":"periodic"},"seq":4}"#.to_vec();
/// signer.sign_line(&mut line);
/// assert!(verify_line_signature(&line, &signer.verifying_key()));
///
/// let forged = String::from_utf8(line).unwrap().replace("periodic", "shutdown");
/// assert!(!verify_line_signature(forged.as_bytes(), &signer.verifying_key()));
/// assert!(!verify_line_signature(br#"{"seq":4}"#, &signer.verifying_key()));
/// ```
pub fn verify_line_signature(line: &[u8], key: &VerifyingKey) -> bool {
    split_signature(line)
        .is_some_and(|(message, signature)| key.verify(&message, &signature).is_ok())
}

/// Signs checkpoints with an Ed25519 key; its `Debug` output hides the key.
///
/// ```
/// use portcullis_audit_log::chain::CheckpointSigner;
/// let signer = CheckpointSigner::from_bytes(&[7; 32]);
/// assert_eq!(signer.public_key_hex().len(), 64);
/// assert!(!format!("{signer:?}").contains("0707"));
/// ```
#[derive(Clone)]
pub struct CheckpointSigner {
    key: SigningKey,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

/// A signing key's text that is neither 64 hex digits nor 32 bytes in base64. Its
/// message never repeats the text.
///
/// ```
/// use portcullis_audit_log::chain::CheckpointSigner;
/// let error = CheckpointSigner::parse("s3cr3t").unwrap_err();
/// assert!(!error.to_string().contains("s3cr3t"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an Ed25519 signing key: expected a 32-byte seed as 64 hex digits or in base64")]
#[non_exhaustive]
pub struct InvalidSigningKey;

impl CheckpointSigner {
    /// A signer with a fresh random key. Keep [`public_key_hex`](Self::public_key_hex)
    /// for verification, or use [`from_bytes`](Self::from_bytes) with a stable key.
    pub fn generate() -> Self {
        Self::from_bytes(&rand::random::<[u8; 32]>())
    }

    /// A signer from a 32-byte Ed25519 secret key (from your secret store).
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(secret),
        }
    }

    /// A signer from the text of a 32-byte Ed25519 seed: 64 hex digits, or base64
    /// (standard or URL-safe, padded or not), surrounding whitespace ignored; as
    /// `openssl rand -hex 32` or `openssl rand -base64 32` print one.
    ///
    /// ```
    /// use portcullis_audit_log::chain::CheckpointSigner;
    /// let hex = CheckpointSigner::parse(&"07".repeat(32)).unwrap();
    /// let base64 = CheckpointSigner::parse("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n").unwrap();
    /// assert_eq!(hex.public_key_hex(), CheckpointSigner::from_bytes(&[7; 32]).public_key_hex());
    /// assert_eq!(base64.public_key_hex(), hex.public_key_hex());
    /// assert!(CheckpointSigner::parse("07").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, InvalidSigningKey> {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        let text = text.trim();
        let bytes = if text.len() == 64 {
            unhex(text)
        } else {
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
        };
        let mut bytes = bytes.ok_or(InvalidSigningKey)?;
        let seed = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| InvalidSigningKey);
        bytes.fill(0);
        Ok(Self::from_bytes(&seed?))
    }

    /// The public key, to verify with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as 64 hex digits, as `portcullis-audit verify --public-key`
    /// takes it.
    pub fn public_key_hex(&self) -> String {
        hex(self.key.verifying_key().as_bytes())
    }

    /// Signs a JSON object line (no newline): appends a `signature` member, the
    /// Ed25519 signature in hex of every byte of the line before it (prefixed with
    /// the domain `portcullis-audit-checkpoint-v2\n`), so no byte of the line can
    /// change unnoticed. Checked by [`verify_line_signature`].
    pub fn sign_line(&self, line: &mut Vec<u8>) {
        let mut message = Vec::with_capacity(SIGNATURE_DOMAIN.len() + line.len());
        message.extend_from_slice(SIGNATURE_DOMAIN);
        message.extend_from_slice(line);
        let signature = self.key.sign(&message);
        if line.last() == Some(&b'}') {
            line.pop();
        }
        line.extend_from_slice(SIGNATURE_MEMBER);
        let mut digits = String::with_capacity(SIGNATURE_HEX);
        push_hex(&mut digits, &signature.to_bytes());
        line.extend_from_slice(digits.as_bytes());
        line.extend_from_slice(b"\"}");
    }
}

impl FromStr for CheckpointSigner {
    type Err = InvalidSigningKey;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// An Ed25519 public key from 64 hex digits.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes = <[u8; 32]>::try_from(unhex(text)?).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}
