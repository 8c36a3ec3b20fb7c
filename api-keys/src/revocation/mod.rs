//! Cross-instance revocation: a change made on one instance reaches every other
//! instance's cache.
//!
//! Verification caches key records, so a revoked key would keep working wherever it
//! is cached. [`KeyLifecycle`](crate::lifecycle::KeyLifecycle) therefore follows every
//! revocation, rotation and update with an
//! [`Invalidation`](crate::invalidation::Invalidation) (the key's id and hash,
//! never a secret): it calls its local sinks synchronously and publishes it on a
//! [`RevocationChannel`]; on every instance a [`Subscriber`] task receives it and hands
//! it to that instance's sinks (its cache).
//!
//! | channel | feature | for |
//! |---|---|---|
//! | [`InProcessChannel`](in_process::InProcessChannel) | `tokio` | one instance; tests |
//! | [`RedisChannel`](redis::RedisChannel) | `redis` | Redis pub/sub |
//! | [`PostgresChannel`](postgres::PostgresChannel) | `postgres` | PostgreSQL `LISTEN/NOTIFY` |
//!
//! The payload is text, `<key id> <key hash>` ([`payload`]), which any program can
//! publish.
//!
//! # The guarantee
//!
//! - **On the instance that makes the change**: the cache drops the key before the
//!   call returns.
//! - **On every other instance, while its subscription stands**: the cache drops the
//!   key as soon as the message arrives, one network hop later (a few milliseconds;
//!   the tests assert under 1 s on real Redis and PostgreSQL servers). A revoked key
//!   then fails everywhere within a second.
//! - **The worst case**: pub/sub delivery is at most once and only to those
//!   subscribed at the time. An instance whose subscription is down (a lost
//!   connection, a server restart, until the subscriber's backoff brings it back), or
//!   a publication that failed, misses the message; that instance then serves its
//!   cached record of the key until the cache entry expires: **the cache's positive
//!   TTL bounds how long a revoked key may keep working on an instance that missed
//!   its invalidation**. Choose that TTL as the longest you accept. To close the gap
//!   sooner, clear the cache in the subscriber's
//!   [`on_reconnect`](Subscriber::on_reconnect) hook, which runs whenever a
//!   subscription is made after a failure; [`SubscriberHandle::is_connected`] tells
//!   whether one stands (export it as a health metric).
//!
//! Subscribers reconnect by themselves, with an exponential backoff (100 ms to 5 s,
//! jittered), logging with `tracing` once per transition; the Redis and PostgreSQL
//! receivers also check a quiet connection every 10 s, so a silently dead one is
//! replaced too.
//!
//! # Example
//!
//! Two instances in one process, sharing an in-process channel (in production: a
//! [`RedisChannel`](redis::RedisChannel) or [`PostgresChannel`](postgres::PostgresChannel) on the
//! same server and channel name).
//!
//! ```
//! use std::collections::HashSet;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use portcullis_api_keys::{format::KeyFormat, hash::KeyHasher, id::TenantId};
//! use portcullis_api_keys::invalidation::{Invalidation, InvalidationSink};
//! use portcullis_api_keys::lifecycle::{KeyLifecycle, NewKey};
//! use portcullis_api_keys::revocation::{Subscriber, in_process::InProcessChannel};
//! use portcullis_api_keys::store::memory::MemoryKeyStore;
//!
//! /// Stands for the verification cache: the ids it has dropped.
//! #[derive(Default)]
//! struct Cache(Mutex<HashSet<String>>);
//!
//! impl InvalidationSink for Cache {
//!     fn invalidate(&self, invalidation: &Invalidation) {
//!         self.0.lock().unwrap().insert(invalidation.id.to_string());
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let channel = InProcessChannel::new();
//! let store = MemoryKeyStore::new();
//! let (cache_a, cache_b) = (Arc::new(Cache::default()), Arc::new(Cache::default()));
//!
//! // Instance B listens.
//! let subscriber_b = Subscriber::new(channel.clone()).sink(cache_b.clone()).spawn();
//! subscriber_b.connected().await;
//!
//! // Instance A revokes.
//! let keys_a = KeyLifecycle::new(store.clone(), KeyFormat::default(), KeyHasher::sha256())
//!     .sink(cache_a.clone())
//!     .channel(channel.clone());
//! let id = keys_a.create(NewKey::new(TenantId::new("acme"))).await?.record.id;
//! keys_a.revoke(&id).await?;
//! assert!(cache_a.0.lock().unwrap().contains(id.as_str())); // at once
//!
//! tokio::time::timeout(Duration::from_secs(1), async {
//!     while !cache_b.0.lock().unwrap().contains(id.as_str()) {
//!         tokio::task::yield_now().await;
//!     }
//! })
//! .await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub(crate) mod channel;
#[cfg(feature = "tokio")]
pub mod in_process;
pub mod payload;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "tokio")]
mod subscriber;

pub use channel::{ChannelError, Receiver, RevocationChannel};
#[cfg(feature = "tokio")]
pub use subscriber::{Subscriber, SubscriberHandle};
