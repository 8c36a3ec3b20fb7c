//! The `WWW-Authenticate` challenges of refusals
//! ([RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)) and their realm.

use http::HeaderValue;

/// The realm of `WWW-Authenticate` challenges unless configured: `api`.
///
/// ```
/// assert_eq!(portcullis_api_keys::api_key::DEFAULT_REALM, "api");
/// ```
pub const DEFAULT_REALM: &str = "api";

/// Whether `realm` can stand in a quoted string: 1 to 128 visible ASCII characters
/// or spaces, without `"` or `\`.
pub(crate) fn is_valid_realm(realm: &str) -> bool {
    (1..=128).contains(&realm.len())
        && realm
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// A `Bearer` challenge ([RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)).
/// The realm is validated and scope tokens have no `"` or `\`, so the value is valid;
/// the bare `Bearer` challenge stands in should it not be.
pub(crate) fn challenge(realm: &str, error: Option<&str>, scope: Option<&str>) -> HeaderValue {
    let mut value = format!("Bearer realm=\"{realm}\"");
    if let Some(error) = error {
        value.push_str(", error=\"");
        value.push_str(error);
        value.push('"');
    }
    if let Some(scope) = scope {
        value.push_str(", scope=\"");
        value.push_str(scope);
        value.push('"');
    }
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// The challenges a layer answers with, built once per realm.
#[derive(Clone, Debug)]
pub(crate) struct Challenges {
    /// No key: no error code (RFC 6750 §3.1).
    pub(crate) missing: HeaderValue,
    pub(crate) invalid_token: HeaderValue,
    pub(crate) invalid_request: HeaderValue,
}

impl Challenges {
    pub(crate) fn new(realm: &str) -> Self {
        Self {
            missing: challenge(realm, None, None),
            invalid_token: challenge(realm, Some("invalid_token"), None),
            invalid_request: challenge(realm, Some("invalid_request"), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc_6750() {
        let challenges = Challenges::new("billing api");
        assert_eq!(challenges.missing, "Bearer realm=\"billing api\"");
        assert_eq!(
            challenges.invalid_token,
            "Bearer realm=\"billing api\", error=\"invalid_token\""
        );
        assert_eq!(
            challenge("api", Some("insufficient_scope"), Some("a:read b")),
            "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"a:read b\""
        );
    }

    #[test]
    fn realms_that_would_break_the_quoted_string_are_invalid() {
        for good in ["api", "Billing API", "x"] {
            assert!(is_valid_realm(good), "{good}");
        }
        for bad in ["", "a\"b", "a\\b", "é", "a\nb", &"r".repeat(129)] {
            assert!(!is_valid_realm(bad), "{bad:?}");
        }
    }
}
