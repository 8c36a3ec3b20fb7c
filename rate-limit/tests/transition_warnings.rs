//! The degraded mode's and the circuit breaker's `tracing` warnings: once per
//! transition, never per request.
//!
//! A binary of its own, its tests one at a time: `tracing` caches per call site
//! whether anyone listens, and a thread-local subscriber set while other threads of
//! the same process hit the same call sites can miss events.
#![cfg(all(feature = "memory", feature = "resilient", feature = "negative-cache"))]

mod fake_store;

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use fake_store::*;
use portcullis_rate_limit::rate_limit::RateLimitLayer;
use portcullis_rate_limit::store::resilient::CircuitState;

/// One test at a time, each with its own subscriber.
static SERIAL: Mutex<()> = Mutex::new(());

/// `tracing` output at warn level, captured for the current thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn start() -> (Self, tracing::subscriber::DefaultGuard) {
        let captured = Self::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .without_time()
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    fn count(&self, message: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .matches(message)
            .count()
    }
}

#[test]
fn degraded_mode_warns_once_per_transition() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let (captured, _guard) = Captured::start();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = FakeStore::new(Mode::Healthy);
            let layer = RateLimitLayer::new()
                .plan(per_minute(1_000))
                .clock(clock())
                .store(store.clone());
            let degraded = "limiting degraded until it answers again";
            let recovered = "rate-limit store answers again; limiting normally";

            for (mode, requests) in [
                (Mode::Healthy, 3),
                (Mode::Failing, 20),
                (Mode::Healthy, 5),
                (Mode::Failing, 2),
                (Mode::Healthy, 1),
            ] {
                store.set(mode);
                for _ in 0..requests {
                    send(&layer, client()).await;
                }
                assert_eq!(layer.metrics().is_degraded(), mode == Mode::Failing);
            }
            assert_eq!(captured.count(degraded), 2);
            assert_eq!(captured.count(recovered), 2);
            assert_eq!(
                captured.count("error=rate-limit store failed: connection refused"),
                2,
                "the cause, once each"
            );
            let metrics = layer.metrics().snapshot();
            assert_eq!((metrics.degradations, metrics.recoveries), (2, 2));
            assert_eq!((metrics.store_errors, metrics.allowed), (22, 9));
        });
}

#[test]
fn breaker_and_layer_transitions_warn_once_each() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let (captured, _guard) = Captured::start();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(async {
            let store = FakeStore::new(Mode::Failing);
            let (resilient, layer) = guarded(&store);
            for _ in 0..50 {
                send(&layer, client()).await;
            }
            assert_eq!(resilient.state(), CircuitState::Open);
            // Failed probes re-open quietly (debug level).
            for _ in 0..3 {
                tokio::time::advance(10 * SECOND).await;
                send(&layer, client()).await;
            }
            store.set(Mode::Healthy);
            tokio::time::advance(10 * SECOND).await;
            for _ in 0..20 {
                send(&layer, client()).await;
            }
            assert_eq!(resilient.state(), CircuitState::Closed);
            assert_eq!(captured.count("circuit open"), 1);
            assert_eq!(captured.count("circuit closed"), 1);
            assert_eq!(captured.count("limiting degraded"), 1);
            assert_eq!(captured.count("limiting normally"), 1);
        });
}
