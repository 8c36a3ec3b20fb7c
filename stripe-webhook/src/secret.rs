//! Named signing secrets whose value never reaches `Debug`, `Display` or a log.
//!
//! Every scheme takes one or more [`Secret`]s. Several at once serve a secret roll
//! (the old and the new endpoint secret for the hours Stripe signs with both) or
//! several endpoints on one route; each has a name, and a successful verification
//! says which one matched ([`Verification::secret`]), so you can see when the old
//! secret stops being used.
//!
//! How the value becomes the HMAC key is the scheme's business: Stripe and GitHub use
//! the literal bytes (`whsec_…` included), Standard Webhooks base64-decodes what
//! follows `whsec_`.
//!
//! [`Verification::secret`]: crate::scheme::Verification::secret
//!
//! # Example
//!
//! ```
//! use portcullis_stripe_webhook::secret::Secret;
//!
//! let secret = Secret::new("primary", "whsec_abcdefghijklmnop1234");
//! assert_eq!(secret.name(), "primary");
//! assert_eq!(format!("{secret:?}"), "Secret { name: \"primary\", value: \"whsec_…1234\" }");
//! ```

use std::fmt;
use std::sync::Arc;

use crate::error::ConfigError;

/// A named signing secret. Its value is masked in `Debug` (`whsec_…abcd`).
///
/// ```
/// use portcullis_stripe_webhook::secret::Secret;
/// let secret = Secret::new("rolled-2025-06", "whsec_0123456789abcdef");
/// assert_eq!(secret.expose(), b"whsec_0123456789abcdef");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    name: Arc<str>,
    value: Arc<[u8]>,
}

impl Secret {
    /// A secret from its text, as the provider's dashboard shows it.
    pub fn new(name: impl Into<Arc<str>>, value: impl AsRef<str>) -> Self {
        Self::from_bytes(name, value.as_ref().as_bytes())
    }

    /// A secret from raw key bytes (already decoded), for schemes whose key is binary.
    pub fn from_bytes(name: impl Into<Arc<str>>, value: impl AsRef<[u8]>) -> Self {
        Self {
            name: name.into(),
            value: Arc::from(value.as_ref()),
        }
    }

    /// The secret's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The secret's name as a shared string (cheap to clone into results).
    pub fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    /// The secret's bytes. Handle with care: never log them.
    pub fn expose(&self) -> &[u8] {
        &self.value
    }

    /// Refuses empty secrets and secrets with whitespace (a trailing newline from a
    /// file or an environment variable is the usual cause of "every signature fails").
    /// Schemes whose secrets are chosen by people (GitHub's may hold spaces) pass
    /// `interior_allowed` and only leading or trailing whitespace is refused.
    pub(crate) fn validate(&self, interior_allowed: bool) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::EmptySecretName);
        }
        if self.value.is_empty() {
            return Err(ConfigError::EmptySecret {
                name: self.name.to_string(),
            });
        }
        let last = self.value.len() - 1;
        let refused = |(position, byte): &(usize, &u8)| {
            byte.is_ascii_whitespace() && (!interior_allowed || *position == 0 || *position == last)
        };
        if let Some((position, _)) = self.value.iter().enumerate().find(refused) {
            return Err(ConfigError::SecretWhitespace {
                name: self.name.to_string(),
                position,
            });
        }
        Ok(())
    }

    /// The masked form shown by `Debug`: a known prefix and the last four characters.
    fn masked(&self) -> String {
        let value = &self.value;
        let prefix: &[u8] = if value.starts_with(b"whsec_") {
            b"whsec_"
        } else {
            b""
        };
        if value.len() < prefix.len() + 12 || !value.is_ascii() {
            return format!("{}…", String::from_utf8_lossy(prefix));
        }
        let tail = &value[value.len() - 4..];
        format!(
            "{}…{}",
            String::from_utf8_lossy(prefix),
            String::from_utf8_lossy(tail)
        )
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("name", &&*self.name)
            .field("value", &self.masked())
            .finish()
    }
}

/// Checks a list of secrets: at least one, each valid, names unique.
pub(crate) fn validate_all(
    secrets: &[Secret],
    interior_whitespace: bool,
) -> Result<(), ConfigError> {
    if secrets.is_empty() {
        return Err(ConfigError::NoSecret);
    }
    for (index, secret) in secrets.iter().enumerate() {
        secret.validate(interior_whitespace)?;
        if secrets[..index].iter().any(|s| s.name == secret.name) {
            return Err(ConfigError::DuplicateSecretName {
                name: secret.name.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_the_value() {
        let secret = Secret::new("primary", "whsec_supersecretvalue9876");
        let debug = format!("{secret:?}");
        assert!(debug.contains("whsec_…9876"), "{debug}");
        assert!(!debug.contains("supersecret"), "{debug}");
        let short = Secret::new("short", "whsec_abc");
        assert!(!format!("{short:?}").contains("abc"));
    }

    #[test]
    fn whitespace_and_empty_secrets_are_refused() {
        let error = Secret::new("env", "whsec_abc\n")
            .validate(true)
            .unwrap_err();
        assert!(matches!(
            error,
            ConfigError::SecretWhitespace { position: 9, .. }
        ));
        assert!(error.to_string().contains("whitespace"));
        assert!(matches!(
            Secret::new("e", "").validate(false),
            Err(ConfigError::EmptySecret { .. })
        ));
        assert!(matches!(
            validate_all(&[Secret::new("a", "x"), Secret::new("a", "y")], false),
            Err(ConfigError::DuplicateSecretName { .. })
        ));
        assert!(matches!(
            validate_all(&[], false),
            Err(ConfigError::NoSecret)
        ));
        assert!(Secret::new("gh", "It's a Secret").validate(true).is_ok());
        assert!(Secret::new("gh", "It's a Secret").validate(false).is_err());
        assert!(Secret::new("gh", " lead").validate(true).is_err());
    }
}
