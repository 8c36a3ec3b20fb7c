//! [`ApiKey`]: the verifying service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use portcullis_core::body::ResponseBody;
use portcullis_core::grpc::is_grpc_request;
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::{ApiKeyLayer, Shared, admit};
use super::source::{Extracted, extract};
use crate::hash::KeyHasher;
use crate::store::KeyStore;
use crate::timestamp::Timestamp;

/// Verifies the API key of each request to an inner service; built by
/// [`ApiKeyLayer`].
pub struct ApiKey<S, St> {
    inner: S,
    shared: Arc<Shared<St>>,
}

impl<S: Clone, St> Clone for ApiKey<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, St: fmt::Debug> fmt::Debug for ApiKey<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, St: KeyStore> ApiKey<S, St> {
    /// The layer with the default configuration, [`ApiKeyLayer::new`].
    pub fn layer(store: St, hasher: KeyHasher) -> ApiKeyLayer<St> {
        ApiKeyLayer::new(store, hasher)
    }
}

impl<S, St> ApiKey<S, St> {
    /// Verifies keys in front of `inner` as `layer` says, sharing the layer's state.
    pub fn new(inner: S, layer: ApiKeyLayer<St>) -> Self {
        Self::from_shared(inner, layer.shared)
    }

    pub(crate) fn from_shared(inner: S, shared: Arc<Shared<St>>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, St, ReqBody, ResBody> Service<Request<ReqBody>> for ApiKey<S, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    St: KeyStore,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let config = &self.shared.config;
        let grpc = is_grpc_request(request.headers());
        let key = match extract(
            &config.sources,
            config.query.as_deref(),
            request.headers(),
            request.uri(),
        ) {
            Extracted::Key(key) => key,
            Extracted::Missing => return ResponseFuture::refused(config.missing(), grpc),
            Extracted::Unreadable(unreadable) => {
                return ResponseFuture::refused(config.unreadable(unreadable), grpc);
            }
        };
        // Format and checksum first: a typo or a guess costs neither cache nor store.
        let parsed = match config.format.parse(key) {
            Ok(parsed) => parsed,
            Err(error) => return ResponseFuture::refused(config.malformed(error), grpc),
        };
        let environment = parsed.environment();
        if !config.environments.accepts(environment) {
            return ResponseFuture::refused(config.wrong_environment(environment), grpc);
        }
        let hash = config.hasher.hash(&parsed);
        let now = Timestamp::now(&*config.clock);

        // A cache hit is decided right here: no future of our own, no box.
        if let Some(cached) = config.cache.get(&hash, now) {
            return match config.judge(cached.into_record(), environment, now) {
                Ok(context) => {
                    admit(&mut request, context);
                    ResponseFuture::calling(self.inner.call(request))
                }
                Err(refusal) => ResponseFuture::refused(refusal, grpc),
            };
        }

        // A miss waits for the store. `KeyStore::get_by_hash` returns an
        // `impl Future` and the cache's single-flight load is an `async fn`: neither
        // type can be named in `ResponseFuture`, so this future is boxed, once per
        // miss (a store round trip costs far more than the allocation).
        let shared = Arc::clone(&self.shared);
        let verifying = Box::pin(async move {
            let config = &shared.config;
            match config.cache.get_or_load(&*shared.store, &hash, now).await {
                Ok(record) => config.judge(record, environment, now),
                Err(error) => Err(config.unavailable(&error)),
            }
        });
        // The ready service goes into the future; its clone serves the next call
        // (tower-service docs, "Be careful when cloning inner services").
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::verifying(verifying, request, inner, grpc)
    }
}
