//! `/admin`: tenants and their API keys, behind the admin token.
//!
//! | route | does |
//! |---|---|
//! | `POST /admin/tenants` `{"name", "email"}` | creates a tenant on the free plan: `201` |
//! | `GET /admin/tenants/{id}` | the tenant, its plan, subscription status and subscriptions |
//! | `POST /admin/tenants/{id}/keys` `{"name", "scopes"?, "expires_in_seconds"?}` | a new key, its plaintext shown once: `201` |
//! | `GET /admin/tenants/{id}/keys` | the tenant's keys, masked |
//! | `DELETE /admin/keys/{id}` | revokes a key on every instance: `204` |
//! | `POST /admin/keys/{id}/rotate` `{"overlap_seconds"}` | a new key; the old one works for the overlap: `201` |

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http::{HeaderMap, StatusCode, header};
use portcullis_api_keys::id::{KeyId, TenantId};
use portcullis_api_keys::lifecycle::{CreatedKey, NewKey};
use portcullis_api_keys::record::{KeyRecord, KeyStatus};
use portcullis_api_keys::scopes::Scopes;
use portcullis_api_keys::timestamp::Timestamp;
use portcullis_audit_log::context::AuditContext;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{SubscriptionRow, Tenant};
use crate::error::{ApiError, PathId};
use crate::keys::unix_now;
use crate::state::AppState;

/// The longest key lifetime and rotation overlap accepted: ten years, one year.
const MAX_KEY_LIFETIME: u64 = 10 * 365 * 86_400;
const MAX_OVERLAP: u64 = 365 * 86_400;

/// The shortest admin token accepted.
const MIN_ADMIN_TOKEN_LEN: usize = 20;
/// The least guessing work an admin token must cost, estimated as its length times
/// the bits of its alphabet (the distinct characters it uses): 64 bits is 16 random
/// hex digits, far beyond what an online attacker (throttled to a few guesses a
/// minute) can try.
const MIN_ADMIN_TOKEN_BITS: f64 = 64.0;

/// The admin bearer token; compared in constant time, never printed by `Debug`.
#[derive(Clone)]
pub(crate) struct AdminToken {
    token: Arc<str>,
    /// SHA-256 of the token: presented tokens are compared by digest, so the
    /// comparison takes the same time whatever their length.
    digest: [u8; 32],
}

/// Why a configured admin token was refused; never contains the token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WeakAdminToken {
    #[error(
        "the admin token has {length} characters, fewer than {MIN_ADMIN_TOKEN_LEN}: use a random one (omit it to have one generated)"
    )]
    TooShort { length: usize },
    #[error(
        "the admin token is guessable (it repeats too few distinct characters): use a random one (omit it to have one generated)"
    )]
    TooFewDistinct,
}

impl AdminToken {
    /// The configured token, or a new random one (`adm_` and 40 alphanumerics); a
    /// configured token that is short or guessable is refused.
    pub(crate) fn new(configured: Option<&str>) -> Result<(Self, bool), WeakAdminToken> {
        match configured.map(str::trim).filter(|token| !token.is_empty()) {
            Some(token) => {
                check_strength(token)?;
                Ok((Self::from_token(token), false))
            }
            None => {
                let random: String = rand::rng()
                    .sample_iter(Alphanumeric)
                    .take(40)
                    .map(char::from)
                    .collect();
                Ok((Self::from_token(&format!("adm_{random}")), true))
            }
        }
    }

    fn from_token(token: &str) -> Self {
        Self {
            token: Arc::from(token),
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// The token, to print once at start-up.
    pub(crate) fn expose_secret(&self) -> &str {
        &self.token
    }

    /// Compares digests of equal length in constant time: comparing the tokens
    /// themselves would answer a different length at once.
    fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&presented).into()
    }
}

/// Refuses a token that is short, or long but made of few distinct characters.
fn check_strength(token: &str) -> Result<(), WeakAdminToken> {
    let length = token.chars().count();
    if length < MIN_ADMIN_TOKEN_LEN {
        return Err(WeakAdminToken::TooShort { length });
    }
    let distinct = token
        .chars()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    // Precision is irrelevant at these magnitudes.
    #[allow(clippy::cast_precision_loss)]
    let bits = length as f64 * (distinct as f64).log2();
    if bits < MIN_ADMIN_TOKEN_BITS {
        return Err(WeakAdminToken::TooFewDistinct);
    }
    Ok(())
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(…)")
    }
}

/// The largest admin body, in bytes: the largest valid one (a key with its scopes) is a
/// few KiB; axum's default of 2 MiB would let anyone with a token make the server
/// buffer that much per request.
pub(crate) const ADMIN_BODY_LIMIT: usize = 64 * 1024;

