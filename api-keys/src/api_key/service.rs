//! [`ApiKey`]: the verifying service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use portcullis_core::body::ResponseBody;
use portcullis_core::grpc::is_grpc_request;
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::{ApiKeyLayer, Shared};
use super::verdict::admit;
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

    portcullis_core::define_inner_service_accessors!();
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
        // Asked once: every refusal of this request answers in the caller's protocol.
        let grpc = is_grpc_request(request.headers());
        let (hash, environment) = match config.read(&request) {
            Ok(read) => read,
            Err(refusal) => return ResponseFuture::refused(refusal, grpc),
        };
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
