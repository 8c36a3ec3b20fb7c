//! The hyper example server.
//!
//! `cargo run -p hyper-example` listens on `127.0.0.1:8081` (or the address given as
//! the first argument; port `0` picks a free one), creates a `free` plan key for the
//! tenant `acme` and prints it with a `curl` line to try. Audit records go to
//! standard output, one human-readable line each. `SIGTERM` or Ctrl-C stops it
//! gracefully: open requests get 20 seconds, then the audit records are flushed.

use std::net::SocketAddr;
use std::process::ExitCode;

use hyper_example::{App, serve};
use portcullis_api_keys::id::TenantId;
use portcullis_api_keys::lifecycle::NewKey;
use portcullis_audit_log::layer::AuditLayer;
use portcullis_core::serve::shutdown_signal;
use tokio::net::TcpListener;

const DEFAULT_ADDR: &str = "127.0.0.1:8081";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hyper-example: {error}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|error| format!("invalid address {arg:?}: {error}"))?,
        None => DEFAULT_ADDR.parse()?,
    };
    let app = App::new(AuditLayer::development());
    let created = app
        .keys()
        .create(NewKey::new(TenantId::new("acme")).name("demo").plan("free"))
        .await?;

    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    let addr = listener.local_addr()?;
    // Registered before the server says it is up: a SIGTERM from then on stops it
    // gracefully.
    let shutdown = shutdown_signal();
    let key = created.key.expose_secret();
    println!("listening on http://{addr}");
    println!("demo key of tenant acme, free plan (10 requests a minute): {key}");
    println!("try: curl -i -H 'x-api-key: {key}' http://{addr}/v1/quote");

    let audit = app.audit_handle();
    serve(listener, app, shutdown).await?;
    audit.shutdown().await?;
    Ok(())
}
