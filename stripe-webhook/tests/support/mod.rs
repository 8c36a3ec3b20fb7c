//! Shared by the store tests: the real servers, unique names, the conformance suite
//! every idempotency store passes, and the concurrent-delivery check.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use http::{Request, StatusCode};
use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Outcome, Rejection, Webhook};
use portcullis_stripe_webhook::event::Event;
use portcullis_stripe_webhook::signature::TestHeader;
use portcullis_stripe_webhook::store::{Claim, ClaimToken, IdempotencyStore};
use tower::ServiceExt;

pub(crate) const SECRET: &str = "whsec_test_secret";

/// A connection to `REDIS_URL`. Unset, or set but unreachable, fails the test: its
/// tests are `#[ignore = "needs REDIS_URL"]` instead, so they never pass by skipping.
#[cfg(feature = "redis")]
pub(crate) async fn redis_connection() -> redis::aio::ConnectionManager {
    let url = portcullis_test_support::redis_url();
    let client = redis::Client::open(url.as_str()).expect("REDIS_URL is a Redis URL");
    redis::aio::ConnectionManager::new(client)
        .await
        .unwrap_or_else(|error| panic!("REDIS_URL={url} unreachable: {error}"))
}

/// `DATABASE_URL`. Unset fails the test: its tests are `#[ignore = "needs
/// DATABASE_URL"]` instead, so they never pass by skipping.
pub(crate) fn database_url() -> String {
    portcullis_test_support::database_url()
}

/// A name no other test (or earlier run) uses: letters, digits and `_`.
pub(crate) fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() % 1_000_000_000_000);
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The idempotency semantics every store must have, on fresh keys under `scope`.
pub(crate) async fn conformance<S: IdempotencyStore>(store: &S, scope: &str) {
    let key = |name: &str| format!("{scope}_{name}");
    let minute = Duration::from_secs(60);
    let (a, b) = (ClaimToken::new(), ClaimToken::new());

    // Claim, a second claim is in progress, completion, then completed.
    let now = SystemTime::now();
    assert_eq!(
        store.claim(&key("e1"), &a, now, minute).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        store.claim(&key("e1"), &b, now, minute).await.unwrap(),
        Claim::InProgress
    );
    store.complete(&key("e1"), &a, now, minute).await.unwrap();
    assert_eq!(
        store.claim(&key("e1"), &b, now, minute).await.unwrap(),
        Claim::Completed
    );
    // A release does not undo a completion.
    store.release(&key("e1"), &a).await.unwrap();
    assert_eq!(
        store.claim(&key("e1"), &b, now, minute).await.unwrap(),
        Claim::Completed
    );

    // Only the holder's release frees a claim.
    assert_eq!(
        store.claim(&key("e2"), &a, now, minute).await.unwrap(),
        Claim::Claimed
    );
    store.release(&key("e2"), &b).await.unwrap();
    assert_eq!(
        store.claim(&key("e2"), &b, now, minute).await.unwrap(),
        Claim::InProgress
    );
    store.release(&key("e2"), &a).await.unwrap();
    assert_eq!(
        store.claim(&key("e2"), &b, now, minute).await.unwrap(),
        Claim::Claimed
    );

    // Keys are independent.
    assert_eq!(
        store.claim(&key("e3"), &a, now, minute).await.unwrap(),
        Claim::Claimed
    );

    // A claim expires with its TTL (a crashed holder), and so does a completion.
    let short = Duration::from_millis(600);
    assert_eq!(
        store
            .claim(&key("e4"), &a, SystemTime::now(), short)
            .await
            .unwrap(),
        Claim::Claimed
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        store
            .claim(&key("e4"), &b, SystemTime::now(), minute)
            .await
            .unwrap(),
        Claim::Claimed
    );
    // The first holder's late release does not free the new claim.
    store.release(&key("e4"), &a).await.unwrap();
    assert_eq!(
        store
            .claim(&key("e4"), &a, SystemTime::now(), minute)
            .await
            .unwrap(),
        Claim::InProgress
    );
    store
        .complete(&key("e5"), &a, SystemTime::now(), short)
        .await
        .unwrap();
    assert_eq!(
        store
            .claim(&key("e5"), &b, SystemTime::now(), minute)
            .await
            .unwrap(),
        Claim::Completed
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        store
            .claim(&key("e5"), &b, SystemTime::now(), minute)
            .await
            .unwrap(),
        Claim::Claimed
    );
}

