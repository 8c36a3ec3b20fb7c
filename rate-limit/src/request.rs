//! The parts of a request that keys, plan resolvers and cost functions read.
//!
//! [`RequestHead`] borrows a request's method, URI, headers and extensions, so hooks
//! need not be generic over the body type and closures work as hooks. [`RequestCost`]
//! lets an inner layer (or the router) weigh a request.
//!
//! # Example
//!
//! ```
//! use http::Request;
//! use portcullis_rate_limit::request::{RequestCost, RequestHead};
//!
//! let mut request = Request::builder().uri("/v1/batch").body(()).unwrap();
//! request.extensions_mut().insert(RequestCost(10));
//! let head = RequestHead::new(&request);
//! assert_eq!(head.uri().path(), "/v1/batch");
//! assert_eq!(head.extensions().get::<RequestCost>(), Some(&RequestCost(10)));
//! ```

use http::{Extensions, HeaderMap, Method, Request, Uri, request::Parts};

/// A borrowed view of a request without its body.
///
/// ```
/// use http::{Method, Request};
/// use portcullis_rate_limit::request::RequestHead;
///
/// let request = Request::post("/login").header("x-api-key", "k").body(()).unwrap();
/// let head = RequestHead::new(&request);
/// assert_eq!(head.method(), Method::POST);
/// assert_eq!(head.headers()["x-api-key"], "k");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RequestHead<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl<'a> RequestHead<'a> {
    /// The head of `request`.
    pub fn new<B>(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }

    /// The head of a request taken apart.
    ///
    /// ```
    /// use portcullis_rate_limit::request::RequestHead;
    /// let (parts, ()) = http::Request::get("/x").body(()).unwrap().into_parts();
    /// assert_eq!(RequestHead::from_parts(&parts).uri().path(), "/x");
    /// ```
    pub fn from_parts(parts: &'a Parts) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            extensions: &parts.extensions,
        }
    }

    /// The method.
    ///
    /// ```
    /// let request = http::Request::delete("/").body(()).unwrap();
    /// assert_eq!(portcullis_rate_limit::request::RequestHead::new(&request).method(), http::Method::DELETE);
    /// ```
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The URI.
    ///
    /// ```
    /// let request = http::Request::get("/a?b=c").body(()).unwrap();
    /// assert_eq!(portcullis_rate_limit::request::RequestHead::new(&request).uri().query(), Some("b=c"));
    /// ```
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The headers.
    ///
    /// ```
    /// let request = http::Request::get("/").header("x-k", "v").body(()).unwrap();
    /// assert_eq!(portcullis_rate_limit::request::RequestHead::new(&request).headers()["x-k"], "v");
    /// ```
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The extensions.
    ///
    /// ```
    /// let mut request = http::Request::get("/").body(()).unwrap();
    /// request.extensions_mut().insert(7u8);
    /// assert_eq!(portcullis_rate_limit::request::RequestHead::new(&request).extensions().get::<u8>(), Some(&7));
    /// ```
    pub fn extensions(&self) -> &'a Extensions {
        self.extensions
    }

    /// The route template when axum matched one (`/users/{id}`, feature `axum`), else
    /// the path.
    ///
    /// ```
    /// use portcullis_rate_limit::request::RequestHead;
    /// let request = http::Request::get("/users/7?x=1").body(()).unwrap();
    /// assert_eq!(RequestHead::new(&request).route(), "/users/7");
    /// ```
    pub fn route(&self) -> &'a str {
        #[cfg(feature = "axum")]
        if let Some(matched) = self.extensions.get::<axum::extract::MatchedPath>() {
            return matched.as_str();
        }
        self.uri.path()
    }
}

/// The cost of a request, when it is more than 1: put it into the request extensions
/// before the rate-limit layer sees the request (or let the layer's cost function
/// compute it).
///
/// ```
/// use portcullis_rate_limit::request::RequestCost;
/// assert_eq!(RequestCost::default(), RequestCost(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestCost(pub u64);

impl Default for RequestCost {
    fn default() -> Self {
        Self(1)
    }
}

/// The tenant a request acts for, put into the request extensions by an
/// authentication layer; read by [`Key::tenant`](crate::key::Key::tenant) and by the
/// per-tenant overrides of [`Plans`](crate::resolver::Plans).
///
/// ```
/// use portcullis_rate_limit::request::TenantId;
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(TenantId::new("acme"));
/// assert_eq!(request.extensions().get::<TenantId>().unwrap().as_str(), "acme");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TenantId(pub std::borrow::Cow<'static, str>);

impl TenantId {
    /// A tenant id.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::request::TenantId::new("acme").0, "acme");
    /// ```
    pub fn new(id: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self(id.into())
    }

    /// The id.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::request::TenantId::new("acme").as_str(), "acme");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of the plan a request is billed under (`free`, `pro`, …), put into the
/// request extensions by an authentication layer; [`Plans`](crate::resolver::Plans)
/// picks the plan of that name.
///
/// ```
/// use portcullis_rate_limit::request::PlanName;
/// assert_eq!(PlanName::new("pro").as_str(), "pro");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlanName(pub std::borrow::Cow<'static, str>);

impl PlanName {
    /// A plan name.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::request::PlanName::new("pro").0, "pro");
    /// ```
    pub fn new(name: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self(name.into())
    }

    /// The name.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::request::PlanName::new("pro").as_str(), "pro");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
