//! Key management: create keys (the plaintext handed out once), list, read, change,
//! revoke and rotate them, with every change reaching the caches that may hold the
//! key.
//!
//! [`KeyLifecycle`] is a library API to put behind your own admin endpoints; it needs
//! no runtime of its own.
//!
//! - [`create`](KeyLifecycle::create) takes a [`NewKey`] (tenant, name, scopes, plan,
//!   metadata, and for a temporary key an expiry) and returns a [`CreatedKey`]: the
//!   [`PlaintextKey`](crate::key::PlaintextKey) to show once, and the stored record,
//!   which holds only the key's hash and masked form.
//! - [`list`](KeyLifecycle::list) a tenant's keys, [`get`](KeyLifecycle::get) one:
//!   records with the masked key (`sk_live_…a1b2`).
//! - [`update`](KeyLifecycle::update) name, scopes, metadata or expiry;
//!   [`revoke`](KeyLifecycle::revoke) now or [later](KeyLifecycle::revoke_at).
//! - [`rotate`](KeyLifecycle::rotate): a new key like the old one, while the old one
//!   keeps working for an overlap of your choice, then expires (zero: revoked now).
//!
//! # Invalidation
//!
//! `update`, `revoke`, `revoke_at` and `rotate` change the store first, then call the
//! local [`InvalidationSink`](crate::invalidation::InvalidationSink)s synchronously
//! (this instance's cache drops the key before the call returns), then publish the
//! [`Invalidation`](crate::invalidation::Invalidation) on every
//! [`RevocationChannel`](crate::revocation::RevocationChannel) for the other instances.
//! A failed publication does not fail the change, which is stored by then: it is
//! logged, counted ([`broadcast_failures`](KeyLifecycle::broadcast_failures)), and can
//! be repeated with [`invalidate`](KeyLifecycle::invalidate); meanwhile other instances
//! hold their cached state of the key until the cache entry expires. See
//! [`revocation`](crate::revocation) for the guarantee.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
//! use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
//! use portcullis_api_keys::record::KeyStatus;
//! use portcullis_api_keys::scopes::Scopes;
//! use portcullis_api_keys::store::{KeyStore, memory::MemoryKeyStore};
//! use portcullis_api_keys::timestamp::Timestamp;
//! use portcullis_core::clock::ManualClock;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! let (format, hasher) = (KeyFormat::default(), KeyHasher::sha256());
//! let keys = KeyLifecycle::new(MemoryKeyStore::new(), format.clone(), hasher.clone())
//!     .clock(clock.clone());
//! let acme = TenantId::new("acme");
//!
//! // Issue a key and show it once.
//! let created = keys
//!     .create(NewKey::new(acme.clone()).name("CI").scopes(Scopes::new(["deploys:write"])?))
//!     .await?;
//! println!("your new key: {}", created.key.expose_secret());
//!
//! // The dashboard lists it masked.
//! let listed = keys.list(&acme).await?;
//! assert_eq!(listed[0].masked.as_str(), created.key.to_string()); // sk_live_…xxxx
//!
//! // Rotate it with a day to switch over.
//! let rotation = keys.rotate(&created.record.id, Duration::from_secs(86_400)).await?;
//! clock.advance(Duration::from_secs(86_400));
//! let old = keys.get(&created.record.id).await?;
//! assert_eq!(old.status(Timestamp::now(&clock)), KeyStatus::Expired);
//!
//! // The new key is found by its hash, like any presented key.
//! let presented = format.parse(rotation.new.key.expose_secret())?;
//! let found = keys.store().get_by_hash(&hasher.hash(&presented)).await?.unwrap();
//! assert_eq!(found.scopes, created.record.scopes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod error;
mod keys;
mod new_key;

pub use error::LifecycleError;
pub use keys::KeyLifecycle;
pub use new_key::{CreatedKey, NewKey, Rotation};
