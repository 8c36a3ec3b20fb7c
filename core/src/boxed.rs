//! The boxed error and future types the Portcullis stores and services share, so a
//! store written for one crate names the same types as another's.
//!
//! ```
//! use portcullis_core::boxed::{BoxError, BoxFuture};
//!
//! fn lookup(id: u32) -> BoxFuture<'static, Result<u32, BoxError>> {
//!     Box::pin(async move {
//!         if id == 0 {
//!             return Err(BoxError::from("no such id"));
//!         }
//!         Ok(id * 2)
//!     })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(lookup(21).await.unwrap(), 42);
//! assert_eq!(lookup(0).await.unwrap_err().to_string(), "no such id");
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;

/// A type-erased error, as `tower::BoxError`: what a store or an inner service failed
/// with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A boxed, `Send` future: what store methods return, so the store traits stay
/// object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Defines `get_ref`, `get_mut` and `into_inner` on a middleware service whose inner
/// service is the field `inner`, as tower-http's `define_inner_service_accessors!`.
///
/// Used inside an `impl<S> Service<S> { … }` block:
///
/// ```
/// pub struct Logged<S> {
///     inner: S,
/// }
///
/// impl<S> Logged<S> {
///     portcullis_core::define_inner_service_accessors!();
/// }
///
/// let mut logged = Logged { inner: 41_u32 };
/// *logged.get_mut() += 1;
/// assert_eq!(*logged.get_ref(), 42);
/// assert_eq!(logged.into_inner(), 42);
/// ```
#[macro_export]
macro_rules! define_inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}
