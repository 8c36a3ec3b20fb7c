#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api_key;
mod base62;
pub mod cache;
pub mod error;
pub mod format;
pub mod hash;
pub mod id;
pub mod invalidation;
pub mod key;
#[cfg(feature = "tokio")]
pub mod last_used;
pub mod lifecycle;
pub mod record;
pub mod revocation;
pub mod scopes;
pub mod store;
pub mod timestamp;

/// The verification middleware under its former path: [`api_key`].
pub use self::api_key as layer;

pub use self::api_key::{
    ApiKey, ApiKeyConfig, ApiKeyContext, ApiKeyLayer, ApiKeyRejection, EnvironmentPolicy,
    KeySource, RequireScopes, RequireScopesLayer,
};
pub use self::format::KeyFormat;
pub use self::hash::KeyHasher;
pub use self::id::{KeyId, TenantId};
pub use self::key::Environment;
pub use self::lifecycle::{KeyLifecycle, NewKey};
pub use self::record::KeyRecord;
pub use self::scopes::Scopes;
pub use self::store::KeyStore;
pub use self::timestamp::Timestamp;
