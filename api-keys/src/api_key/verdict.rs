//! The verdict on a request: what a layer checks a key against ([`Config`]), the
//! checks made before any lookup ([`Config::read`]), the judgement of what the cache
//! or the store said ([`Config::judge`]), and every refusal on the way. The service's
//! fast path (a cache hit, decided in `call`) and the future's slow path (a store
//! lookup) both ask here, so a key is judged the same way whichever path it takes.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Request, Uri};
use portcullis_core::clock::{Clock, FastClock};

use super::challenge::{Challenges, DEFAULT_REALM};
use super::context::ApiKeyContext;
use super::environment::EnvironmentPolicy;
use super::rejection::{ApiKeyRejection, Refusal};
use super::requirement::Requirement;
use super::source::{Extracted, KeySource, Unreadable, extract};
use crate::cache::{KeyCache, KeyCacheConfig};
use crate::error::KeyError;
use crate::format::KeyFormat;
use crate::hash::{KeyHash, KeyHasher};
use crate::invalidation::UsageRecorder;
use crate::key::Environment;
use crate::record::{KeyRecord, KeyStatus};
use crate::store::StoreError;
use crate::timestamp::Timestamp;

/// Everything but the store: how to read, check and judge a key.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) format: KeyFormat,
    pub(crate) hasher: KeyHasher,
    pub(crate) sources: Vec<KeySource>,
    pub(crate) query: Option<Box<str>>,
    pub(crate) environments: EnvironmentPolicy,
    pub(crate) realm: Arc<str>,
    pub(crate) challenges: Challenges,
    /// Scopes every request needs, with their prebuilt challenge.
    pub(crate) required: Option<(Arc<Requirement>, HeaderValue)>,
    /// What a request without a key is told.
    pub(crate) missing_detail: String,
    pub(crate) cache: KeyCache,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) recorder: Option<Arc<dyn UsageRecorder>>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("format", &self.format)
            .field("hasher", &self.hasher)
            .field("sources", &self.sources)
            .field("query", &self.query)
            .field("environments", &self.environments)
            .field("realm", &self.realm)
            .field("required", &self.required.as_ref().map(|(r, _)| r))
            .field("cache", &self.cache)
            .field("clock", &self.clock)
            .field("usage_recorder", &self.recorder.is_some())
            .finish()
    }
}

impl Config {
    pub(crate) fn new(
        hasher: KeyHasher,
        environments: EnvironmentPolicy,
        cache: KeyCacheConfig,
    ) -> Self {
        let mut config = Self {
            format: KeyFormat::default(),
            hasher,
            sources: vec![KeySource::x_api_key(), KeySource::Bearer],
            query: None,
            environments,
            realm: Arc::from(DEFAULT_REALM),
            challenges: Challenges::new(DEFAULT_REALM),
            required: None,
            missing_detail: String::new(),
            cache: KeyCache::new(cache),
            clock: Arc::new(FastClock::new()),
            recorder: None,
        };
        config.describe_sources();
        config
    }

    pub(crate) fn describe_sources(&mut self) {
        let mut detail = String::from("Send an API key in ");
        for (i, source) in self.sources.iter().enumerate() {
            if i > 0 {
                detail.push_str(" or ");
            }
            detail.push_str(&source.to_string());
        }
        if let Some(parameter) = &self.query {
            detail.push_str(" or the ");
            detail.push_str(parameter);
            detail.push_str(" query parameter");
        }
        detail.push('.');
        self.missing_detail = detail;
    }

    /// The checks before any lookup, in order: a key in exactly one
    /// [source](KeySource), its format and checksum, its environment. A typo or a
    /// guess costs neither cache nor store. Gives the key's hash to look up, and its
    /// environment.
    pub(crate) fn read<B>(&self, request: &Request<B>) -> Result<(KeyHash, Environment), Refusal> {
        self.read_parts(request.headers(), request.uri())
    }

