//! Which [`Plan`] applies to a request: [`PlanResolver`] and the built-in [`Plans`].
//!
//! A resolver may be asynchronous (look the tenant's plan up in a database): it returns
//! a future, and the layer waits for it inside its response future. `None` means no
//! plan applies and the request is not limited. A resolver that knows the answer
//! without waiting says so with a [`Resolved`], and the layer decides in `call`.
//!
//! [`Plans`] resolves without waiting, in this order:
//!
//! 1. a route override (`/login` gets the strict plan), exact path or `prefix*`;
//! 2. a per-tenant override, by the exact [`TenantId`] in the request extensions;
//! 3. the plan named by the [`PlanName`] another layer put in the extensions;
//! 4. the default plan, if any.
//!
//! # Example
//!
//! ```
//! use http::Request;
//! use portcullis_rate_limit::plan::Plan;
//! use portcullis_rate_limit::request::{PlanName, RequestHead, TenantId};
//! use portcullis_rate_limit::resolver::{PlanResolver, Plans};
//!
//! let plans = Plans::new(Plan::free())
//!     .plan(Plan::pro())
//!     .tenant("acme", Plan::enterprise(3_000, 1_000_000).unwrap());
//!
//! let mut request = Request::new(());
//! request.extensions_mut().insert(PlanName::new("pro"));
//! assert_eq!(plans.lookup(&RequestHead::new(&request)).unwrap().name(), "pro");
//!
//! // The exact tenant beats its tier.
//! request.extensions_mut().insert(TenantId::new("acme"));
//! assert_eq!(plans.lookup(&RequestHead::new(&request)).unwrap().name(), "enterprise");
//! ```

use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::sync::Arc;

use serde::Deserialize;

use crate::error::ConfigError;
use crate::plan::Plan;
use crate::request::{PlanName, RequestHead, TenantId};

/// Picks the plan for a request.
///
/// Implemented by [`Plans`] and by closures
/// `Fn(&RequestHead<'_>) -> impl Future<Output = Option<Arc<Plan>>>`. The future must
/// not borrow the request: copy out what it needs.
///
/// ```
/// use std::sync::Arc;
/// use portcullis_rate_limit::{plan::Plan, request::RequestHead, resolver::PlanResolver};
///
/// let pro = Arc::new(Plan::pro());
/// // Paying customers send a header that an earlier layer verified.
/// let resolver = move |head: &RequestHead<'_>| {
///     let plan = head.headers().contains_key("x-customer").then(|| pro.clone());
///     async move { plan }
/// };
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let request = http::Request::get("/").header("x-customer", "acme").body(()).unwrap();
/// let plan = resolver.resolve(&RequestHead::new(&request)).await.unwrap();
/// assert_eq!(plan.name(), "pro");
/// let anonymous = http::Request::get("/").body(()).unwrap();
/// assert!(resolver.resolve(&RequestHead::new(&anonymous)).await.is_none());
/// # });
/// ```
pub trait PlanResolver: Send + Sync + 'static {
    /// The future resolving to the plan, or `None` when the request is not limited.
    type Future: Future<Output = Option<Arc<Plan>>> + Send + 'static;

    /// Starts resolving the plan of `request`.
    fn resolve(&self, request: &RequestHead<'_>) -> Self::Future;

    /// The plan of `request` when it is known without waiting (`Some`), so the layer
    /// decides in `call` and skips a state of its response future. `None`, the
    /// default, makes the layer await [`resolve`](Self::resolve).
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, request::RequestHead};
    /// use portcullis_rate_limit::resolver::{PlanResolver, Plans, Resolved};
    ///
    /// let request = http::Request::new(());
    /// let head = RequestHead::new(&request);
    /// let plans = Plans::new(Plan::free());
    /// let Some(Resolved::Plan(plan)) = plans.resolve_immediately(&head) else {
    ///     panic!("the built-in resolver never waits");
    /// };
    /// assert_eq!(plan.name(), "free");
    /// assert_eq!(Plans::without_default().resolve_immediately(&head), Some(Resolved::Exempt));
    /// ```
    fn resolve_immediately(&self, request: &RequestHead<'_>) -> Option<Resolved> {
        let _ = request;
        None
    }
}

