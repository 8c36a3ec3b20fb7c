//! The signals that ask a server to stop.

use std::future::Future;

/// A future that resolves when the process is asked to stop: `SIGTERM` (what
/// orchestrators and systemd send) or `SIGINT` (Ctrl-C) on Unix; Ctrl-C elsewhere.
///
/// On Unix the handlers are registered when this is called, not when the future is
/// first polled: call it before you announce that the server is up, and a `SIGTERM`
/// sent from then on stops the server gracefully instead of ending the process. A
/// handler that cannot be registered is logged and its signal keeps its default
/// action. Call it from within a Tokio runtime (with its I/O driver enabled).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let register = |kind: SignalKind, name: &'static str| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for {name}");
                None
            }
        };
        let terminate = register(SignalKind::terminate(), "SIGTERM");
        let interrupt = register(SignalKind::interrupt(), "SIGINT");
        async fn received(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        async move {
            tokio::select! {
                () = received(terminate) => tracing::info!("SIGTERM: shutting down"),
                () = received(interrupt) => tracing::info!("SIGINT: shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            match tokio::signal::ctrl_c().await {
                Ok(()) => tracing::info!("Ctrl-C: shutting down"),
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for Ctrl-C");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}
