//! [`ApiKeyLayer`]: the builder, its presets, and the Tower layer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::clock::Clock;
use tower_layer::Layer;

use super::challenge::{Challenges, is_valid_realm};
use super::config::{ApiKeyConfig, ApiKeyPreset, LayerConfigError, is_valid_query_parameter};
use super::environment::EnvironmentPolicy;
use super::requirement::Requirement;
use super::service::ApiKey;
use super::source::KeySource;
use super::verdict::Config;
use crate::cache::{KeyCache, KeyCacheConfig};
use crate::format::KeyFormat;
use crate::hash::KeyHasher;
use crate::invalidation::UsageRecorder;
use crate::scopes::Scopes;
use crate::store::KeyStore;

/// The state every clone of a layer and its services share.
pub(crate) struct Shared<St> {
    pub(crate) store: Arc<St>,
    pub(crate) config: Config,
}

impl<St> Clone for Shared<St> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            config: self.config.clone(),
        }
    }
}

impl<St: fmt::Debug> fmt::Debug for Shared<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish()
    }
}

/// Verifies the API key of every request, then passes it on with an
/// [`ApiKeyContext`](super::ApiKeyContext), or answers 401, 403 or 503 itself; see the
/// [module docs](super). The layer is also the builder.
///
/// Fallible setters return `Result<Self, LayerConfigError>`, so an invalid
/// configuration never reaches a request. Every clone of the layer, and every service
/// made from it, shares one state behind an [`Arc`]: the store, the
/// [cache](Self::key_cache) and the configuration.
///
/// | preset | environments | key sources | positive TTL | negative TTL |
/// |---|---|---|---|---|
/// | [`new`](Self::new) | live and test | `X-API-Key`, `Authorization: Bearer` | 30 s | 5 s |
/// | [`strict`](Self::strict) | live | `X-API-Key`, `Authorization: Bearer` | 10 s | 5 s |
/// | [`development`](Self::development) | test | `X-API-Key`, `Authorization: Bearer` | 1 s | off |
///
/// Every preset: the default [`KeyFormat`] (`sk_…`), realm `api`, no query string,
/// no required scopes, 10,000 known and 10,000 unknown keys cached.
pub struct ApiKeyLayer<St> {
    pub(crate) shared: Arc<Shared<St>>,
}

impl<St> Clone for ApiKeyLayer<St> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<St: fmt::Debug> fmt::Debug for ApiKeyLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayer")
            .field("shared", &self.shared)
            .finish()
    }
}

impl<St: KeyStore> ApiKeyLayer<St> {
    /// Verifies keys of both environments (handlers read
    /// [`ApiKeyContext::environment`](super::ApiKeyContext::environment) to keep test keys on sandbox data) from
    /// `X-API-Key` or `Authorization: Bearer`, against `store`, hashing them with
    /// `hasher` (the hasher the keys were stored with). Caches known keys for 30 s and
    /// unknown ones for 5 s.
    pub fn new(store: St, hasher: KeyHasher) -> Self {
        Self::preset(
            store,
            hasher,
            EnvironmentPolicy::Both,
            KeyCacheConfig::default(),
        )
    }

    /// For production: `live` keys only, and known keys cached for 10 s, so that a
    /// revocation takes effect within 10 s even while the invalidation channel is
    /// down.
    ///
    /// ```
    /// use portcullis_api_keys::{hash::KeyHasher, api_key::ApiKeyLayer};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// let layer = ApiKeyLayer::strict(MemoryKeyStore::new(), KeyHasher::sha256());
    /// assert_eq!(layer.key_cache().config().positive_ttl.as_secs(), 10);
    /// ```
    pub fn strict(store: St, hasher: KeyHasher) -> Self {
        let cache = KeyCacheConfig::default().positive_ttl(Duration::from_secs(10));
        Self::preset(store, hasher, EnvironmentPolicy::LiveOnly, cache)
    }

