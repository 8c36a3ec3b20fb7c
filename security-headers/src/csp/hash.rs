use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::ConfigError;

use super::sink::PolicySink;

/// The digest algorithm of a hash source.
///
/// [MDN: hash sources](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/Sources#hash-algorithm-base64-value)
///
/// ```
/// use portcullis_security_headers::csp::HashAlgorithm;
///
/// assert_eq!(HashAlgorithm::Sha256.digest_len(), 32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    pub(crate) const ALL: [Self; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    /// The length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The prefix in a source expression, without the quote: `sha256-`.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256-",
            Self::Sha384 => "sha384-",
            Self::Sha512 => "sha512-",
        }
    }
}

/// A validated hash source (`'sha256-…'`); made by [`Source::sha256_of`] or
/// [`Source::hash`].
///
/// [`Source::sha256_of`]: super::Source::sha256_of
/// [`Source::hash`]: super::Source::hash
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HashSource {
    algorithm: HashAlgorithm,
    digest: Box<str>,
}

impl HashSource {
    pub(crate) fn digest(algorithm: HashAlgorithm, text: &[u8]) -> Self {
        let digest = match algorithm {
            HashAlgorithm::Sha256 => STANDARD.encode(Sha256::digest(text)),
            HashAlgorithm::Sha384 => STANDARD.encode(Sha384::digest(text)),
            HashAlgorithm::Sha512 => STANDARD.encode(Sha512::digest(text)),
        };
        Self {
            algorithm,
            digest: digest.into(),
        }
    }

    pub(crate) fn from_base64(algorithm: HashAlgorithm, digest: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidSource {
            value: format!("'{}{digest}'", algorithm.prefix()),
            reason,
        };
        let bytes = STANDARD
            .decode(digest)
            .map_err(|_| invalid("the digest is not standard base64"))?;
        if bytes.len() != algorithm.digest_len() {
            return Err(invalid("the digest has the wrong length for its algorithm"));
        }
        Ok(Self {
            algorithm,
            digest: STANDARD.encode(bytes).into(),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The base64 digest.
    pub fn digest_base64(&self) -> &str {
        &self.digest
    }

    pub(crate) fn write_to(&self, out: &mut impl PolicySink) {
        out.text("'");
        out.text(self.algorithm.prefix());
        out.text(&self.digest);
        out.text("'");
    }
}

#[cfg(test)]
mod tests {
    use super::super::Source;
    use super::*;

    #[test]
    fn known_digests() {
        // printf '' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            Source::sha256_of("").to_string(),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
        assert_eq!(
            Source::sha384_of("").to_string(),
            "'sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb'"
        );
        assert!(Source::sha512_of("").to_string().len() == "'sha512-'".len() + 88);
    }

    #[test]
    fn from_base64_checks_length_and_alphabet() {
        let digest = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        assert!(HashSource::from_base64(HashAlgorithm::Sha256, digest).is_ok());
        assert!(HashSource::from_base64(HashAlgorithm::Sha384, digest).is_err());
        assert!(HashSource::from_base64(HashAlgorithm::Sha256, "abc;").is_err());
        // URL-safe alphabet is not what CSP hashes use.
        assert!(
            HashSource::from_base64(
                HashAlgorithm::Sha256,
                "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
            )
            .is_err()
        );
    }
}
