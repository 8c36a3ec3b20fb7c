//! The HTML page: one inline script and one inline style, both allowed by the
//! per-request CSP nonce.

use axum::response::Html;
use portcullis_security_headers::csp::CspNonce;

const TEMPLATE: &str = include_str!("page.html");

/// `GET /`: the page, with this request's nonce on its inline script and style.
pub(crate) async fn usage_page(nonce: CspNonce) -> Html<String> {
    Html(TEMPLATE.replace("{{nonce}}", nonce.as_str()))
}
