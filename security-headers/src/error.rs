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
    /// A CORS origin or origin pattern is not of the form `scheme://host[:port]`.
    #[error("invalid CORS origin {origin:?}: {reason}")]
    CorsInvalidOrigin {
        /// The text that was given.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The `null` origin was listed. Sandboxed iframes, `file:` pages and redirected
    /// requests all send `Origin: null`, so allowing it allows everyone.
    #[error(
        "the `null` origin cannot be allowed: sandboxed documents, file: URLs and redirects all send it"
    )]
    CorsNullOrigin,
    /// A subdomain wildcard such as `https://*.co.uk` covers a whole public suffix,
    /// that is, sites owned by unrelated parties.
    #[error("CORS origin pattern {pattern:?} covers the public suffix {suffix:?}")]
    CorsPublicSuffixWildcard {
        /// The pattern that was given.
        pattern: String,
        /// The public suffix it covers.
        suffix: String,
    },
    /// A port wildcard (`http://localhost:*`) outside `CorsLayer::development()`, or
    /// on a host that is not a loopback name.
    #[error(
        "CORS origin pattern {pattern:?} allows any port: only CorsLayer::development() accepts that, and only for localhost, 127.0.0.1 and [::1]"
    )]
    CorsPortWildcard {
        /// The pattern that was given.
        pattern: String,
    },
    /// Credentials and "any origin" together: browsers refuse
    /// `Access-Control-Allow-Origin: *` with credentials, and echoing every origin
    /// instead would hand every site the user's session.
    #[error("CORS credentials cannot be allowed together with any origin")]
    CorsCredentialsWithAnyOrigin,
    /// A list of allowed origins and "any origin" were both configured.
    #[error("CORS allows any origin already; a list of allowed origins would be ignored")]
    CorsOriginsWithAnyOrigin,
    /// A header name in an allowed or exposed header list is not a valid HTTP token
    /// (or is the unsupported wildcard `*`).
    #[error("invalid CORS header name {name:?}")]
    CorsInvalidHeaderName {
        /// The text that was given.
        name: String,
    },
    /// A method in the allowed method list is not a valid HTTP token (or is the
    /// unsupported wildcard `*`).
    #[error("invalid CORS method {method:?}")]
    CorsInvalidMethod {
        /// The text that was given.
        method: String,
    },

    /// The trusted-proxy or client-IP configuration is invalid.
    #[error(transparent)]
    ClientIp(#[from] portcullis_core::client_ip::ConfigError),
}