    /// [`read`](Self::read) on a request's headers and URI.
    pub(crate) fn read_parts(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<(KeyHash, Environment), Refusal> {
        let key = match extract(&self.sources, self.query.as_deref(), headers, uri) {
            Extracted::Key(key) => key,
            Extracted::Missing => return Err(self.missing()),
            Extracted::Unreadable(unreadable) => return Err(self.unreadable(unreadable)),
        };
        let parsed = self
            .format
            .parse(key)
            .map_err(|error| self.malformed(error))?;
        let environment = parsed.environment();
        if !self.environments.accepts(environment) {
            return Err(self.wrong_environment(environment));
        }
        Ok((self.hasher.hash(&parsed), environment))
    }

    fn missing(&self) -> Refusal {
        tracing::debug!(target: "portcullis_api_keys", "request without an API key");
        Refusal::new(
            ApiKeyRejection::Missing,
            self.missing_detail.clone(),
            Some(self.challenges.missing.clone()),
        )
    }

    fn unreadable(&self, unreadable: Unreadable) -> Refusal {
        tracing::debug!(target: "portcullis_api_keys", ?unreadable, "unreadable API key");
        let detail = match unreadable {
            Unreadable::NotText => "The API key contains characters other than visible ASCII.",
            Unreadable::Empty => "The API key is empty.",
            Unreadable::NoToken => {
                "The Authorization header names the Bearer scheme but carries no key."
            }
            Unreadable::TwoKeys => "The request carries more than one API key: send exactly one.",
        };
        Refusal::new(
            ApiKeyRejection::Malformed,
            detail,
            Some(self.challenges.invalid_request.clone()),
        )
    }

    fn malformed(&self, error: KeyError) -> Refusal {
        tracing::debug!(target: "portcullis_api_keys", %error, "malformed API key");
        let detail = match error {
            KeyError::BadChecksum => {
                "The API key's checksum does not match: check that it was copied whole."
            }
            KeyError::WrongPrefix => "The API key is not a key of this API.",
            _ => "The API key is not in the expected format.",
        };
        Refusal::new(
            ApiKeyRejection::Malformed,
            detail,
            Some(self.challenges.invalid_token.clone()),
        )
    }

    fn wrong_environment(&self, environment: Environment) -> Refusal {
        tracing::debug!(target: "portcullis_api_keys", %environment, "API key of a refused environment");
        Refusal::new(
            ApiKeyRejection::Invalid,
            self.environments.refusal(),
            Some(self.challenges.invalid_token.clone()),
        )
    }

    fn invalid_token(&self, reason: ApiKeyRejection, detail: &'static str) -> Refusal {
        Refusal::new(reason, detail, Some(self.challenges.invalid_token.clone()))
    }

    /// The verdict on what the cache or the store said about a presented key: a
    /// context for the inner service, or a refusal. Reports the use of an accepted
    /// key.
    pub(crate) fn judge(
        &self,
        record: Option<Arc<KeyRecord>>,
        environment: Environment,
        now: Timestamp,
    ) -> Result<ApiKeyContext, Refusal> {
        let Some(record) = record else {
            tracing::debug!(target: "portcullis_api_keys", "unknown API key");
            return Err(self.invalid_token(ApiKeyRejection::Invalid, "The API key is not valid."));
        };
        let refused = match record.status(now) {
            KeyStatus::Active => None,
            KeyStatus::Revoked => Some((ApiKeyRejection::Revoked, "The API key was revoked.")),
            KeyStatus::Expired => Some((ApiKeyRejection::Expired, "The API key has expired.")),
        };
        if let Some((reason, detail)) = refused {
            tracing::info!(
                target: "portcullis_api_keys",
                key_id = %record.id,
                tenant = %record.tenant,
                code = reason.code(),
                "API key refused",
            );
            return Err(self.invalid_token(reason, detail));
        }
        if let Some((required, challenge)) = &self.required
            && !required.is_met_by(&record.scopes)
        {
            tracing::info!(
                target: "portcullis_api_keys",
                key_id = %record.id,
                tenant = %record.tenant,
                "API key lacks a scope the layer requires",
            );
            return Err(Refusal::insufficient_scope(required, challenge.clone()));
        }
        if let Some(recorder) = &self.recorder {
            recorder.record_use(record.id, now);
        }
        Ok(ApiKeyContext::verified(
            record,
            environment,
            Arc::clone(&self.realm),
        ))
    }

    /// The 503 when the store failed, logged.
    pub(crate) fn unavailable(&self, error: &StoreError) -> Refusal {
        tracing::warn!(
            target: "portcullis_api_keys",
            error = error as &dyn std::error::Error,
            "API key store failed; answering 503",
        );
        Refusal::new(
            ApiKeyRejection::Unavailable,
            "API keys cannot be verified right now; try again shortly.",
            None,
        )
    }
}

/// Puts the verified key into the request: the [`ApiKeyContext`] and, with feature
/// `rate-limit`, the rate limiter's tenant and plan.
pub(crate) fn admit<B>(request: &mut Request<B>, context: ApiKeyContext) {
    let extensions = request.extensions_mut();
    #[cfg(feature = "rate-limit")]
    {
        use portcullis_rate_limit::request::{PlanName, TenantId};
        extensions.insert(TenantId::new(context.tenant().as_str().to_owned()));
        if let Some(plan) = context.plan() {
            extensions.insert(PlanName::new(plan.to_owned()));
        }
    }
    extensions.insert(context);
}
