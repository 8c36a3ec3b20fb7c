//! The one error type for configuration mistakes, reported when a layer is built.

/// A configuration that cannot work, reported when the layer is built rather than as
/// a panic or a silently broken header at request time.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    // ----- security headers -----
    /// HSTS `preload` was asked for without what the preload list requires: a
    /// `max-age` of at least one year (31536000 s) and `includeSubDomains`.
    #[error(
        "HSTS preload needs max-age >= 31536000 and includeSubDomains \
         (got max-age={max_age}, includeSubDomains={include_subdomains})"
    )]
    HstsPreloadRequirements {
        /// The configured `max-age` in seconds.
        max_age: u64,
        /// Whether `includeSubDomains` was set.
        include_subdomains: bool,
    },
    /// A header value contains characters a header cannot carry.
    #[error("invalid value for the `{header}` header: {value:?}")]
    InvalidHeaderValue {
        /// The header.
        header: &'static str,
        /// The value as given.
        value: String,
    },
    /// A `Permissions-Policy` feature name or allowlist origin is malformed.
    #[error("invalid Permissions-Policy entry {value:?}: {reason}")]
    InvalidPermissionsPolicy {
        /// The feature or origin as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `Reporting-Endpoints` name or URL is malformed.
    #[error("invalid reporting endpoint {value:?}: {reason}")]
    InvalidReportingEndpoint {
        /// The endpoint name or URL as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The strict preset refuses `'unsafe-inline'` for scripts: it would undo the
    /// nonce-based protection against cross-site scripting.
    #[error("the strict preset refuses 'unsafe-inline' in `{directive}`")]
    UnsafeInlineScriptInStrict {
        /// The directive that allowed inline scripts.
        directive: &'static str,
    },
    /// The same reporting endpoint name was configured twice.
    #[error("reporting endpoint `{name}` is configured twice")]
    DuplicateReportingEndpoint {
        /// The endpoint name.
        name: String,
    },

    // ----- content security policy -----
    /// A CSP source expression is malformed.
    #[error("invalid CSP source {value:?}: {reason}")]
    InvalidSource {
        /// The source as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A host source spells a keyword without quotes (`self`, `none`, …), which
    /// browsers read as a host of that name.
    #[error("CSP source {value:?} is a keyword without quotes; use the `Source` keyword variant")]
    UnquotedKeyword {
        /// The source as given.
        value: String,
    },
    /// A directive appears twice in one policy; browsers ignore the second one.
    #[error("CSP directive `{directive}` is set twice")]
    DuplicateDirective {
        /// The directive.
        directive: &'static str,
    },
    /// A directive was given no sources; say `Source::None` instead.
    #[error("CSP directive `{directive}` has no sources; use Source::None to block everything")]
    EmptySourceList {
        /// The directive.
        directive: &'static str,
    },
    /// `'none'` is combined with other sources, which makes browsers ignore it.
    #[error("CSP directive `{directive}` combines 'none' with other sources")]
    NoneWithOtherSources {
        /// The directive.
        directive: &'static str,
    },
    /// `'strict-dynamic'` without a nonce or hash in the same directive blocks every
    /// script.
    #[error("CSP directive `{directive}` has 'strict-dynamic' without a nonce or hash")]
    StrictDynamicWithoutNonceOrHash {
        /// The directive.
        directive: &'static str,
    },
    /// A source that means nothing in this directive (a nonce in `img-src`, a
    /// keyword in `frame-ancestors`, …).
    #[error("CSP source {source_text} is not allowed in `{directive}`")]
    SourceNotAllowed {
        /// The directive.
        directive: &'static str,
        /// The source, as it would be written in the header.
        source_text: String,
    },
    /// A policy without any directive.
    #[error("the Content-Security-Policy has no directives")]
    EmptyPolicy,
    /// A `report-uri` or `report-to` value is malformed.
    #[error("invalid CSP reporting value {value:?}: {reason}")]
    InvalidReportValue {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An unknown CSP directive name (when parsing a policy from configuration).
    #[error("unknown CSP directive {name:?}")]
    UnknownDirective {
        /// The name as given.
        name: String,
    },

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
