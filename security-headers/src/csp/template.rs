//! [`Template`]: a policy compiled once, at layer construction, into the header value
//! or the literal pieces around its nonce slots, so a response only joins them.

use bytes::Bytes;
use http::HeaderValue;

use super::nonce::{CspNonce, NONCE_LEN};
use super::policy::Policy;
use super::sink::PolicySink;
use crate::ConfigError;

/// Splits a policy into the literal pieces around its nonce slots.
#[derive(Default)]
struct Segmenter {
    pieces: Vec<Bytes>,
    current: Vec<u8>,
}

impl PolicySink for Segmenter {
    fn text(&mut self, text: &str) {
        self.current.extend_from_slice(text.as_bytes());
    }

    fn nonce(&mut self) {
        self.pieces
            .push(Bytes::from(std::mem::take(&mut self.current)));
    }
}

/// A policy compiled for one kind of request (HTTPS or not): either a ready header
/// value, or the literal pieces to join with the request's nonce.
#[derive(Clone, Debug)]
pub(crate) enum Template {
    Static(HeaderValue),
    Nonce {
        pieces: Box<[Bytes]>,
        /// The length of the header value: the pieces plus the nonces.
        len: usize,
    },
}

impl Template {
    pub(crate) fn compile(
        policy: &Policy,
        https: bool,
        header: &'static str,
    ) -> Result<Self, ConfigError> {
        let mut segmenter = Segmenter::default();
        policy.write_to(&mut segmenter, https);
        let Segmenter {
            mut pieces,
            current,
        } = segmenter;
        pieces.push(Bytes::from(current));
        let invalid = || ConfigError::InvalidHeaderValue {
            header,
            value: policy.to_string(),
        };
        if pieces.len() == 1 {
            let value =
                HeaderValue::from_maybe_shared(pieces.swap_remove(0)).map_err(|_| invalid())?;
            return Ok(Self::Static(value));
        }
        let len = pieces.iter().map(Bytes::len).sum::<usize>() + (pieces.len() - 1) * NONCE_LEN;
        let template = Self::Nonce {
            pieces: pieces.into(),
            len,
        };
        template
            .render(Some(&CspNonce::generate()))
            .map(|_| template)
            .ok_or_else(invalid)
    }

    pub(crate) fn has_nonce(&self) -> bool {
        matches!(self, Self::Nonce { .. })
    }

    /// The header value for a response: one allocation, exactly sized, when the policy
    /// has a nonce; a cheap clone of the prebuilt value otherwise.
    pub(crate) fn render(&self, nonce: Option<&CspNonce>) -> Option<HeaderValue> {
        match self {
            Self::Static(value) => Some(value.clone()),
            Self::Nonce { pieces, len } => {
                let nonce = nonce?.as_bytes();
                let mut buffer = Vec::with_capacity(*len);
                let (first, rest) = pieces.split_first()?;
                buffer.extend_from_slice(first);
                for piece in rest {
                    buffer.extend_from_slice(nonce);
                    buffer.extend_from_slice(piece);
                }
                HeaderValue::from_maybe_shared(Bytes::from(buffer)).ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_splits_around_nonces() {
        let template =
            Template::compile(&Policy::strict(), true, "content-security-policy").unwrap();
        let Template::Nonce { pieces, len } = &template else {
            panic!("strict has nonces")
        };
        assert_eq!(pieces.len(), 3);
        let nonce = CspNonce::generate();
        let value = template.render(Some(&nonce)).unwrap();
        assert_eq!(value.len(), *len);
        assert_eq!(
            value.to_str().unwrap(),
            Policy::strict().to_header_string(&nonce, true)
        );
        assert_eq!(template.render(None), None);
        let api = Template::compile(&Policy::api(), true, "content-security-policy").unwrap();
        assert!(!api.has_nonce());
        assert_eq!(
            api.render(None).unwrap(),
            "default-src 'none'; frame-ancestors 'none'"
        );
    }
}
