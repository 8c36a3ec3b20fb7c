use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use portcullis_core::problem::Problem;
use tower::ServiceExt;

use super::*;
use crate::error::VerifyError;
use crate::event::{Event, EventData};
use crate::scheme::github::{self, GithubScheme};
use crate::signature::TestHeader;
use crate::store::{Claim, ClaimToken, IdempotencyStore, StoreError};

const SECRET: &str = "whsec_test_secret";

fn event_body(id: &str, event_type: &str) -> String {
    format!(
        r#"{{"id":"{id}","object":"event","type":"{event_type}","created":1700000000,"livemode":false,
            "api_version":"2025-06-30.basil","data":{{"object":{{"id":"sub_1","customer":"cus_1","status":"active"}}}}}}"#
    )
}

fn signed(body: impl Into<Bytes>) -> Request<http_body_util::Full<Bytes>> {
    let body = body.into();
    let header = TestHeader::now().signed_with(SECRET).header_value(&body);
    Request::post("/webhooks/stripe")
        .header("stripe-signature", header)
        .body(http_body_util::Full::new(body))
        .unwrap()
}

async fn text(response: Response<WebhookBody>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A handler recording the events it saw.
#[derive(Clone, Default)]
struct Recorder {
    events: Arc<std::sync::Mutex<Vec<Event>>>,
}

impl Recorder {
    fn handler(&self) -> impl WebhookHandler<Event> + Clone {
        let events = self.events.clone();
        move |delivery: Delivery<Event>| {
            let events = events.clone();
            async move {
                events.lock().unwrap().push(delivery.into_event());
                Ok::<_, HandlerError>(())
            }
        }
    }

    fn count(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    fn last(&self) -> Event {
        self.events.lock().unwrap().last().cloned().unwrap()
    }
}

#[tokio::test]
async fn handled_then_duplicate_runs_the_handler_once() {
    let recorder = Recorder::default();
    let service = Webhook::stripe(SECRET).unwrap().handler(recorder.handler());
    let body = event_body("evt_1", "customer.subscription.updated");
    let response = service.clone().oneshot(signed(body.clone())).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.extensions().get(), Some(&Outcome::Handled));
    assert_eq!(
        text(response).await,
        r#"{"received":true,"outcome":"handled"}"#
    );
    let response = service.oneshot(signed(body)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.extensions().get(), Some(&Outcome::Duplicate));
    assert_eq!(recorder.count(), 1);
    assert!(matches!(
        recorder.last().data(),
        EventData::SubscriptionUpdated(_)
    ));
}

#[tokio::test]
async fn bad_signatures_are_a_generic_400_with_the_reason_in_extensions() {
    let recorder = Recorder::default();
    let service = Webhook::stripe(SECRET).unwrap().handler(recorder.handler());
    let body = event_body("evt_1", "invoice.paid");
    let forged = TestHeader::now()
        .signed_with("whsec_forger")
        .header_value(body.as_bytes());
    let stale = TestHeader::new(1_000)
        .signed_with(SECRET)
        .header_value(body.as_bytes());
    let mut details = Vec::new();
    for header in [Some(forged), Some(stale), Some("garbage".to_owned()), None] {
        let mut request = Request::post("/").body(body.clone()).unwrap();
        if let Some(header) = header {
            request
                .headers_mut()
                .insert("stripe-signature", header.parse().unwrap());
        }
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let Some(Rejection::Signature(reason)) = response.extensions().get::<Rejection>() else {
            panic!("no rejection")
        };
        let reason = reason.clone();
        let json: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(json["code"], "WEBHOOK_SIGNATURE_INVALID");
        details.push((reason.kind(), json["detail"].as_str().unwrap().to_owned()));
    }
    let kinds: Vec<_> = details.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(
        kinds,
        [
            "mismatch",
            "timestamp_too_old",
            "malformed_header",
            "missing_header"
        ]
    );
    // One detail for every cause, and nothing that helps a forger.
    assert!(details.iter().all(|(_, detail)| *detail == details[0].1));
    assert!(!details[0].1.contains("secret") && !details[0].1.contains("timestamp"));
    assert_eq!(recorder.count(), 0);
}

#[tokio::test]
async fn oversized_bodies_are_413_declared_or_streamed() {
    let recorder = Recorder::default();
    let service = Webhook::stripe(SECRET)
        .unwrap()
        .body_limit(1_000)
        .handler(recorder.handler());
    // Declared by the body's exact size.
    let response = service
        .clone()
        .oneshot(signed(vec![b'x'; 1_001]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.extensions().get::<Rejection>(),
        Some(&Rejection::BodyTooLarge { limit: 1_000 })
    );
    // Declared by Content-Length.
    let request = Request::post("/")
        .header("content-length", "5000000000")
        .body(String::new())
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed with no size announced.
    let request = Request::post("/")
        .body(Chunks::new(vec![vec![b'{'; 600], vec![b'}'; 600]]))
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let json: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(json["code"], "WEBHOOK_BODY_TOO_LARGE");
    // The default limit is 1 MiB.
    let service = Webhook::stripe(SECRET).unwrap().handler(recorder.handler());
    let response = service
        .oneshot(signed(vec![b' '; DEFAULT_BODY_LIMIT + 1]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(recorder.count(), 0);
}

#[tokio::test]
async fn empty_non_utf8_and_unreadable_bodies_are_clear_400s() {
    let recorder = Recorder::default();
    let service = Webhook::stripe(SECRET).unwrap().handler(recorder.handler());
    let code = |response: &Response<WebhookBody>| {
        response
            .extensions()
            .get::<Problem>()
            .map(|p| p.code().to_owned())
    };

    let response = service.clone().oneshot(signed(Bytes::new())).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&response).as_deref(), Some("WEBHOOK_BODY_EMPTY"));

    // Signed but not UTF-8: verified first, then refused as a payload.
    let response = service
        .clone()
        .oneshot(signed(Bytes::from_static(b"\xff\xfe{}")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&response).as_deref(), Some("WEBHOOK_PAYLOAD_INVALID"));
    let Some(Rejection::Payload { reason }) = response.extensions().get::<Rejection>() else {
        panic!()
    };
    assert!(reason.contains("not UTF-8"), "{reason}");

    // Not UTF-8 and unsigned: a signature failure, never parsed.
    let request = Request::post("/")
        .header("stripe-signature", "t=1,v1=00")
        .body(http_body_util::Full::new(Bytes::from_static(b"\xc3\x28")))
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(
        code(&response).as_deref(),
        Some("WEBHOOK_SIGNATURE_INVALID")
    );

    // Signed JSON that is no event.
    let response = service
        .clone()
        .oneshot(signed(Bytes::from_static(b"[1,2,3]")))
        .await
        .unwrap();
    assert_eq!(code(&response).as_deref(), Some("WEBHOOK_PAYLOAD_INVALID"));

    // A body that fails while being read.
    let request = Request::post("/").body(Chunks::failing()).unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&response).as_deref(), Some("WEBHOOK_BODY_UNREADABLE"));
    assert_eq!(recorder.count(), 0);
}

