//! Tamper evidence: a SHA-256 hash chain over the lines, and signed checkpoints.
//!
//! With the chain on, the writer of each sink adds two members to every line it
//! writes: `seq`, the line's number in the sink's chain (from 0), and `prev_hash`,
//! the hash of the previous line (`sha256:<hex>` of its exact bytes, or
//! `hmac-sha256:<hex>` under a chain key; the first line's is [`GENESIS`]). Changing,
//! removing, reordering or adding a line breaks the chain at that point. The chain
//! continues across rotated files and across restarts (the file sink reads the last
//! line back when it opens).
//!
//! A plain SHA-256 chain can be recomputed by whoever rewrites the whole file. Two
//! defences, as in AWS CloudTrail's log-file integrity validation:
//!
//! - a **chain key** (`HMAC-SHA256` instead of SHA-256): only holders of the key can
//!   compute valid hashes, and verifying needs it too;
//! - **checkpoints**: every N lines, every T seconds, before each rotation and at
//!   shutdown, the writer appends a checkpoint line (`event.action` `checkpoint`)
//!   holding the chain head (`checkpoint.head_seq`, `checkpoint.head_hash`), signed
//!   with Ed25519 (`checkpoint.signature`, `checkpoint.public_key`). Ship the public
//!   key to whoever verifies: a forger without the signing key cannot re-sign.
//!   A file that ends with a checkpoint is *sealed*; the verifier reports a file cut
//!   short after its last checkpoint as truncated.
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

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::json::{hex, push_hex, unhex, write_u64};

/// The `prev_hash` of the first line of a chain.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

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

    /// [`append`](Self::append) without returning the hash: no allocation once the
    /// head's hash has its capacity.
    pub(crate) fn advance(&mut self, line: &mut Vec<u8>) {
        self.advance_at(line, 0);
    }

    /// [`advance`](Self::advance) on the line that starts at `start` in `buffer` and
    /// runs to its end.
    pub(crate) fn advance_at(&mut self, buffer: &mut Vec<u8>, start: usize) {
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
        let mut hash = std::mem::take(&mut self.head.hash);
        hash.clear();
        self.push_hash(&mut hash, &buffer[start..]);
        self.head.hash = hash;
        self.head.next_seq += 1;
    }
}

/// The message a checkpoint signs.
pub(crate) fn checkpoint_message(head_seq: u64, head_hash: &str, timestamp: &str) -> Vec<u8> {
    format!("portcullis-audit-checkpoint-v1\n{head_seq}\n{head_hash}\n{timestamp}").into_bytes()
}

/// Signs checkpoints with an Ed25519 key; its `Debug` output hides the key.
///
/// ```
/// use portcullis_audit_log::chain::CheckpointSigner;
/// let signer = CheckpointSigner::generate();
/// let (public_key, signature) = signer.sign(41, "sha256:ab", "2025-01-01T00:00:00.000000Z");
/// assert_eq!(public_key.len(), 64);
/// assert!(portcullis_audit_log::chain::verify_checkpoint(&public_key, &signature, 41, "sha256:ab", "2025-01-01T00:00:00.000000Z"));
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

    /// The public key, to verify with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as 64 hex digits, as `portcullis-audit verify --public-key`
    /// takes it.
    pub fn public_key_hex(&self) -> String {
        hex(self.key.verifying_key().as_bytes())
    }

    /// Signs a chain head: returns the public key and the signature, in hex.
    pub fn sign(&self, head_seq: u64, head_hash: &str, timestamp: &str) -> (String, String) {
        let signature = self
            .key
            .sign(&checkpoint_message(head_seq, head_hash, timestamp));
        (self.public_key_hex(), hex(&signature.to_bytes()))
    }
}

/// Whether `signature_hex` is `public_key_hex`'s signature of this chain head.
///
/// ```
/// use portcullis_audit_log::chain::{CheckpointSigner, verify_checkpoint};
/// let signer = CheckpointSigner::generate();
/// let (key, signature) = signer.sign(1, "sha256:00", "t");
/// assert!(verify_checkpoint(&key, &signature, 1, "sha256:00", "t"));
/// assert!(!verify_checkpoint(&key, &signature, 2, "sha256:00", "t"));
/// ```
pub fn verify_checkpoint(
    public_key_hex: &str,
    signature_hex: &str,
    head_seq: u64,
    head_hash: &str,
    timestamp: &str,
) -> bool {
    let Some(key) = parse_public_key(public_key_hex) else {
        return false;
    };
    let Some(signature) = unhex(signature_hex).and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
    else {
        return false;
    };
    key.verify(
        &checkpoint_message(head_seq, head_hash, timestamp),
        &Signature::from_bytes(&signature),
    )
    .is_ok()
}

/// An Ed25519 public key from 64 hex digits.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes = <[u8; 32]>::try_from(unhex(text)?).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}
