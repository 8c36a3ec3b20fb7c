//! The rate-limit response headers.
//!
//! - IETF [draft-ietf-httpapi-ratelimit-headers]: `RateLimit-Policy` lists every quota
//!   of the plan (`"minute";q=60;w=60, "day";q=1000;w=86400`), `RateLimit` reports the
//!   most constraining one (`"minute";r=0;t=42`: remaining and seconds to reset).
//! - Legacy: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds
//!   until reset) of the most constraining quota.
//! - [`Retry-After`](https://developer.mozilla.org/docs/Web/HTTP/Headers/Retry-After)
//!   on every 429, in whole seconds rounded up, so never earlier than the reset.
//!
//! Seconds are always rounded up. The most constraining quota is, when denied, the
//! denying quota with the longest wait; when allowed, the one with the least remaining.
//!
//! [draft-ietf-httpapi-ratelimit-headers]: https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
//!
//! # Example
//!
//! ```
//! use portcullis_rate_limit::headers::HeaderMode;
//! assert_eq!(HeaderMode::default(), HeaderMode::Both);
//! let mode: HeaderMode = serde_json::from_str("\"ietf\"").unwrap();
//! assert_eq!(mode, HeaderMode::Ietf);
//! ```

mod apply;
mod mode;
mod names;
mod template;
mod values;

pub(crate) use apply::apply;
pub use mode::HeaderMode;
pub use names::{
    RATELIMIT, RATELIMIT_POLICY, X_RATELIMIT_DEGRADED, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING,
    X_RATELIMIT_RESET,
};
pub(crate) use template::Templates;