/// What a resolver found for a request: the plan that limits it, or none.
///
/// ```
/// use std::sync::Arc;
/// use portcullis_rate_limit::{plan::Plan, resolver::Resolved};
///
/// let free = Arc::new(Plan::free());
/// assert_eq!(Resolved::from(Some(free.clone())), Resolved::Plan(free.clone()));
/// assert_eq!(Resolved::from(None), Resolved::Exempt);
/// assert_eq!(Resolved::Plan(free).plan().unwrap().name(), "free");
/// assert!(Resolved::Exempt.plan().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolved {
    /// The request is limited by this plan.
    Plan(Arc<Plan>),
    /// No plan applies: the request is not limited.
    Exempt,
}

impl Resolved {
    /// The plan, unless the request is exempt.
    pub fn plan(&self) -> Option<&Arc<Plan>> {
        match self {
            Self::Plan(plan) => Some(plan),
            Self::Exempt => None,
        }
    }
}

impl From<Option<Arc<Plan>>> for Resolved {
    /// `Some(plan)` limits by that plan; `None` exempts the request.
    fn from(plan: Option<Arc<Plan>>) -> Self {
        match plan {
            Some(plan) => Self::Plan(plan),
            None => Self::Exempt,
        }
    }
}

impl<F, Fut> PlanResolver for F
where
    F: Fn(&RequestHead<'_>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Arc<Plan>>> + Send + 'static,
{
    type Future = Fut;

    fn resolve(&self, request: &RequestHead<'_>) -> Self::Future {
        self(request)
    }
}

/// The built-in resolver: a default plan, named plans, per-tenant and per-route
/// overrides. See the [module docs](self) for the order.
///
/// ```
/// use portcullis_rate_limit::{plan::Plan, quota::Quota, resolver::Plans};
///
/// let login = Plan::new("login", [Quota::per_minute("login", 5)]).unwrap();
/// let plans = Plans::new(Plan::starter()).route("/login", login).route("/auth/*", Plan::free());
/// let request = http::Request::post("/auth/token").body(()).unwrap();
/// let head = portcullis_rate_limit::request::RequestHead::new(&request);
/// assert_eq!(plans.lookup(&head).unwrap().name(), "free");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Plans {
    default: Option<Arc<Plan>>,
    named: HashMap<String, Arc<Plan>>,
    tenants: HashMap<String, Arc<Plan>>,
    routes: Vec<(Route, Arc<Plan>)>,
}

#[derive(Clone, Debug)]
enum Route {
    Exact(String),
    Prefix(String),
}

impl Route {
    fn parse(pattern: &str) -> Self {
        match pattern.strip_suffix('*') {
            Some(prefix) => Self::Prefix(prefix.to_owned()),
            None => Self::Exact(pattern.to_owned()),
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => path == exact,
            Self::Prefix(prefix) => path.starts_with(prefix.as_str()),
        }
    }
}