fn delivery(event_id: &str) -> Request<String> {
    let body = format!(
        r#"{{"id":"{event_id}","object":"event","type":"invoice.paid","created":1700000000,
            "livemode":false,"data":{{"object":{{"id":"in_1","customer":"cus_1"}}}}}}"#
    );
    let header = TestHeader::now()
        .signed_with(SECRET)
        .header_value(body.as_bytes());
    Request::post("/webhooks/stripe")
        .header("stripe-signature", header)
        .body(body)
        .unwrap()
}

/// 64 simultaneous deliveries of one event through the service on `store`: the
/// handler runs exactly once; the others are `409` (in progress) or `200` duplicate;
/// a later delivery is a duplicate. Then a failing handler releases its claim so the
/// retry runs it.
pub(crate) async fn concurrent_deliveries<S: IdempotencyStore + Clone>(store: S, scope: &str) {
    const DELIVERIES: usize = 64;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let service = Webhook::stripe(SECRET)
        .unwrap()
        .store(store.clone())
        .handler(move |_: Delivery<Event>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                // Long enough for every other delivery to arrive meanwhile.
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok::<_, HandlerError>(())
            }
        });
    let event_id = format!("evt_{scope}");
    let barrier = Arc::new(tokio::sync::Barrier::new(DELIVERIES));
    let tasks: Vec<_> = (0..DELIVERIES)
        .map(|_| {
            let (service, barrier, request) =
                (service.clone(), barrier.clone(), delivery(&event_id));
            tokio::spawn(async move {
                barrier.wait().await;
                service.oneshot(request).await.unwrap()
            })
        })
        .collect();
    let (mut handled, mut in_progress, mut duplicate) = (0, 0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match (response.status(), response.extensions().get::<Outcome>()) {
            (StatusCode::OK, Some(Outcome::Handled)) => handled += 1,
            (StatusCode::OK, Some(Outcome::Duplicate)) => duplicate += 1,
            (StatusCode::CONFLICT, _) => {
                assert_eq!(
                    response.extensions().get::<Rejection>(),
                    Some(&Rejection::InProgress)
                );
                in_progress += 1;
            }
            (status, outcome) => panic!("unexpected {status} {outcome:?}"),
        }
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the handler ran more than once"
    );
    assert_eq!(handled, 1);
    assert_eq!(handled + in_progress + duplicate, DELIVERIES);
    let later = service.clone().oneshot(delivery(&event_id)).await.unwrap();
    assert_eq!(
        later.extensions().get::<Outcome>(),
        Some(&Outcome::Duplicate)
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // A retryable failure releases the claim: the retry runs the handler.
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let failing_once =
        Webhook::stripe(SECRET)
            .unwrap()
            .store(store)
            .handler(move |_: Delivery<Event>| {
                let counter = counter.clone();
                async move {
                    if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(HandlerError::retry("database unavailable"))
                    } else {
                        Ok(())
                    }
                }
            });
    let event_id = format!("evt_{scope}_retry");
    let first = failing_once
        .clone()
        .oneshot(delivery(&event_id))
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let retry = failing_once
        .clone()
        .oneshot(delivery(&event_id))
        .await
        .unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.extensions().get::<Outcome>(), Some(&Outcome::Handled));
    let again = failing_once.oneshot(delivery(&event_id)).await.unwrap();
    assert_eq!(
        again.extensions().get::<Outcome>(),
        Some(&Outcome::Duplicate)
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}
