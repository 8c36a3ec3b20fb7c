//! Command-line flags, each with an environment variable of the same meaning.

use std::net::SocketAddr;

use clap::{Parser, ValueEnum};

/// The Portcullis example server.
#[derive(Debug, Parser)]
#[command(name = "billing-api", version, about)]
pub(crate) struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,

    /// Security-header preset for the JSON routes: `api` (default), `strict`, or
    /// `development` (report-only CSP, no HSTS; for http://localhost).
    #[arg(long, env = "PRESET", value_enum, default_value_t = Preset::Api)]
    pub(crate) preset: Preset,

    /// Origins allowed to call the API from a browser, comma-separated; a subdomain
    /// wildcard such as `https://*.example.com` is allowed.
    #[arg(long, env = "ALLOWED_ORIGINS", default_value = "")]
    pub(crate) allowed_origins: String,

    /// Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed, as CIDRs.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub(crate) trusted_proxies: String,
}

/// The security-header preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Preset {
    /// The HTML-app preset everywhere.
    Strict,
    /// The JSON-API preset on API routes, strict on the page.
    Api,
    /// Report-only CSP, no HSTS: never breaks http://localhost.
    Development,
}