impl Plans {
    /// Every request falls back to `default`.
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, request::RequestHead, resolver::Plans};
    /// let request = http::Request::new(());
    /// assert_eq!(Plans::new(Plan::free()).lookup(&RequestHead::new(&request)).unwrap().name(), "free");
    /// ```
    pub fn new(default: impl Into<Arc<Plan>>) -> Self {
        Self {
            default: Some(default.into()),
            ..Self::default()
        }
    }

    /// No default: requests that match no override, tenant or plan name are not
    /// limited.
    ///
    /// ```
    /// use portcullis_rate_limit::{request::RequestHead, resolver::Plans};
    /// let request = http::Request::new(());
    /// assert!(Plans::without_default().lookup(&RequestHead::new(&request)).is_none());
    /// ```
    pub fn without_default() -> Self {
        Self::default()
    }

    /// The free, starter and pro tiers, selectable by [`PlanName`], falling back to
    /// free.
    ///
    /// ```
    /// use portcullis_rate_limit::{request::{PlanName, RequestHead}, resolver::Plans};
    /// let mut request = http::Request::new(());
    /// request.extensions_mut().insert(PlanName::new("starter"));
    /// assert_eq!(Plans::tiers().lookup(&RequestHead::new(&request)).unwrap().name(), "starter");
    /// ```
    pub fn tiers() -> Self {
        Self::new(Plan::free())
            .plan(Plan::free())
            .plan(Plan::starter())
            .plan(Plan::pro())
    }

    /// Makes `plan` selectable by a [`PlanName`] of its name (replacing a plan of the
    /// same name).
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, request::{PlanName, RequestHead}, resolver::Plans};
    /// let plans = Plans::new(Plan::free()).plan(Plan::pro());
    /// let mut request = http::Request::new(());
    /// request.extensions_mut().insert(PlanName::new("pro"));
    /// assert_eq!(plans.lookup(&RequestHead::new(&request)).unwrap().name(), "pro");
    /// ```
    #[must_use]
    pub fn plan(mut self, plan: impl Into<Arc<Plan>>) -> Self {
        let plan = plan.into();
        self.named.insert(plan.name().to_owned(), plan);
        self
    }

    /// Sets the default plan.
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, request::RequestHead, resolver::Plans};
    /// let plans = Plans::without_default().default_plan(Plan::starter());
    /// let request = http::Request::new(());
    /// assert_eq!(plans.lookup(&RequestHead::new(&request)).unwrap().name(), "starter");
    /// ```
    #[must_use]
    pub fn default_plan(mut self, plan: impl Into<Arc<Plan>>) -> Self {
        self.default = Some(plan.into());
        self
    }

    /// Gives the tenant with exactly this [`TenantId`] its own plan, whatever its tier.
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, request::{RequestHead, TenantId}, resolver::Plans};
    /// let plans = Plans::new(Plan::free()).tenant("acme", Plan::pro());
    /// let mut request = http::Request::new(());
    /// request.extensions_mut().insert(TenantId::new("acme"));
    /// assert_eq!(plans.lookup(&RequestHead::new(&request)).unwrap().name(), "pro");
    /// ```
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>, plan: impl Into<Arc<Plan>>) -> Self {
        self.tenants.insert(tenant.into(), plan.into());
        self
    }

    /// Applies `plan` to requests whose route (axum's matched template, else the path)
    /// is `pattern`, or starts with it when it ends in `*`. The first matching route
    /// wins. A route plan has its own counters, separate from the default plan's.
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, request::RequestHead, resolver::Plans};
    /// let plans = Plans::new(Plan::pro()).route("/login", Plan::free());
    /// let request = http::Request::post("/login").body(()).unwrap();
    /// assert_eq!(plans.lookup(&RequestHead::new(&request)).unwrap().name(), "free");
    /// ```
    #[must_use]
    pub fn route(mut self, pattern: &str, plan: impl Into<Arc<Plan>>) -> Self {
        self.routes.push((Route::parse(pattern), plan.into()));
        self
    }

    /// The plan of `request`, without waiting.
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, request::RequestHead, resolver::Plans};
    /// let request = http::Request::new(());
    /// assert!(Plans::new(Plan::free()).lookup(&RequestHead::new(&request)).is_some());
    /// ```
    pub fn lookup(&self, request: &RequestHead<'_>) -> Option<Arc<Plan>> {
        if !self.routes.is_empty() {
            let route = request.route();
            let path = request.uri().path();
            if let Some((_, plan)) = self
                .routes
                .iter()
                .find(|(pattern, _)| pattern.matches(route) || pattern.matches(path))
            {
                return Some(plan.clone());
            }
        }
        let extensions = request.extensions();
        if !self.tenants.is_empty()
            && let Some(plan) = extensions
                .get::<TenantId>()
                .and_then(|tenant| self.tenants.get(tenant.as_str()))
        {
            return Some(plan.clone());
        }
        if !self.named.is_empty()
            && let Some(plan) = extensions
                .get::<PlanName>()
                .and_then(|name| self.named.get(name.as_str()))
        {
            return Some(plan.clone());
        }
        self.default.clone()
    }
}

impl PlanResolver for Plans {
    type Future = Ready<Option<Arc<Plan>>>;

    fn resolve(&self, request: &RequestHead<'_>) -> Self::Future {
        ready(self.lookup(request))
    }

    fn resolve_immediately(&self, request: &RequestHead<'_>) -> Option<Resolved> {
        Some(self.lookup(request).into())
    }
}

