//! The verification layer through axum: every outcome, gRPC callers, key sources,
//! per-route scopes, the cache (single flight, negative entries, invalidation,
//! expiry), store failures, and (with their features) the context extractor and the
//! rate limiter behind it.
#![cfg(feature = "memory")]

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use portcullis_api_keys::api_key::{
    ApiKeyContext, ApiKeyLayer, ApiKeyRejection, RequireScopesLayer,
};
use portcullis_api_keys::format::{Environment, KeyFormat};
use portcullis_api_keys::hash::{KeyHash, KeyHasher};
use portcullis_api_keys::id::{KeyId, TenantId};
use portcullis_api_keys::invalidation::{Invalidation, InvalidationSink, UsageRecorder};
use portcullis_api_keys::record::{KeyRecord, KeyUpdate};
use portcullis_api_keys::scopes::Scopes;
use portcullis_api_keys::store::memory::MemoryKeyStore;
use portcullis_api_keys::store::{KeyStore, StoreError};
use portcullis_api_keys::timestamp::Timestamp;
use portcullis_core::clock::ManualClock;
use portcullis_core::problem::Problem;
use serde_json::{Value, json};
use tower::ServiceExt;

const START: Duration = Duration::from_secs(1_700_000_000);

/// A memory store that counts hash lookups, and can delay or fail them.
#[derive(Clone, Default)]
struct Store {
    records: MemoryKeyStore,
    lookups: Arc<AtomicUsize>,
    delay: Option<Duration>,
    failing: Arc<AtomicBool>,
}

