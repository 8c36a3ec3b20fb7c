//! [`KeyValue`]: the shape of the edge key-value stores a [`KvStore`](super::KvStore)
//! runs on.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::error::KvError;

/// An eventually consistent key-value store with time-to-live: the shape of Cloudflare
/// Workers KV, Fastly KV Store and Deno KV.
///
/// No increment, no compare-and-swap: a `put` replaces the value (the last writer
/// wins), and other readers may see it only after a while. [`KvStore`](super::KvStore) is built for
/// exactly that.
///
/// The futures are associated types and `'static` (clone the client's cheap handle
/// into them rather than borrowing `&self`), so [`KvStore`](super::KvStore)'s own futures name them
/// and the layer holds them without a `Box`. A client whose futures cannot be named
/// (an `async` block) boxes them, as below.
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use portcullis_rate_limit::store::BoxFuture;
/// use portcullis_rate_limit::store::kv::{KeyValue, KvError, KvStore};
///
/// /// A platform's KV binding (here a stand-in that stores nothing).
/// #[derive(Clone)]
/// struct Binding;
///
/// impl Binding {
///     async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, std::io::Error> {
///         Ok(None)
///     }
///     async fn put(&self, key: &str, value: &[u8], ttl_secs: u64) -> Result<(), std::io::Error> {
///         Ok(())
///     }
/// }
///
/// struct EdgeKv(Binding);
///
/// impl KeyValue for EdgeKv {
///     type GetFuture = BoxFuture<'static, Result<Option<Bytes>, KvError>>;
///     type PutFuture = BoxFuture<'static, Result<(), KvError>>;
///
///     fn get(&self, key: &str) -> Self::GetFuture {
///         let (binding, key) = (self.0.clone(), key.to_owned());
///         Box::pin(async move {
///             let value = binding.get(&key).await.map_err(KvError::backend)?;
///             Ok(value.map(Bytes::from))
///         })
///     }
///
///     fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Self::PutFuture {
///         let (binding, key) = (self.0.clone(), key.to_owned());
///         Box::pin(async move {
///             // `KvStore` passes whole seconds, at least its `min_ttl`.
///             binding.put(&key, &value, ttl.as_secs()).await.map_err(KvError::backend)
///         })
///     }
/// }
///
/// let store = KvStore::new(EdgeKv(Binding)).min_ttl(Duration::from_secs(60));
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Nothing is ever stored, so every check starts from a fresh quota.
/// use std::sync::Arc;
/// use portcullis_rate_limit::{key::Fingerprint, plan::Plan, store::Store};
/// let plan = Arc::new(Plan::free());
/// let outcome = store.check(Fingerprint::from_u64(1), &plan, 1, 1_700_000_000_000_000_000).await.unwrap();
/// assert!(outcome.allowed());
/// assert_eq!(outcome.statuses()[0].remaining(), 9);
/// # });
/// ```
pub trait KeyValue: Send + Sync + 'static {
    /// The future of [`get`](Self::get).
    type GetFuture: Future<Output = Result<Option<Bytes>, KvError>> + Send + 'static;
    /// The future of [`put`](Self::put).
    type PutFuture: Future<Output = Result<(), KvError>> + Send + 'static;

    /// The value of `key` as this reader sees it now, `None` when there is none or it
    /// has expired. May be out of date.
    fn get(&self, key: &str) -> Self::GetFuture;

    /// Replaces the value of `key`, to expire `ttl` after the write. Readers elsewhere
    /// may keep seeing the old value for a while.
    fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Self::PutFuture;
}

impl<K: KeyValue> KeyValue for Arc<K> {
    type GetFuture = K::GetFuture;
    type PutFuture = K::PutFuture;

    fn get(&self, key: &str) -> Self::GetFuture {
        (**self).get(key)
    }

    fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Self::PutFuture {
        (**self).put(key, value, ttl)
    }
}