#[tokio::test]
async fn only_post_is_accepted() {
    let recorder = Recorder::default();
    let service = Webhook::stripe(SECRET).unwrap().handler(recorder.handler());
    let response = service
        .oneshot(Request::get("/").body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
}

#[tokio::test]
async fn unknown_types_unknown_api_versions_thin_and_unparsable_known_types_are_2xx() {
    let recorder = Recorder::default();
    let service = Webhook::stripe(SECRET).unwrap().handler(recorder.handler());
    let bodies = [
        event_body("evt_unknown", "treasury.received_credit.created"),
        event_body("evt_future", "customer.subscription.created")
            .replace("2025-06-30.basil", "2099-01-01.unreleased"),
        r#"{"id":"evt_thin","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered",
            "created":"2024-09-17T06:20:52.246Z","related_object":{"id":"mtr_1"}}"#
            .to_owned(),
        r#"{"id":"evt_broken","object":"event","type":"invoice.paid","data":{"object":{"lines":"not a list"}}}"#
            .to_owned(),
    ];
    for body in bodies {
        let response = service.clone().oneshot(signed(body.clone())).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{body}");
    }
    let events = recorder.events.lock().unwrap();
    assert!(matches!(events[0].data(), EventData::Unknown(_)));
    assert_eq!(events[1].api_version(), Some("2099-01-01.unreleased"));
    assert!(matches!(
        events[1].data(),
        EventData::SubscriptionCreated(_)
    ));
    assert!(matches!(events[2].data(), EventData::Thin(_)));
    assert!(events[3].typed_parse_failed());
    assert!(matches!(events[3].data(), EventData::Unknown(_)));
}

