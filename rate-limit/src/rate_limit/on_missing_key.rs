//! What the layer does with a request whose key cannot be extracted: [`OnMissingKey`].

use serde::Deserialize;

/// What to do with a request whose key cannot be extracted (no peer address was
/// recorded, the API-key header is missing, no tenant was set).
///
/// ```
/// use portcullis_rate_limit::OnMissingKey;
/// assert_eq!(OnMissingKey::default(), OnMissingKey::Reject);
/// let policy: OnMissingKey = serde_json::from_str(r#""shared_key""#).unwrap();
/// assert_eq!(policy, OnMissingKey::SharedKey);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnMissingKey {
    /// Answer `400 Bad Request` with a `RATE_LIMIT_KEY_MISSING` problem naming the
    /// missing part.
    #[default]
    Reject,
    /// Let the request through unlimited. Only safe when another layer guarantees the
    /// key (an authentication layer that rejects anonymous requests first).
    Allow,
    /// Count every keyless request against one shared key.
    SharedKey,
}
