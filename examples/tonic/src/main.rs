//! The tonic example server.
//!
//! `cargo run -p tonic-example` serves `portcullis.example.v1.Quotes` on
//! `127.0.0.1:50051` (or the address given as the first argument; port `0` picks a
//! free one), creates a `free` plan key for the tenant `acme` and prints it with a
//! `grpcurl` line to try. `SIGTERM` or Ctrl-C stops it gracefully: calls in flight get
//! 20 seconds.

use std::net::SocketAddr;
use std::process::ExitCode;

use portcullis_api_keys::id::TenantId;
use portcullis_api_keys::lifecycle::NewKey;
use portcullis_core::serve::shutdown_signal;
use tokio::net::TcpListener;
use tonic_example::App;

const DEFAULT_ADDR: &str = "127.0.0.1:50051";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tonic-example: {error}");
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
    let app = App::new();
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
    println!("demo key of tenant acme, free plan (10 calls a minute): {key}");
    println!(
        "try: grpcurl -plaintext -import-path examples/tonic/proto -proto quotes.proto \
         -H 'x-api-key: {key}' -d '{{\"product\":\"invoices\"}}' \
         {addr} portcullis.example.v1.Quotes/GetQuote"
    );

    app.serve(listener, shutdown).await;
    Ok(())
}
