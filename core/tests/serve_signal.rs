//! `shutdown_signal` registers its handlers when called: a `SIGTERM` sent before the
//! future is first polled resolves it instead of ending the process. (Alone in its
//! test binary: the signal goes to the whole process.)

#![cfg(all(unix, feature = "serve"))]

use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "current_thread")]
async fn sigterm_sent_before_the_first_poll_resolves_shutdown_signal() {
    let shutdown = portcullis_core::serve::shutdown_signal();
    let pid = std::process::id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let start = Instant::now();
    let resolved = tokio::time::timeout(Duration::from_secs(10), shutdown).await;
    println!(
        "SIGTERM to this test process: shutdown_signal resolved after {:?}",
        start.elapsed()
    );
    assert!(
        resolved.is_ok(),
        "shutdown_signal resolves within 10 s of SIGTERM"
    );
}
