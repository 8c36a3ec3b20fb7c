//! `billing-api stripe-trigger`: like `stripe trigger`, a realistic Stripe event for a
//! tenant, signed with the configured webhook secret and posted to a running server.
//!
//! The events look like what Stripe sends for a subscription made through Checkout
//! (API version `2025-06-30.basil`): the session carries the tenant as
//! `client_reference_id` and the price as `metadata.price_id` (Stripe leaves
//! `line_items` out of events), the subscription carries the tenant in its metadata
//! (`subscription_data.metadata` when creating the session), and invoices name their
//! subscription. The customer and subscription ids are derived from the tenant id, so
//! successive triggers for one tenant are about the same subscription.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use portcullis_stripe_webhook::signature::TestHeader;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use crate::billing::Prices;
use crate::config::{Config, TriggerArgs, TriggerEvent, TriggerPlan};
use crate::keys::unix_now;

/// The API version the events are shaped after.
const API_VERSION: &str = "2025-06-30.basil";
/// A billing period.
const MONTH: i64 = 30 * 86_400;

/// Builds, signs and posts the event: exit code 0 when the server answered 2xx, 1
/// when it refused the event, 2 when it could not be reached.
pub(crate) async fn run(config: &Config, args: &TriggerArgs) -> ExitCode {
    let prices = Prices {
        starter: config.stripe_price_starter.clone(),
        pro: config.stripe_price_pro.clone(),
        enterprise: config.stripe_price_enterprise.clone(),
    };
    let (secrets, development) = config.webhook_secrets();
    let event_id = args
        .event_id
        .clone()
        .unwrap_or_else(|| random_id("evt_", 24));
    let event = build(args, &prices, &event_id, unix_now());
    let body = event.to_string();
    let signature = sign(&secrets[0], body.as_bytes());

    let request = match Request::post(&args.url)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(
            header::USER_AGENT,
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .header("stripe-signature", signature)
        .body(Full::new(Bytes::from(body)))
    {
        Ok(request) => request,
        Err(error) => {
            eprintln!("billing-api stripe-trigger: --url {}: {error}", args.url);
            return ExitCode::from(2);
        }
    };
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response =
        match tokio::time::timeout(Duration::from_secs(10), client.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                eprintln!(
                    "billing-api stripe-trigger: cannot post to {}: {error}",
                    args.url
                );
                return ExitCode::from(2);
            }
            Err(_) => {
                eprintln!(
                    "billing-api stripe-trigger: {} did not answer within 10 s",
                    args.url
                );
                return ExitCode::from(2);
            }
        };
    let status = response.status();
    let answer = response
        .into_body()
        .collect()
        .await
        .map(|body| String::from_utf8_lossy(&body.to_bytes()).into_owned())
        .unwrap_or_default();
    println!(
        "{} {event_id} for tenant {} ({}), signed with {}: {status} {answer}",
        args.event.as_str(),
        args.tenant,
        plan_name(args.plan),
        if development {
            "the development secret"
        } else {
            "STRIPE_WEBHOOK_SECRET"
        },
    );
    if status.is_success() {
        ExitCode::SUCCESS
    } else {
        if status == StatusCode::BAD_REQUEST {
            eprintln!(
                "billing-api stripe-trigger: refused; is the server's --stripe-webhook-secret the same as this one's?"
            );
        }
        ExitCode::from(1)
    }
}

/// The `Stripe-Signature` header of `body`, signed now with `secret`.
fn sign(secret: &str, body: &[u8]) -> String {
    TestHeader::now().signed_with(secret).header_value(body)
}

fn plan_name(plan: TriggerPlan) -> &'static str {
    match plan {
        TriggerPlan::Starter => "starter",
        TriggerPlan::Pro => "pro",
        TriggerPlan::Enterprise => "enterprise",
    }
}

/// `prefix` and `len` random alphanumerics, like Stripe's ids.
fn random_id(prefix: &str, len: usize) -> String {
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{random}")
}

/// The id Stripe would have given the tenant's customer or subscription.
fn derived_id(prefix: &str, tenant: &str) -> String {
    let tail: String = tenant
        .trim_start_matches("tn_")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{prefix}{tail}")
}

