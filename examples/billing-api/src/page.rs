//! `GET /`: the usage page. One inline script and one inline style, both allowed by
//! the per-request CSP nonce; no external assets.

use axum::response::Html;
use portcullis_security_headers::csp::CspNonce;

const TEMPLATE: &str = include_str!("page.html");

/// The page, with this request's nonce on its inline script and style.
pub(crate) async fn usage_page(nonce: CspNonce) -> Html<String> {
    Html(TEMPLATE.replace("{{nonce}}", nonce.as_str()))
}
