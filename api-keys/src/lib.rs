//! API keys for SaaS APIs: a checksummed key format that secret scanners recognise,
//! and storage that never holds a plaintext key.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod base62;
pub mod error;
pub mod format;
pub mod hash;
pub mod id;
pub mod key;
pub mod record;
pub mod scopes;
pub mod timestamp;
