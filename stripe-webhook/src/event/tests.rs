use super::*;
use crate::error::PayloadError;

#[test]
fn unknown_event_type_is_unknown_with_the_whole_event() {
    let event = Event::from_slice(
        br#"{"id":"evt_u","object":"event","type":"radar.early_fraud_warning.created",
            "created":1700000000,"livemode":false,"api_version":"2024-06-20",
            "data":{"object":{"id":"issfr_1","charge":"ch_1"}}}"#,
    )
    .unwrap();
    assert_eq!(event.event_type(), "radar.early_fraud_warning.created");
    assert!(!event.typed_parse_failed());
    let EventData::Unknown(json) = event.data() else {
        panic!("{:?}", event.data())
    };
    assert_eq!(json["data"]["object"]["charge"], "ch_1");
    assert_eq!(event.object_id(), Some("issfr_1"));
}

#[test]
fn an_event_from_an_unknown_api_version_parses() {
    // A future API version: new fields everywhere, a field turned into an object, old
    // ones gone, nulls where there were values.
    let event = Event::from_slice(
        br#"{
          "id": "evt_future", "object": "event", "type": "invoice.paid",
          "api_version": "2099-12-31.zeppelin", "created": 4102444800, "livemode": true,
          "pending_webhooks": {"new": "shape"}, "request": {"id": null, "idempotency_key": null},
          "brand_new_envelope_field": [1, 2, 3],
          "data": {"object": {
            "id": "in_future", "object": "invoice", "customer": {"id": "cus_1", "object": "customer"},
            "status": "paid", "amount_paid": 4900, "currency": "usd", "metadata": null,
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_9", "metadata": {}}},
            "lines": {"object": "list", "data": [
              {"id": "il_1", "pricing": {"type": "price_details", "price_details": {"price": "price_a", "product": "prod_1"}},
               "period": {"start": 4100000000, "end": 4102444800}, "newfield": true},
              {"id": "il_2", "price": {"id": "price_b", "object": "price"}, "period": {"end": 4100000000}}
            ], "has_more": false},
            "a_new_object": {"deep": {"deeper": null}}
          }}
        }"#,
    )
    .unwrap();
    assert_eq!(event.api_version(), Some("2099-12-31.zeppelin"));
    assert!(event.livemode());
    assert!(!event.typed_parse_failed());
    let EventData::InvoicePaid(invoice) = event.data() else {
        panic!("{:?}", event.data())
    };
    assert_eq!(invoice.customer.as_deref(), Some("cus_1"));
    assert_eq!(invoice.subscription.as_deref(), Some("sub_9"));
    assert_eq!(invoice.price_ids, ["price_a", "price_b"]);
    assert_eq!(invoice.period_end, Some(4_102_444_800));
    assert!(invoice.metadata.is_empty());
}

#[test]
fn a_known_type_that_does_not_parse_falls_back_to_unknown() {
    // `id` of a subscription turned into a number: the typed struct cannot hold it.
    let event = Event::from_slice(
        br#"{"id":"evt_bad","type":"customer.subscription.updated","created":1,
            "data":{"object":{"id":12345,"status":"active"}}}"#,
    )
    .unwrap();
    assert!(event.typed_parse_failed());
    let EventData::Unknown(json) = event.data() else {
        panic!()
    };
    assert_eq!(json["data"]["object"]["id"], 12345);
}

