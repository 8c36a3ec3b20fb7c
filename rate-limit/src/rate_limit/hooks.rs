//! The hooks a user gives the layer: the request's cost and when to refund it.

use http::StatusCode;

use crate::request::RequestHead;

/// A function computing a request's cost.
pub type CostFn = fn(&RequestHead<'_>) -> u64;

/// Whether a response's status gives the request's cost back.
pub(crate) type RefundIf = fn(StatusCode) -> bool;

/// Refunds successful (2xx) responses: only failures count.
#[cfg(feature = "memory")]
pub(crate) fn refund_success(status: StatusCode) -> bool {
    status.is_success()
}

/// Refunds server errors (5xx): the client is not charged for the server's failures.
pub(crate) fn refund_server_error(status: StatusCode) -> bool {
    status.is_server_error()
}