    /// For development and sandbox deployments: `test` keys only (a live key never
    /// works there), known keys cached for 1 s and unknown keys not at all, so keys
    /// created or revoked while developing work (or stop working) at once.
    ///
    /// ```
    /// use portcullis_api_keys::{hash::KeyHasher, api_key::ApiKeyLayer};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// let layer = ApiKeyLayer::development(MemoryKeyStore::new(), KeyHasher::sha256());
    /// assert!(layer.key_cache().config().negative_ttl.is_zero());
    /// ```
    pub fn development(store: St, hasher: KeyHasher) -> Self {
        let cache = KeyCacheConfig::default()
            .positive_ttl(Duration::from_secs(1))
            .negative_ttl(Duration::ZERO);
        Self::preset(store, hasher, EnvironmentPolicy::TestOnly, cache)
    }

    /// The layer an [`ApiKeyConfig`] (loaded from a file) describes: its preset with
    /// its fields set, each checked like its setter.
    pub fn from_config(
        store: St,
        hasher: KeyHasher,
        config: ApiKeyConfig,
    ) -> Result<Self, LayerConfigError> {
        let mut layer = match config.preset {
            ApiKeyPreset::Default => Self::new(store, hasher),
            ApiKeyPreset::Strict => Self::strict(store, hasher),
            ApiKeyPreset::Development => Self::development(store, hasher),
        };
        if let Some(format) = config.format {
            layer = layer.format(format);
        }
        if let Some(sources) = config.sources {
            layer = layer.sources(sources)?;
        }
        if let Some(parameter) = config.insecure_query_parameter {
            layer = layer.insecure_query_parameter(parameter)?;
        }
        if let Some(environments) = config.environments {
            layer = layer.environments(environments);
        }
        if let Some(realm) = config.realm {
            layer = layer.realm(realm)?;
        }
        if let Some(scopes) = config.required_scopes {
            layer = layer.require(scopes);
        }
        let mut cache = *layer.key_cache().config();
        if let Some(ttl) = config.positive_ttl {
            cache = cache.positive_ttl(ttl);
        }
        if let Some(ttl) = config.negative_ttl {
            cache = cache.negative_ttl(ttl);
        }
        if let Some(entries) = config.max_capacity {
            cache = cache.max_capacity(entries);
        }
        if let Some(entries) = config.max_unknown {
            cache = cache.max_unknown(entries);
        }
        if cache != *layer.key_cache().config() {
            layer = layer.cache_config(cache);
        }
        Ok(layer)
    }

    fn preset(
        store: St,
        hasher: KeyHasher,
        environments: EnvironmentPolicy,
        cache: KeyCacheConfig,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store: Arc::new(store),
                config: Config::new(hasher, environments, cache),
            }),
        }
    }
}

impl<St> ApiKeyLayer<St> {
    /// The configuration, to change: the layer's own when no clone shares it, a copy
    /// otherwise (`Arc::make_mut`), so a clone made earlier keeps what it had.
    fn config_mut(&mut self) -> &mut Config {
        &mut Arc::make_mut(&mut self.shared).config
    }

    /// The format keys must have (the default [`KeyFormat`], `sk_…`, unless set):
    /// keys of another prefix or size are refused as malformed before any lookup.
    #[must_use]
    pub fn format(mut self, format: KeyFormat) -> Self {
        self.config_mut().format = format;
        self
    }

    /// Where requests carry their key (`X-API-Key` and `Authorization: Bearer` unless
    /// set), replacing the list. Duplicates are dropped; an empty list is a
    /// [`LayerConfigError::NoSources`]. A request carrying keys in two places is
    /// refused, as [RFC 6750 §2](https://www.rfc-editor.org/rfc/rfc6750#section-2)
    /// asks.
    ///
    /// ```
    /// use http::HeaderName;
    /// use portcullis_api_keys::{hash::KeyHasher, api_key::{ApiKeyLayer, KeySource}};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// let layer = ApiKeyLayer::new(MemoryKeyStore::new(), KeyHasher::sha256())
    ///     .sources([KeySource::Header(HeaderName::from_static("x-acme-key"))])?;
    /// assert!(ApiKeyLayer::new(MemoryKeyStore::new(), KeyHasher::sha256()).sources([]).is_err());
    /// # Ok::<(), portcullis_api_keys::api_key::LayerConfigError>(())
    /// ```
    pub fn sources(
        mut self,
        sources: impl IntoIterator<Item = KeySource>,
    ) -> Result<Self, LayerConfigError> {
        let mut unique: Vec<KeySource> = Vec::new();
        for source in sources {
            if !unique.contains(&source) {
                unique.push(source);
            }
        }
        if unique.is_empty() {
            return Err(LayerConfigError::NoSources);
        }
        let config = self.config_mut();
        config.sources = unique;
        config.describe_sources();
        Ok(self)
    }