impl Store {
    fn delayed(delay: Duration) -> Self {
        Self {
            delay: Some(delay),
            ..Self::default()
        }
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl KeyStore for Store {
    fn insert(&self, record: &KeyRecord) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.records.insert(record)
    }

    async fn get_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::backend(std::io::Error::other(
                "connection refused",
            )));
        }
        self.records.get_by_hash(hash).await
    }

    fn get(
        &self,
        id: &KeyId,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        self.records.get(id)
    }

    fn list_by_tenant(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, StoreError>> + Send {
        self.records.list_by_tenant(tenant)
    }

    fn update(
        &self,
        id: &KeyId,
        update: &KeyUpdate,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        self.records.update(id, update)
    }

    fn revoke(
        &self,
        id: &KeyId,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send {
        self.records.revoke(id, at)
    }

    fn record_last_used(
        &self,
        uses: &[(KeyId, Timestamp)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.records.record_last_used(uses)
    }
}

/// Collects reported uses.
#[derive(Default)]
struct Uses(Mutex<Vec<(KeyId, Timestamp)>>);

impl UsageRecorder for Uses {
    fn record_use(&self, id: KeyId, at: Timestamp) {
        self.0.lock().unwrap().push((id, at));
    }
}

/// A store, a clock, and keys issued into the store.
struct Fixture {
    store: Store,
    hasher: KeyHasher,
    clock: ManualClock,
}

impl Fixture {
    fn new() -> Self {
        Self::with_store(Store::default())
    }

    fn with_store(store: Store) -> Self {
        Self {
            store,
            hasher: KeyHasher::hmac_sha256(1, b"a test pepper of 32 bytes, ok!!!").unwrap(),
            clock: ManualClock::at_unix(START),
        }
    }

    fn now(&self) -> Timestamp {
        Timestamp::now(&self.clock)
    }

    /// Issues a key: stores its record (changed by `edit`) and returns the plaintext.
    async fn issue_with(
        &self,
        tenant: &str,
        environment: Environment,
        edit: impl FnOnce(&mut KeyRecord),
    ) -> (String, KeyRecord) {
        let key = KeyFormat::default().environment(environment).generate();
        let mut record = KeyRecord::new(
            KeyId::generate(),
            TenantId::new(tenant),
            self.hasher.hash(&key.parsed()),
            key.masked(),
            self.now(),
        );
        edit(&mut record);
        self.store.insert(&record).await.unwrap();
        (key.expose_secret().to_owned(), record)
    }

    async fn issue(&self, tenant: &str, scopes: &[&str]) -> (String, KeyRecord) {
        let scopes = Scopes::new(scopes).unwrap();
        self.issue_with(tenant, Environment::Live, |record| {
            record.scopes = scopes;
            record.plan = Some("pro".into());
            record.metadata.insert("team".into(), "billing".into());
        })
        .await
    }

    /// An unknown key: valid format and checksum, not in the store.
    fn unknown_key(&self) -> String {
        KeyFormat::default().generate().expose_secret().to_owned()
    }

    fn layer(&self) -> ApiKeyLayer<Store> {
        ApiKeyLayer::new(self.store.clone(), self.hasher.clone()).clock(self.clock.clone())
    }
}

async fn whoami(Extension(key): Extension<ApiKeyContext>) -> axum::Json<Value> {
    axum::Json(json!({
        "key_id": key.key_id().to_string(),
        "tenant": key.tenant().as_str(),
        "plan": key.plan(),
        "scopes": key.scopes().iter().collect::<Vec<_>>(),
        "team": key.metadata().get("team"),
        "environment": key.environment().as_str(),
    }))
}

fn app(layer: ApiKeyLayer<Store>) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        // One route, two methods, each with its own scopes: a method router's
        // `route_layer` wraps every method added before it, so each method gets its
        // own `route` call (axum merges them).
        .route(
            "/invoices",
            get(|| async { "invoices" })
                .route_layer(RequireScopesLayer::all(["invoices:read"]).unwrap()),
        )
        .route(
            "/invoices",
            post(|| async { "created" })
                .route_layer(RequireScopesLayer::all(["invoices:write"]).unwrap()),
        )
        .route(
            "/reports",
            get(|| async { "reports" })
                .route_layer(RequireScopesLayer::any(["reports:read", "admin"]).unwrap()),
        )
        .layer(layer)
}

fn get_with(uri: &str, header: (&str, &str)) -> Request<Body> {
    Request::get(uri)
        .header(header.0, header.1)
        .body(Body::empty())
        .unwrap()
}

fn with_key(uri: &str, key: &str) -> Request<Body> {
    get_with(uri, ("x-api-key", key))
}

async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

async fn json_body(response: Response<Body>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// Asserts a problem+json refusal and returns its body.
async fn assert_refused(
    response: Response<Body>,
    reason: ApiKeyRejection,
    challenge: Option<&str>,
) -> Value {
    assert_eq!(response.status(), reason.status(), "{reason}");
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(
        headers.get("www-authenticate").map(|v| v.to_str().unwrap()),
        challenge,
        "{reason}"
    );
    assert_eq!(
        response.extensions().get::<ApiKeyRejection>(),
        Some(&reason)
    );
    assert_eq!(
        response.extensions().get::<Problem>().map(Problem::code),
        Some(reason.code())
    );
    let body = json_body(response).await;
    assert_eq!(body["code"], reason.code());
    assert_eq!(body["status"], reason.status().as_u16());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

const MISSING: &str = r#"Bearer realm="api""#;
const INVALID_TOKEN: &str = r#"Bearer realm="api", error="invalid_token""#;
const INVALID_REQUEST: &str = r#"Bearer realm="api", error="invalid_request""#;

#[tokio::test]
async fn a_valid_key_reaches_the_handler_with_its_context() {
    let fixture = Fixture::new();
    let (key, record) = fixture.issue("acme", &["invoices:read"]).await;
    let app = app(fixture.layer());
    for request in [
        with_key("/whoami", &key),
        get_with("/whoami", ("authorization", &format!("Bearer {key}"))),
    ] {
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            json_body(response).await,
            json!({
                "key_id": record.id.to_string(),
                "tenant": "acme",
                "plan": "pro",
                "scopes": ["invoices:read"],
                "team": "billing",
                "environment": "live",
            })
        );
    }
}

#[tokio::test]
async fn every_refusal_has_its_status_code_challenge_and_no_tenant_data() {
    let fixture = Fixture::new();
    let now = fixture.now();
    let (good, _) = fixture.issue("acme", &["invoices:read"]).await;
    let (revoked, _) = fixture
        .issue_with("acme", Environment::Live, |r| r.revoked_at = Some(now))
        .await;
    let (expired, _) = fixture
        .issue_with("acme", Environment::Live, |r| r.expires_at = Some(now))
        .await;
    // The last checksum character changed (to one it is not).
    let last = if good.ends_with('x') { 'y' } else { 'x' };
    let typo = format!("{}{last}", &good[..good.len() - 1]);
    let other_service = good.replacen("sk_", "pk_", 1);
    let unknown = fixture.unknown_key();
    let app = app(fixture.layer());

    let cases = [
        (
            Request::get("/whoami").body(Body::empty()).unwrap(),
            ApiKeyRejection::Missing,
            MISSING,
        ),
        (
            with_key("/whoami", &typo),
            ApiKeyRejection::Malformed,
            INVALID_TOKEN,
        ),
        (
            with_key("/whoami", &other_service),
            ApiKeyRejection::Malformed,
            INVALID_TOKEN,
        ),
        (
            with_key("/whoami", "hello"),
            ApiKeyRejection::Malformed,
            INVALID_TOKEN,
        ),
        (
            with_key("/whoami", &unknown),
            ApiKeyRejection::Invalid,
            INVALID_TOKEN,
        ),
        (
            with_key("/whoami", &revoked),
            ApiKeyRejection::Revoked,
            INVALID_TOKEN,
        ),
        (
            with_key("/whoami", &expired),
            ApiKeyRejection::Expired,
            INVALID_TOKEN,
        ),
        (
            Request::post("/invoices")
                .header("x-api-key", &good)
                .body(Body::empty())
                .unwrap(),
            ApiKeyRejection::InsufficientScope,
            r#"Bearer realm="api", error="insufficient_scope", scope="invoices:write""#,
        ),
    ];
    for (request, reason, challenge) in cases {
        let body = assert_refused(send(&app, request).await, reason, Some(challenge)).await;
        let text = body.to_string();
        assert!(!text.contains("acme") && !text.contains("key_"), "{text}");
    }

    // Every unknown key gets the same answer, whoever might hold it.
    let a = json_body(send(&app, with_key("/whoami", &fixture.unknown_key())).await).await;
    let b = json_body(send(&app, with_key("/whoami", &unknown)).await).await;
    assert_eq!(a, b);
    assert_eq!(a["detail"], "The API key is not valid.");
}

#[tokio::test]
async fn the_scope_refusal_names_the_required_scopes() {
    let fixture = Fixture::new();
    let (key, _) = fixture.issue("acme", &["invoices:read"]).await;
    let app = app(fixture.layer());
    let response = send(&app, with_key("/reports", &key)).await;
    let body = assert_refused(
        response,
        ApiKeyRejection::InsufficientScope,
        Some(r#"Bearer realm="api", error="insufficient_scope", scope="admin reports:read""#),
    )
    .await;
    assert_eq!(body["required_scopes"], json!(["admin", "reports:read"]));
    assert_eq!(
        body["detail"],
        "This request needs one of the scopes admin, reports:read."
    );
}

#[tokio::test]
async fn malformed_keys_cost_no_cache_or_store_access() {
    let fixture = Fixture::new();
    let (good, _) = fixture.issue("acme", &[]).await;
    let layer = fixture.layer();
    let cache = layer.key_cache().clone();
    let app = app(layer);
    let mut bad_checksum = good.clone();
    bad_checksum.replace_range(10..11, if &good[10..11] == "a" { "b" } else { "a" });
    for key in [
        bad_checksum.as_str(),
        "sk_live_short",
        "Bearer",
        "sk_prod_x",
    ] {
        let response = send(&app, with_key("/whoami", key)).await;
        assert_refused(response, ApiKeyRejection::Malformed, Some(INVALID_TOKEN)).await;
    }
    assert_eq!(fixture.store.lookups(), 0);
    assert_eq!(cache.entry_count(), 0);
}

#[tokio::test]
async fn malformed_header_values_get_a_clear_401_never_a_panic() {
    let fixture = Fixture::new();
    let (key, _) = fixture.issue("acme", &[]).await;
    let app = app(fixture.layer());
    let bearer = format!("Bearer {key}");
    let requests: Vec<(Request<Body>, &str)> = vec![
        (
            Request::get("/whoami")
                .header(
                    "x-api-key",
                    HeaderValue::from_bytes(b"sk_live_\xff\xfe").unwrap(),
                )
                .body(Body::empty())
                .unwrap(),
            "visible ASCII",
        ),
        (with_key("/whoami", ""), "empty"),
        (get_with("/whoami", ("authorization", "Bearer")), "no key"),
        (
            get_with("/whoami", ("authorization", "bearer   ")),
            "no key",
        ),
        (
            Request::get("/whoami")
                .header("x-api-key", &key)
                .header("x-api-key", &key)
                .body(Body::empty())
                .unwrap(),
            "more than one",
        ),
        (
            Request::get("/whoami")
                .header("x-api-key", &key)
                .header("authorization", &bearer)
                .body(Body::empty())
                .unwrap(),
            "more than one",
        ),
    ];
    for (request, detail) in requests {
        let body = assert_refused(
            send(&app, request).await,
            ApiKeyRejection::Malformed,
            Some(INVALID_REQUEST),
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains(detail), "{body}");
    }
    // Another scheme is not a key: missing, not malformed.
    let basic = get_with("/whoami", ("authorization", "Basic dXNlcjpwYXNz"));
    assert_refused(
        send(&app, basic).await,
        ApiKeyRejection::Missing,
        Some(MISSING),
    )
    .await;
    assert_eq!(fixture.store.lookups(), 0);
}

#[tokio::test]
async fn grpc_callers_get_grpc_statuses() {
    let fixture = Fixture::new();
    let (key, _) = fixture.issue("acme", &[]).await;
    let app = app(fixture.layer());
    let grpc = |uri: &str, key: Option<&str>| {
        let mut request = Request::post(uri).header("content-type", "application/grpc+proto");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        request.body(Body::empty()).unwrap()
    };
    let cases = [
        (grpc("/whoami", None), "16", ApiKeyRejection::Missing),
        (
            grpc("/whoami", Some("sk_live_typo")),
            "16",
            ApiKeyRejection::Malformed,
        ),
        (
            grpc("/invoices", Some(&key)),
            "7",
            ApiKeyRejection::InsufficientScope,
        ),
    ];
    for (request, status, reason) in cases {
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], status);
        assert_eq!(response.headers()["content-type"], "application/grpc");
        assert!(response.headers().contains_key("grpc-message"));
        assert_eq!(
            response.extensions().get::<ApiKeyRejection>(),
            Some(&reason)
        );
    }
    fixture.store.fail(true);
    let response = send(&app, grpc("/whoami", Some(&fixture.unknown_key()))).await;
    assert_eq!(response.headers()["grpc-status"], "14");
}

#[tokio::test]
async fn the_query_string_is_ignored_unless_enabled() {
    let fixture = Fixture::new();
    let (key, _) = fixture.issue("acme", &[]).await;
    let uri = format!("/whoami?limit=3&api_key={key}");
    let request = || Request::get(&uri).body(Body::empty()).unwrap();

    let off = app(fixture.layer());
    assert_refused(
        send(&off, request()).await,
        ApiKeyRejection::Missing,
        Some(MISSING),
    )
    .await;

    let on = app(fixture.layer().insecure_query_parameter("api_key").unwrap());
    assert_eq!(send(&on, request()).await.status(), StatusCode::OK);
    // The header and the query at once: two keys.
    let both = Request::get(&uri)
        .header("x-api-key", &key)
        .body(Body::empty())
        .unwrap();
    assert_refused(
        send(&on, both).await,
        ApiKeyRejection::Malformed,
        Some(INVALID_REQUEST),
    )
    .await;
    let missing = assert_refused(
        send(&on, Request::get("/whoami").body(Body::empty()).unwrap()).await,
        ApiKeyRejection::Missing,
        Some(MISSING),
    )
    .await;
    assert_eq!(
        missing["detail"],
        "Send an API key in the x-api-key header or an Authorization: Bearer header or the api_key query parameter."
    );
}

#[tokio::test]
async fn scopes_are_required_per_route() {
    let fixture = Fixture::new();
    let (reader, _) = fixture.issue("acme", &["invoices:read"]).await;
    let (writer, _) = fixture
        .issue("acme", &["invoices:read", "invoices:write"])
        .await;
    let (admin, _) = fixture.issue("acme", &["admin"]).await;
    let app = app(fixture.layer());
    let post = |key: &str| {
        Request::post("/invoices")
            .header("x-api-key", key)
            .body(Body::empty())
            .unwrap()
    };
    let expectations = [
        (with_key("/invoices", &reader), StatusCode::OK),
        (post(&reader), StatusCode::FORBIDDEN),
        (post(&writer), StatusCode::OK),
        (with_key("/reports", &reader), StatusCode::FORBIDDEN),
        (with_key("/reports", &admin), StatusCode::OK),
        (with_key("/invoices", &admin), StatusCode::FORBIDDEN),
        (with_key("/whoami", &admin), StatusCode::OK),
    ];
    for (request, status) in expectations {
        let description = format!("{} {}", request.method(), request.uri());
        assert_eq!(send(&app, request).await.status(), status, "{description}");
    }
}

#[tokio::test]
async fn layer_wide_scopes_apply_to_every_route_with_the_layers_realm() {
    let fixture = Fixture::new();
    let (plain, _) = fixture.issue("acme", &["invoices:read"]).await;
    let (api, _) = fixture.issue("acme", &["api", "invoices:read"]).await;
    let layer = fixture
        .layer()
        .realm("billing")
        .unwrap()
        .require_scopes(["api"])
        .unwrap();
    let app = app(layer);
    assert_refused(
        send(&app, with_key("/whoami", &plain)).await,
        ApiKeyRejection::InsufficientScope,
        Some(r#"Bearer realm="billing", error="insufficient_scope", scope="api""#),
    )
    .await;
    assert_eq!(
        send(&app, with_key("/whoami", &api)).await.status(),
        StatusCode::OK
    );
    // A route's own requirement answers with the realm of the layer in front.
    assert_refused(
        send(&app, with_key("/reports", &api)).await,
        ApiKeyRejection::InsufficientScope,
        Some(r#"Bearer realm="billing", error="insufficient_scope", scope="admin reports:read""#),
    )
    .await;
}

#[tokio::test]
async fn the_environment_policy_of_each_preset() {
    let fixture = Fixture::new();
    let (live, _) = fixture.issue_with("acme", Environment::Live, |_| {}).await;
    let (test, _) = fixture.issue_with("acme", Environment::Test, |_| {}).await;
    let presets = [
        (
            ApiKeyLayer::new(fixture.store.clone(), fixture.hasher.clone()),
            true,
            true,
        ),
        (
            ApiKeyLayer::strict(fixture.store.clone(), fixture.hasher.clone()),
            true,
            false,
        ),
        (
            ApiKeyLayer::development(fixture.store.clone(), fixture.hasher.clone()),
            false,
            true,
        ),
    ];
    for (layer, accepts_live, accepts_test) in presets {
        let app = Router::new()
            .route("/whoami", get(whoami_environment))
            .layer(layer);
        for (key, accepted, environment) in
            [(&live, accepts_live, "live"), (&test, accepts_test, "test")]
        {
            let response = send(&app, with_key("/whoami", key)).await;
            if accepted {
                assert_eq!(response.status(), StatusCode::OK);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(body, environment);
            } else {
                let body =
                    assert_refused(response, ApiKeyRejection::Invalid, Some(INVALID_TOKEN)).await;
                assert!(body["detail"].as_str().unwrap().contains("keys only"));
            }
        }
    }
    // Refused environments never reach the store; each accepted key is looked up
    // once per preset.
    assert_eq!(fixture.store.lookups(), 4);
}

async fn whoami_environment(Extension(key): Extension<ApiKeyContext>) -> &'static str {
    key.environment().as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_with_a_new_key_make_one_store_lookup() {
    let fixture = Fixture::with_store(Store::delayed(Duration::from_millis(100)));
    let (key, _) = fixture.issue("acme", &[]).await;
    let unknown = fixture.unknown_key();
    let app = app(fixture.layer());
    for (key, status) in [(&key, StatusCode::OK), (&unknown, StatusCode::UNAUTHORIZED)] {
        let before = fixture.store.lookups();
        let tasks: Vec<_> = (0..1_000)
            .map(|_| {
                let (app, request) = (app.clone(), with_key("/whoami", key));
                tokio::spawn(async move { app.oneshot(request).await.unwrap().status() })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), status);
        }
        assert_eq!(fixture.store.lookups() - before, 1);
    }
}

#[tokio::test]
async fn an_unknown_key_is_looked_up_once_within_the_negative_ttl() {
    let fixture = Fixture::new();
    let unknown = fixture.unknown_key();
    let app = app(fixture.layer());
    for _ in 0..2 {
        let response = send(&app, with_key("/whoami", &unknown)).await;
        assert_refused(response, ApiKeyRejection::Invalid, Some(INVALID_TOKEN)).await;
    }
    assert_eq!(fixture.store.lookups(), 1);
    fixture.clock.advance(Duration::from_secs(5));
    send(&app, with_key("/whoami", &unknown)).await;
    assert_eq!(fixture.store.lookups(), 2);
}

#[tokio::test]
async fn a_key_created_after_a_negative_entry_works_once_invalidated() {
    let fixture = Fixture::new();
    let key = KeyFormat::default().generate();
    let layer = fixture.layer();
    let cache = layer.key_cache().clone();
    let app = app(layer);
    let request = || with_key("/whoami", key.expose_secret());
    assert_eq!(
        send(&app, request()).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let hash = fixture.hasher.hash(&key.parsed());
    let record = KeyRecord::new(
        KeyId::generate(),
        TenantId::new("acme"),
        hash,
        key.masked(),
        fixture.now(),
    );
    fixture.store.insert(&record).await.unwrap();
    // Still the negative entry …
    assert_eq!(
        send(&app, request()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // … until the creation is published.
    cache.invalidate(&Invalidation::new(record.id, hash));
    assert_eq!(send(&app, request()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_invalidation_makes_a_revoked_key_fail_on_the_next_request() {
    let fixture = Fixture::new();
    let (key, record) = fixture.issue("acme", &[]).await;
    let layer = fixture.layer();
    let cache = layer.key_cache().clone();
    let app = app(layer);
    assert_eq!(
        send(&app, with_key("/whoami", &key)).await.status(),
        StatusCode::OK
    );

    fixture
        .store
        .revoke(&record.id, fixture.now())
        .await
        .unwrap();
    // The cache still holds the record as it was: that is what invalidation is for.
    assert_eq!(
        send(&app, with_key("/whoami", &key)).await.status(),
        StatusCode::OK
    );
    cache.invalidate(&Invalidation::new(record.id, record.hash));
    let response = send(&app, with_key("/whoami", &key)).await;
    assert_refused(response, ApiKeyRejection::Revoked, Some(INVALID_TOKEN)).await;
    assert_eq!(fixture.store.lookups(), 2);
}

#[tokio::test]
async fn without_invalidation_a_revocation_shows_after_the_positive_ttl() {
    let fixture = Fixture::new();
    let (key, record) = fixture.issue("acme", &[]).await;
    let app = app(fixture.layer());
    assert_eq!(
        send(&app, with_key("/whoami", &key)).await.status(),
        StatusCode::OK
    );
    fixture
        .store
        .revoke(&record.id, fixture.now())
        .await
        .unwrap();
    fixture.clock.advance(Duration::from_secs(29));
    assert_eq!(
        send(&app, with_key("/whoami", &key)).await.status(),
        StatusCode::OK
    );
    fixture.clock.advance(Duration::from_secs(1));
    let response = send(&app, with_key("/whoami", &key)).await;
    assert_refused(response, ApiKeyRejection::Revoked, Some(INVALID_TOKEN)).await;
}

#[tokio::test]
async fn an_expired_key_is_refused_even_when_cached() {
    let fixture = Fixture::new();
    let expires_at = fixture.now().saturating_add(Duration::from_secs(10));
    let (key, _) = fixture
        .issue_with("acme", Environment::Live, |r| {
            r.expires_at = Some(expires_at)
        })
        .await;
    let app = app(fixture.layer());
    assert_eq!(
        send(&app, with_key("/whoami", &key)).await.status(),
        StatusCode::OK
    );
    fixture.clock.advance(Duration::from_secs(10));
    let response = send(&app, with_key("/whoami", &key)).await;
    assert_refused(response, ApiKeyRejection::Expired, Some(INVALID_TOKEN)).await;
    // Decided from the cached record: the store was asked once.
    assert_eq!(fixture.store.lookups(), 1);
}

#[tokio::test]
async fn a_failing_store_answers_503_and_is_not_cached() {
    let fixture = Fixture::new();
    let (key, _) = fixture.issue("acme", &[]).await;
    let app = app(fixture.layer());
    fixture.store.fail(true);
    let response = send(&app, with_key("/whoami", &key)).await;
    let body = assert_refused(response, ApiKeyRejection::Unavailable, None).await;
    assert_eq!(body["status"], 503);
    fixture.store.fail(false);
    assert_eq!(
        send(&app, with_key("/whoami", &key)).await.status(),
        StatusCode::OK
    );
    assert_eq!(fixture.store.lookups(), 2);
}

#[tokio::test]
async fn uses_are_reported_for_accepted_keys_only() {
    let fixture = Fixture::new();
    let now = fixture.now();
    let (key, record) = fixture.issue("acme", &["invoices:read"]).await;
    let (revoked, _) = fixture
        .issue_with("acme", Environment::Live, |r| r.revoked_at = Some(now))
        .await;
    let uses = Arc::new(Uses::default());
    let app = app(fixture.layer().usage_recorder(uses.clone()));
    send(&app, with_key("/whoami", &key)).await; // a miss
    send(&app, with_key("/whoami", &key)).await; // a hit
    send(&app, with_key("/whoami", &revoked)).await;
    send(&app, with_key("/whoami", &fixture.unknown_key())).await;
    assert_eq!(
        *uses.0.lock().unwrap(),
        [(record.id, now), (record.id, now)]
    );
}

#[tokio::test]
async fn clones_of_a_layer_share_one_cache() {
    let fixture = Fixture::new();
    let (key, _) = fixture.issue("acme", &[]).await;
    let layer = fixture.layer();
    let first = app(layer.clone());
    let second = app(layer);
    send(&first, with_key("/whoami", &key)).await;
    send(&second, with_key("/whoami", &key)).await;
    assert_eq!(fixture.store.lookups(), 1);
}

#[cfg(feature = "axum")]
mod extractor {
    use super::*;

    async fn tenant(key: ApiKeyContext) -> String {
        key.tenant().to_string()
    }

    async fn maybe(key: Option<ApiKeyContext>) -> String {
        key.map_or_else(|| "anonymous".to_owned(), |key| key.key_id().to_string())
    }

    #[tokio::test]
    async fn the_context_extractor_reads_the_verified_key() {
        let fixture = Fixture::new();
        let (key, record) = fixture.issue("acme", &[]).await;
        let app = Router::new()
            .route("/tenant", get(tenant))
            .route("/maybe", get(maybe))
            .layer(fixture.layer());
        let response = send(&app, with_key("/tenant", &key)).await;
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "acme");
        let response = send(&app, with_key("/maybe", &key)).await;
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, record.id.to_string());
    }

    #[tokio::test]
    async fn without_the_layer_the_extractor_fails_closed() {
        let app = Router::new()
            .route("/tenant", get(tenant))
            .route("/maybe", get(maybe));
        let response = send(&app, Request::get("/tenant").body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(json_body(response).await["code"], "API_KEY_CONTEXT_MISSING");
        let response = send(&app, Request::get("/maybe").body(Body::empty()).unwrap()).await;
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "anonymous");
    }
}

#[cfg(feature = "rate-limit")]
mod rate_limit {
    use super::*;
    use portcullis_rate_limit::layer::RateLimitLayer;

    #[tokio::test]
    async fn the_rate_limiter_behind_limits_by_tenant() {
        let fixture = Fixture::new();
        let issue = |tenant: &'static str| {
            fixture.issue_with(tenant, Environment::Live, |record| record.plan = None)
        };
        let (a, _) = issue("acme").await;
        let (b, _) = issue("acme").await;
        let (other, _) = issue("globex").await;
        let app = Router::new()
            .route("/whoami", get(|| async { "ok" }))
            .layer(RateLimitLayer::multi_tenant())
            .layer(fixture.layer());

        // The free plan allows 10 requests a minute; acme's two keys share them.
        let mut allowed = 0;
        for i in 0..30 {
            let key = if i % 2 == 0 { &a } else { &b };
            let response = send(&app, with_key("/whoami", key)).await;
            match response.status() {
                StatusCode::OK => allowed += 1,
                StatusCode::TOO_MANY_REQUESTS => break,
                status => panic!("unexpected {status}"),
            }
        }
        assert_eq!(allowed, 10);
        for key in [&a, &b] {
            let response = send(&app, with_key("/whoami", key)).await;
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        // Another tenant has its own quota.
        let response = send(&app, with_key("/whoami", &other)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn the_keys_plan_picks_the_rate_limit_plan() {
        let fixture = Fixture::new();
        let (pro, _) = fixture.issue("acme", &[]).await; // plan "pro"
        let (free, _) = fixture
            .issue_with("globex", Environment::Live, |record| record.plan = None)
            .await;
        let app = Router::new()
            .route("/whoami", get(|| async { "ok" }))
            .layer(RateLimitLayer::multi_tenant())
            .layer(fixture.layer());
        let policy = |response: &Response<Body>| {
            response.headers()["ratelimit-policy"]
                .to_str()
                .unwrap()
                .to_owned()
        };
        let response = send(&app, with_key("/whoami", &pro)).await;
        assert!(policy(&response).contains("q=300"), "{}", policy(&response));
        let response = send(&app, with_key("/whoami", &free)).await;
        assert!(policy(&response).contains("q=10;"), "{}", policy(&response));
    }
}