#[test]
fn subscription_fields_old_and_new_api_versions() {
    let old = Event::from_slice(
        br#"{"id":"evt_o","type":"customer.subscription.created","api_version":"2020-08-27",
            "data":{"object":{"id":"sub_1","customer":"cus_1","status":"trialing",
              "current_period_end":1700000000,"cancel_at_period_end":false,"trial_end":1699000000,
              "items":{"data":[{"price":{"id":"price_1"},"plan":{"id":"price_1"}},{"plan":{"id":"plan_legacy"}}]},
              "metadata":{"tenant":"acme","n":7}}}}"#,
    )
    .unwrap();
    let EventData::SubscriptionCreated(subscription) = old.data() else {
        panic!()
    };
    assert_eq!(subscription.current_period_end, Some(1_700_000_000));
    assert_eq!(subscription.price_ids, ["price_1", "plan_legacy"]);
    assert_eq!(subscription.metadata["tenant"], "acme");
    assert_eq!(subscription.metadata["n"], "7");
    assert_eq!(subscription.trial_end, Some(1_699_000_000));
    assert!(subscription.grants_access());
    assert_eq!(old.object_id(), Some("sub_1"));

    // Missing optional fields are tolerated.
    let minimal = Event::from_slice(
        br#"{"id":"evt_m","type":"customer.subscription.deleted","data":{"object":{"id":"sub_2"}}}"#,
    )
    .unwrap();
    let EventData::SubscriptionDeleted(subscription) = minimal.data() else {
        panic!()
    };
    assert_eq!(subscription.status, "");
    assert!(subscription.price_ids.is_empty());
    assert_eq!(subscription.current_period_end, None);
}

#[test]
fn checkout_session_with_expanded_line_items() {
    let event = Event::from_slice(
        br#"{"id":"evt_c","type":"checkout.session.completed","data":{"object":{
            "id":"cs_1","customer":null,"customer_email":"b@example.com","customer_details":null,
            "line_items":{"data":[{"price":{"id":"price_x"}}]}}}}"#,
    )
    .unwrap();
    let EventData::CheckoutSessionCompleted(session) = event.data() else {
        panic!()
    };
    assert_eq!(session.customer, None);
    assert_eq!(session.customer_email.as_deref(), Some("b@example.com"));
    assert_eq!(session.price_ids, ["price_x"]);
}

#[test]
fn thin_events_have_their_own_variant() {
    let event = Event::from_slice(
        br#"{"id":"evt_thin","object":"v2.core.event","type":"v1.billing.meter.no_meter_found",
            "created":"2024-09-17T06:20:52.246Z","livemode":false,"context":null,
            "related_object":{"id":"mtr_1","type":"billing.meter","url":"/v1/billing/meters/mtr_1"}}"#,
    )
    .unwrap();
    let EventData::Thin(thin) = event.data() else {
        panic!()
    };
    assert_eq!(thin.related_object_type.as_deref(), Some("billing.meter"));
    assert_eq!(thin.created.as_deref(), Some("2024-09-17T06:20:52.246Z"));
    assert_eq!(event.object_id(), Some("mtr_1"));
    assert_eq!(event.api_version(), None);
}

#[test]
fn only_an_unreadable_envelope_is_an_error() {
    assert!(matches!(
        Event::from_slice(b"\xc3\x28"),
        Err(PayloadError::NotUtf8 { valid_up_to: 0 })
    ));
    assert!(matches!(
        Event::from_slice(b""),
        Err(PayloadError::Invalid { .. })
    ));
    assert!(matches!(
        Event::from_slice(b"[1,2]"),
        Err(PayloadError::Invalid { .. })
    ));
    assert!(matches!(
        Event::from_slice(br#"{"id":"","type":"x"}"#),
        Err(PayloadError::Invalid { .. })
    ));
    assert!(matches!(
        Event::from_slice(br#"{"id":7,"type":"x"}"#),
        Err(PayloadError::Invalid { .. })
    ));
    // Odd envelope values read as absent rather than failing.
    let event = Event::from_slice(
        br#"{"id":"e","type":"x","created":"yesterday","livemode":"yes","api_version":3}"#,
    )
    .unwrap();
    assert_eq!(event.created(), 0);
    assert!(!event.livemode());
    assert_eq!(event.api_version(), None);
}

proptest::proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = Event::from_slice(&body);
    }

    #[test]
    fn arbitrary_objects_of_known_types_never_fail(
        event_type in proptest::sample::select(vec![
            "checkout.session.completed", "customer.subscription.created",
            "customer.subscription.updated", "customer.subscription.deleted",
            "invoice.paid", "invoice.payment_failed",
        ]),
        object in proptest::arbitrary::any::<std::collections::BTreeMap<String, i32>>(),
    ) {
        let body = serde_json::json!({"id": "evt_p", "type": event_type, "data": {"object": object}});
        let event = Event::from_slice(body.to_string().as_bytes());
        proptest::prop_assert!(event.is_ok());
    }
}
