//! Whatever arrives, the service answers with a 4xx problem, never a panic or a 5xx.
#![cfg(feature = "memory")]

use http::{HeaderValue, Request};
use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Webhook};
use portcullis_stripe_webhook::event::Event;
use proptest::prelude::*;
use tower::ServiceExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_signature_headers_and_bodies_are_4xx(
        header in proptest::collection::vec(any::<u8>(), 0..200),
        structured in "(t=[0-9]{0,12}|v1=[0-9a-f]{0,64}|v0=[0-9a-f]{0,8}|[ ,=])*",
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let service = Webhook::stripe("whsec_test_secret")
            .unwrap()
            .body_limit(256)
            .handler(|_: Delivery<Event>| async { Ok::<_, HandlerError>(()) });
        for value in [HeaderValue::from_bytes(&header).ok(), HeaderValue::from_str(&structured).ok()] {
            let mut request = Request::post("/").body(body.clone()).unwrap();
            if let Some(value) = value {
                request.headers_mut().insert("stripe-signature", value);
            }
            let response = runtime()
                .block_on(service.clone().oneshot(request.map(http_body_util::Full::<bytes::Bytes>::from)))
                .unwrap();
            prop_assert!(response.status().is_client_error(), "{}", response.status());
        }
    }
}