/// The event, as Stripe would send it.
pub(crate) fn build(args: &TriggerArgs, prices: &Prices, event_id: &str, now: i64) -> Value {
    let tenant = args.tenant.as_str();
    let plan = plan_name(args.plan);
    let price = prices.price_of(plan).unwrap_or_default();
    let amount = match args.plan {
        TriggerPlan::Starter => 1_900,
        TriggerPlan::Pro => 4_900,
        TriggerPlan::Enterprise => 49_900,
    };
    let customer = derived_id("cus_", tenant);
    let subscription = derived_id("sub_", tenant);
    let price_object = json!({
        "id": price,
        "object": "price",
        "active": true,
        "currency": "usd",
        "unit_amount": amount,
        "product": derived_id("prod_", plan),
        "recurring": { "interval": "month", "interval_count": 1 },
        "lookup_key": plan,
    });
    let subscription_object = |status: &str, canceled: bool| {
        json!({
            "id": subscription,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "cancel_at_period_end": false,
            "canceled_at": if canceled { json!(now) } else { Value::Null },
            "ended_at": if canceled { json!(now) } else { Value::Null },
            "collection_method": "charge_automatically",
            "created": now,
            "start_date": now,
            "currency": "usd",
            "livemode": false,
            "items": {
                "object": "list",
                "data": [{
                    "id": derived_id("si_", tenant),
                    "object": "subscription_item",
                    "price": price_object,
                    "quantity": 1,
                    "current_period_start": now,
                    "current_period_end": now + MONTH,
                }],
                "has_more": false,
            },
            "metadata": { "tenant_id": tenant },
        })
    };
    let invoice_object = |paid: bool| {
        json!({
            "id": random_id("in_", 24),
            "object": "invoice",
            "customer": customer,
            "status": if paid { "paid" } else { "open" },
            "billing_reason": "subscription_cycle",
            "collection_method": "charge_automatically",
            "currency": "usd",
            "amount_due": amount,
            "amount_paid": if paid { amount } else { 0 },
            "attempt_count": 1,
            "attempted": true,
            "next_payment_attempt": if paid { Value::Null } else { json!(now + 3 * 86_400) },
            "period_start": now - MONTH,
            "period_end": now,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": subscription,
                    "metadata": { "tenant_id": tenant },
                },
            },
            "lines": {
                "object": "list",
                "data": [{
                    "id": random_id("il_", 24),
                    "object": "line_item",
                    "amount": amount,
                    "pricing": { "price_details": { "price": price, "product": derived_id("prod_", plan) } },
                    "period": { "start": now, "end": now + MONTH },
                }],
                "has_more": false,
            },
            "livemode": false,
            "metadata": {},
        })
    };
    let (object, previous) = match args.event {
        TriggerEvent::CheckoutSessionCompleted => (
            json!({
                "id": random_id("cs_test_", 58),
                "object": "checkout.session",
                "mode": "subscription",
                "status": "complete",
                "payment_status": "paid",
                "client_reference_id": tenant,
                "customer": customer,
                "subscription": subscription,
                "customer_details": { "email": null },
                "currency": "usd",
                "amount_subtotal": amount,
                "amount_total": amount,
                "created": now,
                "expires_at": now + 86_400,
                "livemode": false,
                "metadata": { "tenant_id": tenant, "price_id": price },
            }),
            None,
        ),
        TriggerEvent::SubscriptionCreated => (subscription_object("active", false), None),
        TriggerEvent::SubscriptionUpdated => (
            subscription_object("active", false),
            Some(json!({ "items": { "object": "list", "data": [] } })),
        ),
        TriggerEvent::SubscriptionDeleted => (subscription_object("canceled", true), None),
        TriggerEvent::InvoicePaymentFailed => (invoice_object(false), None),
        TriggerEvent::InvoicePaid => (invoice_object(true), None),
    };
    let mut data = json!({ "object": object });
    if let Some(previous) = previous {
        data["previous_attributes"] = previous;
    }
    json!({
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": now,
        "data": data,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": args.event.as_str(),
    })
}