/// [`Plans`] as written in a configuration file:
///
/// ```toml
/// default = "free"
///
/// [[plans]]
/// name = "free"
/// quotas = [{ name = "minute", limit = 10, window = "1m" }]
///
/// [tenants]
/// acme = "free"
///
/// [routes]
/// "/login" = "free"
/// ```
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansConfig {
    default: Option<String>,
    plans: Vec<Plan>,
    #[serde(default)]
    tenants: HashMap<String, String>,
    #[serde(default)]
    routes: Vec<(String, String)>,
}

impl TryFrom<PlansConfig> for Plans {
    type Error = ConfigError;

    fn try_from(config: PlansConfig) -> Result<Self, Self::Error> {
        let mut plans = Plans::without_default();
        for plan in config.plans {
            if plans.named.contains_key(plan.name()) {
                return Err(ConfigError::DuplicatePlan {
                    plan: plan.name().to_owned(),
                });
            }
            plans = plans.plan(plan);
        }
        let find = |name: &str| {
            plans
                .named
                .get(name)
                .cloned()
                .ok_or_else(|| ConfigError::UnknownPlan {
                    plan: name.to_owned(),
                })
        };
        let default = config.default.as_deref().map(find).transpose()?;
        let tenants = config
            .tenants
            .iter()
            .map(|(tenant, plan)| Ok((tenant.clone(), find(plan)?)))
            .collect::<Result<HashMap<_, _>, ConfigError>>()?;
        let routes = config
            .routes
            .iter()
            .map(|(route, plan)| Ok((Route::parse(route), find(plan)?)))
            .collect::<Result<Vec<_>, ConfigError>>()?;
        plans.default = default;
        plans.tenants = tenants;
        plans.routes = routes;
        Ok(plans)
    }
}

impl<'de> Deserialize<'de> for Plans {
    /// Loads plans from TOML or JSON: a `plans` list, an optional `default` plan name,
    /// `tenants` (tenant id → plan name) and `routes` (a list of `[pattern, plan name]`
    /// pairs, first match wins).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let config = PlansConfig::deserialize(deserializer)?;
        Plans::try_from(config).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Quota;
    use http::Request;

    fn name_of(plans: &Plans, request: &Request<()>) -> Option<String> {
        plans
            .lookup(&RequestHead::new(request))
            .map(|plan| plan.name().to_owned())
    }

    #[test]
    fn resolution_order_route_tenant_name_default() {
        let login = Plan::new("login", [Quota::per_minute("login", 5)]).unwrap();
        let plans = Plans::tiers()
            .tenant("acme", Plan::enterprise(1_000, 100_000).unwrap())
            .route("/login", login);
        let mut request = Request::get("/v1/things").body(()).unwrap();
        assert_eq!(name_of(&plans, &request).unwrap(), "free");
        request.extensions_mut().insert(PlanName::new("pro"));
        assert_eq!(name_of(&plans, &request).unwrap(), "pro");
        request.extensions_mut().insert(TenantId::new("acme"));
        assert_eq!(name_of(&plans, &request).unwrap(), "enterprise");
        request.extensions_mut().insert(TenantId::new("acme-2"));
        assert_eq!(name_of(&plans, &request).unwrap(), "pro");
        *request.uri_mut() = "/login".parse().unwrap();
        assert_eq!(name_of(&plans, &request).unwrap(), "login");
        request.extensions_mut().insert(PlanName::new("unknown"));
        *request.uri_mut() = "/x".parse().unwrap();
        assert_eq!(name_of(&plans, &request).unwrap(), "free");
    }

    #[test]
    fn loads_from_toml() {
        let plans: Plans = toml::from_str(
            r#"
            default = "free"
            routes = [["/login", "strict"]]

            [[plans]]
            name = "free"
            quotas = [{ name = "minute", limit = 10, window = "1m" }]

            [[plans]]
            name = "strict"
            quotas = [{ name = "minute", limit = 3, window = "1m" }]

            [tenants]
            acme = "strict"
            "#,
        )
        .unwrap();
        let request = Request::get("/login").body(()).unwrap();
        assert_eq!(name_of(&plans, &request).unwrap(), "strict");
        let error = toml::from_str::<Plans>(
            r#"
            default = "gold"
            plans = []
            "#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("gold"), "{error}");
    }
}