#[tokio::test]
async fn retryable_errors_are_500_and_release_the_claim_permanent_ones_are_acknowledged() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let service = Webhook::stripe(SECRET)
        .unwrap()
        .handler(move |delivery: Delivery<Event>| {
            let counter = counter.clone();
            async move {
                let call = counter.fetch_add(1, Ordering::SeqCst);
                match (delivery.event().id(), call) {
                    ("evt_retry", 0) => Err(HandlerError::retry(std::io::Error::other("db down"))),
                    ("evt_permanent", _) => Err(HandlerError::permanent("unknown customer")),
                    _ => Ok(()),
                }
            }
        });
    let body = event_body("evt_retry", "invoice.paid");
    let response = service.clone().oneshot(signed(body.clone())).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let Some(Rejection::HandlerFailed { reason }) = response.extensions().get::<Rejection>() else {
        panic!()
    };
    assert!(reason.contains("db down"), "{reason}");
    // Stripe's retry runs the handler again, and succeeds.
    let response = service.clone().oneshot(signed(body.clone())).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let body = event_body("evt_permanent", "invoice.paid");
    let response = service.clone().oneshot(signed(body.clone())).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.extensions().get(), Some(&Outcome::Failed));
    let response = service.clone().oneshot(signed(body)).await.unwrap();
    assert_eq!(response.extensions().get(), Some(&Outcome::Duplicate));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_delivery_during_another_is_409_without_running_the_handler() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let (handler_gate, counter) = (gate.clone(), calls.clone());
    let service = Webhook::stripe(SECRET)
        .unwrap()
        .retry_after(Duration::from_secs(30))
        .handler(move |_: Delivery<Event>| {
            let (gate, counter) = (handler_gate.clone(), counter.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let _permit = gate.acquire().await;
                Ok::<_, HandlerError>(())
            }
        });
    let body = event_body("evt_slow", "invoice.paid");
    let first = tokio::spawn(service.clone().oneshot(signed(body.clone())));
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let second = service.clone().oneshot(signed(body.clone())).await.unwrap();
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert_eq!(second.headers()["retry-after"], "30");
    assert_eq!(
        second.extensions().get::<Rejection>(),
        Some(&Rejection::InProgress)
    );
    gate.add_permits(1);
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    let third = service.oneshot(signed(body)).await.unwrap();
    assert_eq!(third.extensions().get(), Some(&Outcome::Duplicate));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A store that always fails.
#[derive(Debug)]
struct Broken;

impl IdempotencyStore for Broken {
    type ClaimFuture = std::future::Ready<Result<Claim, StoreError>>;
    type CompleteFuture = std::future::Ready<Result<(), StoreError>>;
    type ReleaseFuture = std::future::Ready<Result<(), StoreError>>;

    fn claim(&self, _: &str, _: &ClaimToken, _: SystemTime, _: Duration) -> Self::ClaimFuture {
        std::future::ready(Err(StoreError::backend("connection refused")))
    }

    fn complete(
        &self,
        _: &str,
        _: &ClaimToken,
        _: SystemTime,
        _: Duration,
    ) -> Self::CompleteFuture {
        std::future::ready(Err(StoreError::backend("connection refused")))
    }

    fn release(&self, _: &str, _: &ClaimToken) -> Self::ReleaseFuture {
        std::future::ready(Err(StoreError::backend("connection refused")))
    }
}