/// The admin routes, behind [`require_admin`].
pub(crate) fn routes(state: AppState) -> Router {
    Router::new()
        .route("/admin/tenants", post(create_tenant))
        .route("/admin/tenants/{id}", get(get_tenant))
        .route("/admin/tenants/{id}/keys", post(create_key).get(list_keys))
        .route("/admin/keys/{id}", delete(revoke_key))
        .route("/admin/keys/{id}/rotate", post(rotate_key))
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .route_layer(axum::middleware::from_fn_with_state(
            state.admin_token.clone(),
            require_admin,
        ))
        .with_state(state)
}

/// Lets a request through only with `Authorization: Bearer <admin token>`, and names
/// the caller `admin` in the audit record.
async fn require_admin(State(token): State<AdminToken>, request: Request, next: Next) -> Response {
    match bearer(request.headers()) {
        None => ApiError::AdminTokenMissing.into_response(),
        Some(presented) if token.matches(presented) => {
            if let Some(audit) = request.extensions().get::<AuditContext>() {
                audit.set_user_id("admin");
            }
            next.run(request).await
        }
        Some(_) => ApiError::AdminTokenInvalid.into_response(),
    }
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenantBody {
    name: String,
    email: String,
}

async fn create_tenant(
    State(state): State<AppState>,
    body: Result<Json<NewTenantBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains(char::is_control) {
        return Err(ApiError::InvalidField {
            field: "name",
            detail: "The name must have 1 to 200 characters, none of them a control character."
                .into(),
        });
    }
    let email = body.email.trim();
    if email.len() > 254
        || !email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty()
                && domain.contains('.')
                && !email.contains(|c: char| c.is_whitespace() || c.is_control())
        })
    {
        return Err(ApiError::InvalidField {
            field: "email",
            detail: "The email must look like name@example.com.".into(),
        });
    }
    let id = format!(
        "tn_{}",
        rand::rng()
            .sample_iter(Alphanumeric)
            .take(16)
            .map(char::from)
            .collect::<String>()
    );
    let tenant = state.db.create_tenant(&id, name, email, unix_now()).await?;
    tracing::info!(tenant = %tenant.id, "tenant created");
    let location = format!("/admin/tenants/{}", tenant.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(tenant_json(&state, &tenant, None)),
    )
        .into_response())
}

async fn get_tenant(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    let tenant = state
        .db
        .tenant(&id)
        .await?
        .ok_or(ApiError::TenantNotFound)?;
    let subscriptions = state.db.subscriptions(&tenant.id).await?;
    Ok(Json(tenant_json(&state, &tenant, Some(&subscriptions))))
}

