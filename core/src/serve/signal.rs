//! The signals that ask a server to stop.

/// Resolves when the process is asked to stop: `SIGTERM` (what orchestrators and
/// systemd send) or `SIGINT` (Ctrl-C), on Unix; Ctrl-C elsewhere.
///
/// The handlers are installed on the first poll; a handler that cannot be installed
/// is logged and that signal is never seen (the process keeps its default action
/// for it). Call it from within a Tokio runtime.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
