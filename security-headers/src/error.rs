//! The one error type for configuration mistakes, reported when a layer is built.

/// A configuration that cannot work, reported when the layer is built rather than as
/// a panic or a silently broken header at request time.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    // ----- security headers -----

    // ----- content security policy -----

    // ----- csp report collector -----

    // ----- cors -----

    /// The trusted-proxy or client-IP configuration is invalid.
    #[error(transparent)]
    ClientIp(#[from] portcullis_core::client_ip::ConfigError),
}
