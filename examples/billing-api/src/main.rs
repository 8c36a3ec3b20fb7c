//! The Portcullis example server.
//!
//! `cargo run -p billing-api` starts it on `127.0.0.1:8080`. Today it wires the
//! security-header, CSP and CORS layers around a health route, a small HTML page with a
//! nonce'd inline script, and the CSP report collector; each later Portcullis crate is
//! added here as it lands.

mod app;
mod config;
mod page;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    // clap prints a one-line error and exits with 2 on a bad flag.
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("billing-api: {error}");
            ExitCode::from(2)
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
enum StartupError {
    #[error("invalid configuration: {0}")]
    Config(#[from] app::AppError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

async fn run(config: Config) -> Result<(), StartupError> {
    let app = app::router(&config)?;
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartupError::Listen {
                addr: config.listen,
                source,
            })?;
    let addr = listener.local_addr().map_err(StartupError::Serve)?;

    println!("billing-api listening on http://{addr}");
    println!(
        "security-header preset for JSON routes: {:?}",
        config.preset
    );
    println!("try:");
    println!("  curl -i http://{addr}/health");
    println!("  curl -i http://{addr}/");
    println!(
        "  curl -i -X OPTIONS http://{addr}/health -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: GET'"
    );

    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(StartupError::Serve)
}

async fn shutdown_signal() {
    // If the signal handler cannot be installed the server simply runs until killed.
    let _ = tokio::signal::ctrl_c().await;
}
