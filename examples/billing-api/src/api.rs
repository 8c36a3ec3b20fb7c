//! `/v1`: the customer API, behind an API key and the tenant's plan limits.
//!
//! | route | answers |
//! |---|---|
//! | `GET /v1/whoami` | `{"tenant_id", "plan", "key_id"}` |
//! | `GET /v1/quote` | the product: a quote |
//! | `GET /v1/usage` | each quota of the plan with its limit, remaining requests and reset |

use axum::extract::Extension;
use axum::routing::get;
use axum::{Json, Router};
use portcullis_api_keys::layer::ApiKeyContext;
use portcullis_rate_limit::decision::Decision;
use serde_json::{Value, json};

/// The product: what a paying customer calls.
const QUOTES: [(&str, &str); 6] = [
    (
        "The price of reliability is the pursuit of the utmost simplicity.",
        "C. A. R. Hoare",
    ),
    ("Security is a process, not a product.", "Bruce Schneier"),
    ("Make it work, make it right, make it fast.", "Kent Beck"),
    (
        "Simplicity is prerequisite for reliability.",
        "Edsger W. Dijkstra",
    ),
    (
        "Premature optimization is the root of all evil.",
        "Donald Knuth",
    ),
    (
        "Programs must be written for people to read, and only incidentally for machines to execute.",
        "Harold Abelson",
    ),
];

/// The routes; the API-key and rate-limit layers are put around them by the app.
pub(crate) fn routes() -> Router {
    Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/quote", get(quote))
        .route("/v1/usage", get(usage))
}

async fn whoami(key: ApiKeyContext) -> Json<Value> {
    Json(json!({
        "tenant_id": key.tenant().as_str(),
        "plan": key.plan().unwrap_or(crate::billing::FREE),
        "key_id": key.key_id().as_str(),
    }))
}

async fn quote(key: ApiKeyContext, decision: Option<Extension<Decision>>) -> Json<Value> {
    // Varies with the request, so that repeated calls show different quotes.
    let remaining: u64 = decision
        .iter()
        .flat_map(|decision| decision.quotas())
        .map(|(_, status)| status.remaining())
        .sum();
    let index = usize::try_from(remaining).unwrap_or_default() % QUOTES.len();
    let (text, author) = QUOTES[index];
    Json(json!({
        "quote": text,
        "author": author,
        "tenant_id": key.tenant().as_str(),
    }))
}

/// The quotas as the limiter saw them when it admitted this very request (which
/// counts). Without a decision (the limiter's store failed and it let the request
/// through), the plan's quotas are unknown here: an empty list, `degraded: true`.
async fn usage(key: ApiKeyContext, decision: Option<Extension<Decision>>) -> Json<Value> {
    let Some(Extension(decision)) = decision else {
        return Json(json!({
            "tenant_id": key.tenant().as_str(),
            "plan": key.plan().unwrap_or(crate::billing::FREE),
            "quotas": [],
            "degraded": true,
        }));
    };
    let quotas: Vec<Value> = decision
        .quotas()
        .map(|(quota, status)| {
            json!({
                "name": quota.name(),
                "limit": quota.limit(),
                "remaining": status.remaining(),
                "window_seconds": quota.window().as_secs(),
                "reset_seconds": status.reset().as_millis().div_ceil(1_000),
            })
        })
        .collect();
    Json(json!({
        "tenant_id": key.tenant().as_str(),
        "plan": decision.plan().name(),
        "quotas": quotas,
        "degraded": decision.degraded().is_some(),
    }))
}