#[tokio::test]
async fn an_unavailable_store_is_503_and_the_handler_does_not_run() {
    let recorder = Recorder::default();
    let service = Webhook::stripe(SECRET)
        .unwrap()
        .store(Broken)
        .handler(recorder.handler());
    let response = service
        .oneshot(signed(event_body("evt_1", "invoice.paid")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let Some(Rejection::StoreUnavailable { reason }) = response.extensions().get::<Rejection>()
    else {
        panic!()
    };
    assert!(reason.contains("connection refused"), "{reason}");
    assert_eq!(recorder.count(), 0);
}

#[tokio::test]
async fn the_same_service_serves_github_deduplicated_by_delivery_id() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let service = Webhook::builder(GithubScheme::new("It's a Secret to Everybody").unwrap())
        .handler(move |delivery: Delivery<crate::scheme::RawEvent>| {
            let counter = counter.clone();
            async move {
                assert_eq!(delivery.event().event_type(), Some("ping"));
                counter.fetch_add(1, Ordering::SeqCst);
                Ok::<_, HandlerError>(())
            }
        });
    let request = || {
        Request::post("/webhooks/github")
            .header(
                "x-hub-signature-256",
                github::test_header("It's a Secret to Everybody", b"Hello, World!"),
            )
            .header("x-github-delivery", "d-1")
            .header("x-github-event", "ping")
            .body("Hello, World!".to_owned())
            .unwrap()
    };
    for _ in 0..3 {
        let response = service.clone().oneshot(request()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_queued_style_clock_drives_verification_and_ttls() {
    // The service reads time from the scheme's clock: a manual clock makes an old
    // signature valid, and expires a completed entry deterministically.
    let clock = portcullis_core::clock::ManualClock::at_unix(Duration::from_secs(1_700_000_000));
    let verifier = crate::signature::StripeVerifier::new(SECRET)
        .unwrap()
        .clock(clock.clone());
    let recorder = Recorder::default();
    let service = Webhook::builder(verifier)
        .completed_ttl(Duration::from_secs(60))
        .handler(recorder.handler());
    let body = event_body("evt_clock", "invoice.paid");
    let request = || {
        let header = TestHeader::new(1_700_000_000)
            .signed_with(SECRET)
            .header_value(body.as_bytes());
        Request::post("/")
            .header("stripe-signature", header)
            .body(body.clone())
            .unwrap()
    };
    assert_eq!(
        service.clone().oneshot(request()).await.unwrap().status(),
        StatusCode::OK
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(recorder.count(), 1);
    let response = service.clone().oneshot(request()).await.unwrap();
    assert_eq!(response.extensions().get(), Some(&Outcome::Duplicate));
    // Past the tolerance: refused, precisely as stale.
    clock.advance(Duration::from_secs(300));
    let response = service.oneshot(request()).await.unwrap();
    assert!(matches!(
        response.extensions().get::<Rejection>(),
        Some(Rejection::Signature(VerifyError::TimestampTooOld { .. }))
    ));
}

/// A body of given chunks with no size hint, or one that fails.
struct Chunks {
    chunks: Vec<Bytes>,
    fail: bool,
}

impl Chunks {
    fn new(chunks: Vec<Vec<u8>>) -> Self {
        Self {
            chunks: chunks.into_iter().rev().map(Bytes::from).collect(),
            fail: false,
        }
    }

    fn failing() -> Self {
        Self {
            chunks: vec![Bytes::from_static(b"{")],
            fail: true,
        }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.chunks.pop() {
            Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            None if self.fail => Poll::Ready(Some(Err(std::io::Error::other("reset by peer")))),
            None => Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[test]
fn the_service_is_send_and_its_error_infallible() {
    fn assert_send<T: Send + Sync>(_: &T) {}
    let recorder = Recorder::default();
    let service = Webhook::stripe(SECRET).unwrap().handler(recorder.handler());
    assert_send(&service);
    let mut service = service;
    let future = tower::Service::call(&mut service, signed("x"));
    fn assert_future<
        F: std::future::Future<Output = Result<Response<WebhookBody>, Infallible>> + Send,
    >(
        _: &F,
    ) {
    }
    assert_future(&future);
}
