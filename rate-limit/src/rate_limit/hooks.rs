//! The hooks a user gives the layer: what a request costs ([`CostFn`]) and which
//! responses give it back ([`RefundPredicate`]). Each is a trait implemented for
//! closures, so a hook can capture its configuration.

use http::StatusCode;
use serde::Deserialize;

use crate::request::RequestHead;

/// Computes a request's cost: how much it counts against each quota of its plan (1
/// unless weighted). A [`RequestCost`](crate::request::RequestCost) in the request
/// extensions wins over it.
///
/// Implemented for closures `Fn(&RequestHead<'_>) -> u64`, which may capture what they
/// read from configuration:
///
/// ```
/// use portcullis_rate_limit::{rate_limit::CostFn, request::RequestHead};
///
/// let batch_cost = 25; // from the service's configuration
/// let cost = move |head: &RequestHead<'_>| {
///     if head.uri().path().starts_with("/batch") { batch_cost } else { 1 }
/// };
/// let request = http::Request::post("/batch/import").body(()).unwrap();
/// assert_eq!(cost.cost(&RequestHead::new(&request)), 25);
/// ```
pub trait CostFn: Send + Sync + 'static {
    /// The cost of `request`.
    fn cost(&self, request: &RequestHead<'_>) -> u64;
}

impl<F> CostFn for F
where
    F: Fn(&RequestHead<'_>) -> u64 + Send + Sync + 'static,
{
    fn cost(&self, request: &RequestHead<'_>) -> u64 {
        self(request)
    }
}

/// Whether a response gives its request's cost back (the request then does not count).
///
/// Implemented for closures and functions `Fn(StatusCode) -> bool`, and by
/// [`RefundOn`], the refunds a configuration file can name.
///
/// ```
/// use http::StatusCode;
/// use portcullis_rate_limit::rate_limit::RefundPredicate;
///
/// // Refund the statuses a configuration lists.
/// let refunded = vec![StatusCode::CONFLICT, StatusCode::SERVICE_UNAVAILABLE];
/// let predicate = move |status: StatusCode| refunded.contains(&status);
/// assert!(predicate.should_refund(StatusCode::CONFLICT));
/// assert!(!predicate.should_refund(StatusCode::OK));
/// ```
pub trait RefundPredicate: Send + Sync + 'static {
    /// Whether a response of `status` gives the cost back.
    fn should_refund(&self, status: StatusCode) -> bool;
}

impl<F> RefundPredicate for F
where
    F: Fn(StatusCode) -> bool + Send + Sync + 'static,
{
    fn should_refund(&self, status: StatusCode) -> bool {
        self(status)
    }
}

/// The responses whose cost comes back, as a configuration names them.
///
/// ```
/// use http::StatusCode;
/// use portcullis_rate_limit::rate_limit::{RefundOn, RefundPredicate};
///
/// let refund: RefundOn = serde_json::from_str(r#""server_errors""#).unwrap();
/// assert!(refund.should_refund(StatusCode::BAD_GATEWAY));
/// assert!(!refund.should_refund(StatusCode::NOT_FOUND));
/// assert!(RefundOn::Success.should_refund(StatusCode::NO_CONTENT));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefundOn {
    /// Successful (2xx) responses: only failures count (against password guessing).
    Success,
    /// Server errors (5xx): the client is not charged for the server's failures.
    ServerErrors,
}

impl RefundPredicate for RefundOn {
    fn should_refund(&self, status: StatusCode) -> bool {
        match self {
            Self::Success => status.is_success(),
            Self::ServerErrors => status.is_server_error(),
        }
    }
}