    /// Also reads the key from the query parameter `name` (`?api_key=sk_live_…`).
    /// Off by default, and insecure: URLs end up in access logs, proxy logs, browser
    /// history and `Referer` headers, and a key there is as good as leaked
    /// ([RFC 6750 §2.3](https://www.rfc-editor.org/rfc/rfc6750#section-2.3): "SHOULD
    /// NOT be used"). Use it only for clients that cannot set a header (a link, an
    /// `EventSource`). The name
    /// is 1 to 64 characters among `A-Z a-z 0-9 - _ .`; the value is read as is, not
    /// percent-decoded (keys need no escaping).
    pub fn insecure_query_parameter(
        mut self,
        name: impl Into<String>,
    ) -> Result<Self, LayerConfigError> {
        let name = name.into();
        if !is_valid_query_parameter(&name) {
            return Err(LayerConfigError::QueryParameter { name });
        }
        let config = self.config_mut();
        config.query = Some(name.into());
        config.describe_sources();
        Ok(self)
    }

    /// Which environments' keys are accepted.
    #[must_use]
    pub fn environments(mut self, environments: EnvironmentPolicy) -> Self {
        self.config_mut().environments = environments;
        self
    }

    /// The realm of the `WWW-Authenticate` challenges
    /// ([RFC 7235 §2.2](https://www.rfc-editor.org/rfc/rfc7235#section-2.2)), `api`
    /// unless set: 1 to 128 visible ASCII characters or spaces, without `"` or `\`.
    /// Scope refusals of a [`RequireScopesLayer`](super::RequireScopesLayer) further in
    /// use it too.
    pub fn realm(mut self, realm: impl Into<String>) -> Result<Self, LayerConfigError> {
        let realm = realm.into();
        if !is_valid_realm(&realm) {
            return Err(LayerConfigError::Realm { realm });
        }
        let config = self.config_mut();
        config.challenges = Challenges::new(&realm);
        if let Some((required, challenge)) = &mut config.required {
            *challenge = required.challenge(&realm);
        }
        config.realm = Arc::from(realm);
        Ok(self)
    }