/// A tenant as the admin API shows it: `plan` is the plan its requests are limited
/// under now (the paid plan, or `free` after a `past_due` grace period).
fn tenant_json(
    state: &AppState,
    tenant: &Tenant,
    subscriptions: Option<&[SubscriptionRow]>,
) -> Value {
    let mut json = json!({
        "id": tenant.id,
        "name": tenant.name,
        "email": tenant.email,
        "plan": state.billing.effective_plan(tenant, unix_now()),
        "subscription_status": tenant.subscription_status,
        "stripe_customer_id": tenant.stripe_customer_id,
        "grace_period_ends_at": state.billing.grace_ends_at(tenant),
        "created_at": tenant.created_at,
    });
    if let Some(subscriptions) = subscriptions {
        json["subscriptions"] = json!(subscriptions);
    }
    json
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyBody {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    expires_in_seconds: Option<u64>,
}

async fn create_key(
    State(state): State<AppState>,
    PathId(tenant_id): PathId,
    body: Result<Json<NewKeyBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains(char::is_control) {
        return Err(ApiError::InvalidField {
            field: "name",
            detail: "The name must have 1 to 200 characters, none of them a control character."
                .into(),
        });
    }
    let scopes = Scopes::new(&body.scopes).map_err(|error| ApiError::InvalidField {
        field: "scopes",
        detail: error.to_string(),
    })?;
    let tenant = state
        .db
        .tenant(&tenant_id)
        .await?
        .ok_or(ApiError::TenantNotFound)?;
    let mut new = NewKey::new(TenantId::new(tenant.id.as_str()))
        .name(name)
        .scopes(scopes);
    if let Some(seconds) = body.expires_in_seconds {
        if !(1..=MAX_KEY_LIFETIME).contains(&seconds) {
            return Err(ApiError::InvalidField {
                field: "expires_in_seconds",
                detail: format!("The lifetime must be 1 to {MAX_KEY_LIFETIME} seconds."),
            });
        }
        new = new.expires_in(Duration::from_secs(seconds));
    }
    let created = state.keys.create(new).await?;
    // A new key may sit in some instance's cache of unknown keys (someone tried it
    // early): drop it there so it works at once everywhere.
    let _ = state.keys.invalidate(&created.record).await;
    tracing::info!(tenant = %tenant.id, key_id = %created.record.id, "API key created");
    Ok((StatusCode::CREATED, Json(created_json(&created, None))).into_response())
}

async fn list_keys(
    State(state): State<AppState>,
    PathId(tenant_id): PathId,
) -> Result<Json<Value>, ApiError> {
    let tenant = state
        .db
        .tenant(&tenant_id)
        .await?
        .ok_or(ApiError::TenantNotFound)?;
    let records = state.keys.list(&TenantId::new(tenant.id.as_str())).await?;
    let now = Timestamp::from_unix_micros(unix_now().saturating_mul(1_000_000));
    let keys: Vec<Value> = records.iter().map(|record| key_json(record, now)).collect();
    Ok(Json(json!({ "tenant_id": tenant.id, "keys": keys })))
}

async fn revoke_key(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let id: KeyId = id.parse().map_err(|_| ApiError::KeyNotFound)?;
    let record = state.keys.revoke(&id).await?;
    tracing::info!(tenant = %record.tenant, key_id = %record.id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    #[serde(default)]
    overlap_seconds: u64,
}

async fn rotate_key(
    State(state): State<AppState>,
    PathId(id): PathId,
    body: Result<Json<RotateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    if body.overlap_seconds > MAX_OVERLAP {
        return Err(ApiError::InvalidField {
            field: "overlap_seconds",
            detail: format!("The overlap must be 0 to {MAX_OVERLAP} seconds."),
        });
    }
    let id: KeyId = id.parse().map_err(|_| ApiError::KeyNotFound)?;
    let rotation = state
        .keys
        .rotate(&id, Duration::from_secs(body.overlap_seconds))
        .await?;
    let _ = state.keys.invalidate(&rotation.new.record).await;
    tracing::info!(
        tenant = %rotation.old.tenant,
        old_key_id = %rotation.old.id,
        key_id = %rotation.new.record.id,
        "API key rotated"
    );
    Ok((
        StatusCode::CREATED,
        Json(created_json(&rotation.new, Some(&rotation.old))),
    )
        .into_response())
}

/// A new key: the only answer that ever holds its plaintext.
fn created_json(created: &CreatedKey, replaces: Option<&KeyRecord>) -> Value {
    let record = &created.record;
    let mut json = json!({
        "id": record.id.as_str(),
        "key": created.key.expose_secret(),
        "display": record.masked.as_str(),
        "tenant_id": record.tenant.as_str(),
        "name": record.name,
        "scopes": record.scopes,
        "created_at": seconds(Some(record.created_at)),
        "expires_at": seconds(record.expires_at),
    });
    if let Some(old) = replaces {
        json["replaces"] = json!({
            "id": old.id.as_str(),
            "expires_at": seconds(old.expires_at),
            "revoked_at": seconds(old.revoked_at),
        });
    }
    json
}

/// A key as listed: masked.
fn key_json(record: &KeyRecord, now: Timestamp) -> Value {
    let status = match record.status(now) {
        KeyStatus::Active => "active",
        KeyStatus::Expired => "expired",
        KeyStatus::Revoked => "revoked",
        _ => "unknown",
    };
    json!({
        "id": record.id.as_str(),
        "display": record.masked.as_str(),
        "name": record.name,
        "scopes": record.scopes,
        "status": status,
        "created_at": seconds(Some(record.created_at)),
        "expires_at": seconds(record.expires_at),
        "revoked_at": seconds(record.revoked_at),
        "last_used_at": seconds(record.last_used_at),
    })
}

/// A timestamp in Unix seconds.
fn seconds(at: Option<Timestamp>) -> Option<i64> {
    at.map(|at| at.as_unix_micros().div_euclid(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::{AdminToken, WeakAdminToken};

    #[test]
    fn only_the_token_itself_matches_whatever_the_length() {
        let (token, generated) = AdminToken::new(Some("adm_0123456789abcdefghij")).unwrap();
        assert!(!generated);
        assert!(token.matches("adm_0123456789abcdefghij"));
        assert!(!token.matches("adm_0123456789abcdefghi"));
        assert!(!token.matches("adm_0123456789abcdefghijk"));
        assert!(!token.matches(""));
    }

    #[test]
    fn guessable_tokens_are_refused_and_generated_ones_are_strong() {
        assert!(matches!(
            AdminToken::new(Some("ab")),
            Err(WeakAdminToken::TooShort { length: 2 })
        ));
        assert!(matches!(
            AdminToken::new(Some(&"ab".repeat(16))),
            Err(WeakAdminToken::TooFewDistinct)
        ));
        let (token, generated) = AdminToken::new(None).unwrap();
        assert!(generated);
        assert!(super::check_strength(token.expose_secret()).is_ok());
    }
}
