//! The Redis connection every Portcullis store opens by URL (feature `redis`).
//!
//! A [`ConnectionManager`]: one multiplexed connection that reconnects by itself. It
//! retries only briefly ([`connection_config`]), because how long a request may wait
//! for Redis is decided above it (a store timeout, a circuit breaker, a cache), not by
//! a reconnect loop.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Connects on first use: a service starts while nothing listens on port 1 yet.
//! assert!(portcullis_core::redis::connect_lazily("redis://127.0.0.1:1").is_ok());
//! // Only a malformed URL is refused.
//! assert!(portcullis_core::redis::connect_lazily("not a url").is_err());
//! # }
//! ```

use std::time::Duration;

use redis::RedisResult;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The stores' connection settings: a 1 s connection timeout and two retries, 10 ms
/// to 200 ms apart. A caller that must also bound each command adds a response
/// timeout with `set_response_timeout`.
pub fn connection_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(Duration::from_millis(200))
}

/// A connection to the Redis at `url`, connected now: an unreachable server is an
/// error here rather than on the first command.
pub async fn connect(url: &str) -> RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    ConnectionManager::new_with_config(client, connection_config()).await
}

/// A connection to the Redis at `url` that connects on first use, so a service starts
/// while Redis is down (commands fail until it answers). Only a malformed URL is an
/// error.
pub fn connect_lazily(url: &str) -> RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    ConnectionManager::new_lazy_with_config(client, connection_config())
}