    /// Scopes every request's key must have, on every route (per-route scopes:
    /// [`RequireScopesLayer`](super::RequireScopesLayer)). A key without them is
    /// refused with `403 INSUFFICIENT_SCOPE`.
    ///
    /// ```
    /// use portcullis_api_keys::{hash::KeyHasher, api_key::ApiKeyLayer};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// let layer = ApiKeyLayer::new(MemoryKeyStore::new(), KeyHasher::sha256()).require_scopes(["api"])?;
    /// assert!(ApiKeyLayer::new(MemoryKeyStore::new(), KeyHasher::sha256()).require_scopes(["a b"]).is_err());
    /// # Ok::<(), portcullis_api_keys::api_key::LayerConfigError>(())
    /// ```
    pub fn require_scopes<I>(self, scopes: I) -> Result<Self, LayerConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Ok(self.require(Scopes::new(scopes)?))
    }

    fn require(mut self, scopes: Scopes) -> Self {
        let config = self.config_mut();
        config.required = (!scopes.is_empty()).then(|| {
            let required = Arc::new(Requirement::new(scopes, false));
            let challenge = required.challenge(&config.realm);
            (required, challenge)
        });
        self
    }

    /// Caches in `cache`: a cache made beforehand, whose clone an invalidation channel
    /// holds, or one shared by several layers over the same store.
    #[must_use]
    pub fn cache(mut self, cache: KeyCache) -> Self {
        self.config_mut().cache = cache;
        self
    }

    /// Caches in a new cache with these TTLs and capacities; see
    /// [`crate::cache`].
    #[must_use]
    pub fn cache_config(self, config: KeyCacheConfig) -> Self {
        self.cache(KeyCache::new(config))
    }

    /// Reads time from `clock` (a [`ManualClock`](portcullis_core::clock::ManualClock)
    /// in tests): expiry and revocation times, cache TTLs, reported uses.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        self.config_mut().clock = clock;
        self
    }

    /// Reports every accepted request's key and time to `recorder`, without waiting:
    /// it coalesces them into batched writes of `last_used_at`.
    #[must_use]
    pub fn usage_recorder(mut self, recorder: Arc<dyn UsageRecorder>) -> Self {
        self.config_mut().recorder = Some(recorder);
        self
    }

    /// The cache, to hand a clone to an invalidation channel (it is an
    /// [`InvalidationSink`](crate::invalidation::InvalidationSink)) or to drop a key
    /// from it after changing the key on this instance.
    pub fn key_cache(&self) -> &KeyCache {
        &self.shared.config.cache
    }

    /// Whether a request with these headers and URI would be admitted on a cache hit
    /// alone: it carries one well-formed key, of an accepted environment, that the
    /// cache holds as active. No store is asked. A layer in front of this one (a
    /// brute-force limiter, say) can tell a caller that cannot be guessing from one
    /// that might.
    ///
    /// ```
    /// use http::{HeaderMap, Request, Uri};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// use portcullis_api_keys::{
    ///     ApiKeyLayer, KeyFormat, KeyHasher, KeyId, KeyRecord, KeyStore, TenantId, Timestamp,
    /// };
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (store, hasher) = (MemoryKeyStore::new(), KeyHasher::sha256());
    /// let key = KeyFormat::default().generate();
    /// let record = KeyRecord::new(KeyId::generate(), TenantId::new("acme"),
    ///     hasher.hash(&key.parsed()), key.masked(), Timestamp::UNIX_EPOCH);
    /// store.insert(&record).await?;
    /// let layer = ApiKeyLayer::strict(store, hasher);
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-api-key", key.expose_secret().parse()?);
    /// let uri = Uri::from_static("/v1/whoami");
    /// // Known to the store, but not yet to the cache.
    /// assert!(!layer.admits_from_cache(&headers, &uri));
    ///
    /// let service = layer.layer(service_fn(|_: Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
    /// }));
    /// let mut request = Request::new(());
    /// *request.headers_mut() = headers.clone();
    /// assert_eq!(service.oneshot(request).await?.status(), 200);
    /// assert!(layer.admits_from_cache(&headers, &uri));
    ///
    /// // A key with a valid checksum that the cache does not know, and no key at all.
    /// let guess = KeyFormat::default().generate();
    /// headers.insert("x-api-key", guess.expose_secret().parse()?);
    /// assert!(!layer.admits_from_cache(&headers, &uri));
    /// assert!(!layer.admits_from_cache(&HeaderMap::new(), &uri));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn admits_from_cache(&self, headers: &http::HeaderMap, uri: &http::Uri) -> bool {
        let config = &self.shared.config;
        let Ok((hash, _environment)) = config.read_parts(headers, uri) else {
            return false;
        };
        let now = crate::timestamp::Timestamp::now(&*config.clock);
        // `read_parts` accepted the environment; what is left of the judgement is the
        // record's status (without its logging: nothing is refused here).
        config
            .cache
            .get(&hash, now)
            .and_then(crate::cache::Cached::into_record)
            .is_some_and(|record| record.status(now).is_active())
    }

    /// The store.
    ///
    /// ```
    /// use portcullis_api_keys::{hash::KeyHasher, api_key::ApiKeyLayer};
    /// use portcullis_api_keys::store::memory::MemoryKeyStore;
    /// let layer = ApiKeyLayer::new(MemoryKeyStore::new(), KeyHasher::sha256());
    /// assert!(layer.store().is_empty());
    /// ```
    pub fn store(&self) -> &St {
        &self.shared.store
    }
}

impl<S, St> Layer<S> for ApiKeyLayer<St> {
    type Service = ApiKey<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiKey::from_shared(inner, Arc::clone(&self.shared))
    }
}
