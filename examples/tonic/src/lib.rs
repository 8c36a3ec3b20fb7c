//! Portcullis in front of a tonic gRPC service.
//!
//! The Portcullis layers are plain Tower layers, so they go around tonic's
//! [`Routes`] like any other, with a [`ServiceBuilder`]; the result is served over
//! HTTP/2 by [`portcullis_core::serve::Server`], which drops idle and slow
//! connections, caps them, and ends a shutdown within a deadline (tonic's own
//! `Server` has no idle timeout, no connection cap and waits for every call at
//! shutdown). Every call goes through, outermost first:
//!
//! 1. [`ApiKeyLayer::development`]: an `sk_test_…` key from the `x-api-key` (or
//!    `authorization: Bearer …`) metadata, which gRPC carries as HTTP/2 headers. A
//!    call without a valid key gets `UNAUTHENTICATED`.
//! 2. [`RateLimitLayer::multi_tenant`]: per tenant, by the plan of its key (free: 10
//!    calls a minute and 100 a day; starter: 60 and 1,000; pro: 300 and 10,000). A call
//!    over a quota gets `RESOURCE_EXHAUSTED`, with `retry-after` in its metadata.
//! 3. The `portcullis.example.v1.Quotes` service ([`proto`]), whose handler reads the
//!    verified key's [`ApiKeyContext`] from the request extensions.
//!
//! The layers see `content-type: application/grpc` and answer refusals the way gRPC
//! clients read them: HTTP 200, trailers-only, with `grpc-status` and `grpc-message`
//! headers (see `portcullis_core::grpc`). Nothing had to be adapted: the layers
//! wrap tonic's response body in their own
//! [`ResponseBody`](portcullis_core::body::ResponseBody), and tonic's server takes
//! any response body of `Bytes` whose error converts into a boxed error.
//!
//! # Example
//!
//! ```no_run
//! use portcullis_api_keys::{id::TenantId, lifecycle::NewKey};
//! use tonic_example::App;
//! use tonic_example::proto::{GetQuoteRequest, QuotesClient};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = App::new();
//! let key = app.keys().create(NewKey::new(TenantId::new("acme")).plan("pro")).await?;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
//! tokio::spawn(app.serve(listener, std::future::pending()));
//!
//! let mut client = QuotesClient::connect("http://127.0.0.1:50051").await?;
//! let mut request = tonic::Request::new(GetQuoteRequest { product: "invoices".into() });
//! request.metadata_mut().insert("x-api-key", key.key.expose_secret().parse()?);
//! let quote = client.get_quote(request).await?.into_inner();
//! assert_eq!(quote.tenant, "acme");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod proto;

use std::future::Future;
use std::sync::Arc;

use portcullis_api_keys::format::{Environment, KeyFormat};
use portcullis_api_keys::hash::KeyHasher;
use portcullis_api_keys::layer::{ApiKeyContext, ApiKeyLayer};
use portcullis_api_keys::lifecycle::KeyLifecycle;
use portcullis_api_keys::store::memory::MemoryKeyStore;
use portcullis_core::clock::{Clock, SystemClock};
use portcullis_core::serve::{Server, Stopped};
use portcullis_rate_limit::layer::RateLimitLayer;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tower::{ServiceBuilder, service_fn};

use crate::proto::{GetQuoteRequest, Quote, QuotesServer};

/// Connections served at once: under the usual 1,024 file-descriptor limit.
const MAX_CONNECTIONS: usize = 512;

/// The layers of the example gRPC server and the key management behind them. Cheap
/// to clone: every clone shares the key store, the cache and the rate-limit state.
#[derive(Clone, Debug)]
pub struct App {
    keys: KeyLifecycle<MemoryKeyStore>,
    api_keys: ApiKeyLayer<MemoryKeyStore>,
    rate_limit: RateLimitLayer,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// The example server on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock)
    }

    /// The example server on `clock`, for the rate limiter, key verification and key
    /// management alike: tests pass a
    /// [`ManualClock`](portcullis_core::clock::ManualClock) so quotas never refill
    /// behind their back.
    pub fn with_clock(clock: impl Clock + Clone) -> Self {
        // A real deployment hashes with `KeyHasher::hmac_sha256` and a pepper from its
        // secret store; the keys of this example live only as long as the process.
        let hasher = KeyHasher::sha256();
        let store = MemoryKeyStore::new();
        let api_keys = ApiKeyLayer::development(store.clone(), hasher.clone()).clock(clock.clone());
        let keys = KeyLifecycle::new(
            store,
            KeyFormat::default().environment(Environment::Test),
            hasher,
        )
        .clock(clock.clone())
        // Revocations and changes drop the key from the verification cache at once.
        .sink(Arc::new(api_keys.key_cache().clone()));
        Self {
            keys,
            api_keys,
            rate_limit: RateLimitLayer::multi_tenant().clock(clock),
        }
    }

    /// Key management: create, list, revoke and rotate the keys this server accepts.
    pub fn keys(&self) -> &KeyLifecycle<MemoryKeyStore> {
        &self.keys
    }

    /// Serves the `Quotes` service over HTTP/2 on `listener`, behind the API-key and
    /// rate-limit layers, until `shutdown` completes; then calls in flight get 20
    /// seconds before their connections are dropped. At most 512 connections at
    /// once; one with no call in flight is closed after 60 seconds.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Stopped {
        let routes = Routes::new(QuotesServer::new(service_fn(get_quote))).prepare();
        let service = ServiceBuilder::new()
            .layer(self.api_keys)
            .layer(self.rate_limit)
            .service(routes);
        Server::new(MAX_CONNECTIONS)
            .serve(listener, service, shutdown)
            .await
    }
}

/// `GetQuote`: a price for the calling tenant.
async fn get_quote(request: Request<GetQuoteRequest>) -> Result<Response<Quote>, Status> {
    // The API-key layer verified the key and left its context in the extensions.
    let (tenant, plan) = request
        .extensions()
        .get::<ApiKeyContext>()
        .map(|key| {
            let plan = key.plan().unwrap_or("free");
            (key.tenant().as_str().to_owned(), plan.to_owned())
        })
        .ok_or_else(|| Status::unauthenticated("no verified API key"))?;
    let product = request.into_inner().product;
    if product.is_empty() {
        return Err(Status::invalid_argument("product is required"));
    }
    Ok(Response::new(Quote {
        tenant,
        plan,
        product,
        currency: "EUR".to_owned(),
        amount_cents: 4_200,
    }))
}
