use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// Random bytes in a nonce: 128 bits, the minimum CSP asks for.
const NONCE_BYTES: usize = 16;
/// Their length in standard base64, padding included.
pub(crate) const NONCE_LEN: usize = 24;

/// The per-request CSP nonce: 128 bits from a CSPRNG, in standard base64.
///
/// [`SecurityHeadersLayer`](crate::headers::SecurityHeadersLayer) makes one for every
/// request whose policy has a [`Source::Nonce`](super::Source::Nonce), puts it into the
/// request extensions for the handler, and writes the same value into the
/// `Content-Security-Policy` header. Put it into the `nonce` attribute of your inline
/// `<script>` and `<style>` elements. With the `axum` feature it is an extractor.
///
/// The nonce is copied around by value (no allocation); `Debug` shows only its first
/// characters.
///
/// [MDN: nonce](https://developer.mozilla.org/en-US/docs/Web/HTML/Reference/Global_attributes/nonce)
///
/// ```
/// use portcullis_security_headers::csp::CspNonce;
///
/// let nonce = CspNonce::generate();
/// assert_eq!(nonce.as_str().len(), 24);
/// assert_ne!(nonce, CspNonce::generate());
/// let html = format!(r#"<script nonce="{nonce}">start()</script>"#);
/// assert!(html.contains(nonce.as_str()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CspNonce {
    encoded: [u8; NONCE_LEN],
}

impl CspNonce {
    /// A fresh nonce from the thread-local CSPRNG (`rand::rng()`, ChaCha12 seeded by
    /// the operating system).
    pub fn generate() -> Self {
        let mut random = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut random);
        let mut encoded = [0u8; NONCE_LEN];
        // 16 bytes always encode to exactly 24 characters.
        let _ = STANDARD.encode_slice(random, &mut encoded);
        Self { encoded }
    }

    /// The nonce as it goes into the `nonce` attribute and the header.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.encoded).unwrap_or_default()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }
}

impl fmt::Display for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.as_str().get(..4).unwrap_or_default();
        write!(f, "CspNonce({shown}…)")
    }
}

#[cfg(feature = "axum")]
mod extract {
    use std::convert::Infallible;

    use axum::extract::{FromRequestParts, OptionalFromRequestParts};
    use http::StatusCode;
    use http::request::Parts;
    use portcullis_core::problem::Problem;

    use super::CspNonce;

    /// Extracts the nonce the [`SecurityHeadersLayer`](crate::headers::SecurityHeadersLayer)
    /// made for this request. Without the layer (or with a policy that has no nonce)
    /// the request is answered with a `500` problem+json, code `CSP_NONCE_MISSING`:
    /// that is a server misconfiguration, and a page rendered without its nonce
    /// would break. Take `Option<CspNonce>` to handle the absence yourself.
    impl<S: Send + Sync> FromRequestParts<S> for CspNonce {
        type Rejection = Problem;

        async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
            parts.extensions.get::<Self>().copied().ok_or_else(|| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "CSP_NONCE_MISSING",
                    "CSP nonce missing",
                )
                .with_detail(
                    "This handler asks for a CSP nonce, but no SecurityHeadersLayer with a \
                     nonce-based Content-Security-Policy wraps it.",
                )
            })
        }
    }

    /// `Option<CspNonce>`: `None` when no layer made a nonce.
    impl<S: Send + Sync> OptionalFromRequestParts<S> for CspNonce {
        type Rejection = Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Infallible> {
            Ok(parts.extensions.get::<Self>().copied())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nonces_are_128_bit_base64_and_distinct() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let nonce = CspNonce::generate();
            let decoded = STANDARD.decode(nonce.as_str()).unwrap();
            assert_eq!(decoded.len(), 16);
            assert!(seen.insert(nonce.as_str().to_owned()));
        }
    }

    #[test]
    fn debug_masks_the_value() {
        let nonce = CspNonce::generate();
        let debug = format!("{nonce:?}");
        assert!(!debug.contains(nonce.as_str()));
        assert!(debug.starts_with("CspNonce("));
    }
}
