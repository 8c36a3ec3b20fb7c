//! The routes and the layers around them.

use axum::Router;
use axum::routing::get;
use portcullis_core::client_ip::TrustedProxies;
use portcullis_security_headers::ConfigError;
use portcullis_security_headers::cors::CorsLayer;
use portcullis_security_headers::csp::Policy;
use portcullis_security_headers::headers::SecurityHeadersLayer;
use portcullis_security_headers::report::CspReportCollector;
use serde_json::{Value, json};

use crate::config::{Config, Preset};
use crate::page;

/// Where browsers send CSP violation reports.
const CSP_REPORT_PATH: &str = "/csp-reports";
const CSP_REPORT_ENDPOINT: &str = "csp-endpoint";

/// A configuration value the layers refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    #[error("--trusted-proxies: {0}")]
    TrustedProxies(#[source] portcullis_core::client_ip::ConfigError),
    #[error("--allowed-origins: {0}")]
    AllowedOrigins(#[source] ConfigError),
    #[error("security headers: {0}")]
    SecurityHeaders(#[source] ConfigError),
}

/// The whole application.
pub(crate) fn router(config: &Config) -> Result<Router, AppError> {
    let trusted: TrustedProxies = config
        .trusted_proxies
        .parse()
        .map_err(AppError::TrustedProxies)?;

    let (json_headers, page_headers) = match config.preset {
        Preset::Api => (
            SecurityHeadersLayer::api(),
            page_headers(SecurityHeadersLayer::strict())?,
        ),
        Preset::Strict => (
            SecurityHeadersLayer::strict(),
            page_headers(SecurityHeadersLayer::strict())?,
        ),
        Preset::Development => (
            SecurityHeadersLayer::development(),
            page_headers(SecurityHeadersLayer::development())?,
        ),
    };
    let json_headers = json_headers.trusted_proxies(trusted.clone());
    let page_headers = page_headers.trusted_proxies(trusted);

    let cors = match config.preset {
        Preset::Development => CorsLayer::development(),
        Preset::Api | Preset::Strict => CorsLayer::api(),
    };
    let cors = if config.allowed_origins.trim().is_empty() {
        cors
    } else {
        cors.allow_origins_list(&config.allowed_origins)
            .map_err(AppError::AllowedOrigins)?
    };

    let api = Router::new()
        .route("/health", get(health))
        .route_service(CSP_REPORT_PATH, CspReportCollector::new())
        .layer(json_headers);
    let page = Router::new()
        .route("/", get(page::usage_page))
        .layer(page_headers);

    Ok(api.merge(page).layer(cors))
}

/// The page's headers report CSP violations to the collector.
fn page_headers(preset: SecurityHeadersLayer) -> Result<SecurityHeadersLayer, AppError> {
    let policy = Policy::strict()
        .report_uri(CSP_REPORT_PATH)
        .and_then(|policy| policy.report_to(CSP_REPORT_ENDPOINT))
        .map_err(AppError::SecurityHeaders)?;
    let layer = preset
        .reporting_endpoint(CSP_REPORT_ENDPOINT, CSP_REPORT_PATH)
        .map_err(AppError::SecurityHeaders)?;
    if layer.content_security_policy_ref().is_some() {
        layer.content_security_policy(policy)
    } else {
        layer.content_security_policy_report_only(policy)
    }
    .map_err(AppError::SecurityHeaders)
}

async fn health() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}
