//! Any HMAC-SHA256 webhook, configured rather than coded: [`GenericScheme`].
//!
//! Set the signature header, an optional prefix (`sha256=`, `v1,`), hex or base64, a
//! signed-content template of `{body}`, `{timestamp}`, `{id}` and literal text, and
//! optionally the headers carrying the timestamp (then checked against a
//! [`Tolerance`]), the delivery id (then the idempotency key) and the event type. A
//! header may carry several signatures split by a separator.
//!
//! Enough for providers such as VAPI that sign the raw body, hex encoded:
//! `GenericScheme::builder("x-vapi-signature")`.
//!
//! # Example
//!
//! GitHub's scheme, written as a generic one:
//!
//! ```
//! use http::HeaderMap;
//! use portcullis_stripe_webhook::scheme::{Encoding, WebhookScheme, generic::GenericScheme};
//! use portcullis_stripe_webhook::secret::Secret;
//!
//! let scheme = GenericScheme::builder("x-hub-signature-256")
//!     .prefix("sha256=")
//!     .encoding(Encoding::Hex)
//!     .signed_content("{body}")
//!     .secret(Secret::new("github", "It's a Secret to Everybody"))
//!     .build()
//!     .unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert("x-hub-signature-256",
//!     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse().unwrap());
//! let verification = scheme.verify_request(&headers, b"Hello, World!", scheme.now()).unwrap();
//! assert_eq!(verification.secret(), "github");
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use hmac::Mac;
use http::{HeaderMap, HeaderName};
use portcullis_core::clock::{Clock, SystemClock};

use super::{
    Encoding, KeySet, RawEvent, Verification, WebhookScheme, header, header_string,
    parse_timestamp, unix_seconds,
};
use crate::error::{ConfigError, PayloadError, VerifyError};
use crate::secret::{Secret, validate_all};
use crate::tolerance::Tolerance;

/// A piece of the signed content.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    Body,
    Timestamp,
    Id,
}

fn parse_template(template: &str) -> Result<Vec<Part>, ConfigError> {
    let invalid = |reason| ConfigError::InvalidTemplate {
        template: template.to_owned(),
        reason,
    };
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                parts.push(Part::Literal(rest.as_bytes().to_vec()));
                break;
            }
            Some(index) => {
                if index > 0 {
                    parts.push(Part::Literal(rest.as_bytes()[..index].to_vec()));
                }
                if rest.as_bytes()[index] == b'}' {
                    return Err(invalid("a `}` without its `{`"));
                }
                let after = &rest[index + 1..];
                let end = after
                    .find('}')
                    .ok_or_else(|| invalid("a `{` without its `}`"))?;
                parts.push(match &after[..end] {
                    "body" => Part::Body,
                    "timestamp" => Part::Timestamp,
                    "id" => Part::Id,
                    _ => {
                        return Err(invalid(
                            "unknown placeholder (use {body}, {timestamp} or {id})",
                        ));
                    }
                });
                rest = &after[end + 1..];
            }
        }
    }
    if parts.iter().filter(|p| **p == Part::Body).count() != 1 {
        return Err(invalid("it must contain {body} exactly once"));
    }
    Ok(parts)
}

/// Builds a [`GenericScheme`]; [`build`](Self::build) checks the whole configuration.
#[derive(Clone, Debug)]
#[must_use]
pub struct GenericSchemeBuilder {
    signature_header: String,
    prefix: String,
    separator: Option<char>,
    encoding: Encoding,
    template: String,
    timestamp_header: Option<String>,
    id_header: Option<String>,
    type_header: Option<String>,
    tolerance: Tolerance,
    secrets: Vec<Secret>,
    clock: Option<Arc<dyn Clock>>,
}

impl GenericSchemeBuilder {
    /// The text before each signature (`sha256=`, `v1,`); default none. A signature
    /// without it is ignored.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Splits the header into several signatures at `separator` (a space, a comma);
    /// default: the header is one signature.
    pub fn separator(mut self, separator: char) -> Self {
        self.separator = Some(separator);
        self
    }

    /// How signatures are encoded (default [`Encoding::Hex`]).
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// What is signed: `{body}` (exactly once), optionally `{timestamp}` and `{id}`,
    /// and literal text. Default `{body}`.
    pub fn signed_content(mut self, template: impl Into<String>) -> Self {
        self.template = template.into();
        self
    }

    /// The header carrying the Unix timestamp; with one, it is checked against the
    /// [`tolerance`](Self::tolerance). Default none.
    pub fn timestamp_header(mut self, name: impl Into<String>) -> Self {
        self.timestamp_header = Some(name.into());
        self
    }

    /// The header carrying the delivery id: the idempotency key. Default none.
    pub fn id_header(mut self, name: impl Into<String>) -> Self {
        self.id_header = Some(name.into());
        self
    }

    /// The header naming the event type, passed to the handler. Default none.
    pub fn type_header(mut self, name: impl Into<String>) -> Self {
        self.type_header = Some(name.into());
        self
    }

    /// The timestamp tolerance (default 300 s past, 30 s future).
    pub fn tolerance(mut self, tolerance: impl Into<Tolerance>) -> Self {
        self.tolerance = tolerance.into();
        self
    }

    /// Adds a secret (its bytes are the HMAC key; use [`Secret::from_bytes`] for a
    /// decoded binary key).
    pub fn secret(mut self, secret: Secret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Sets the clock (default the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks the configuration and builds the scheme.
    ///
    /// ```
    /// # use portcullis_stripe_webhook::error::ConfigError;
    /// # use portcullis_stripe_webhook::scheme::generic::GenericScheme;
    /// # use portcullis_stripe_webhook::secret::Secret;
    /// let error = GenericScheme::builder("x-signature")
    ///     .signed_content("{timestamp}.{body}")   // but no timestamp header
    ///     .secret(Secret::new("a", "s"))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(error, ConfigError::InvalidTemplate { .. }));
    /// ```
    pub fn build(self) -> Result<GenericScheme, ConfigError> {
        let header_name = |name: &str| {
            HeaderName::try_from(name).map_err(|source| ConfigError::InvalidHeaderName {
                name: name.to_owned(),
                source,
            })
        };
        let template = parse_template(&self.template)?;
        let invalid = |reason| ConfigError::InvalidTemplate {
            template: self.template.clone(),
            reason,
        };
        if template.contains(&Part::Timestamp) && self.timestamp_header.is_none() {
            return Err(invalid("{timestamp} needs a timestamp header"));
        }
        if template.contains(&Part::Id) && self.id_header.is_none() {
            return Err(invalid("{id} needs an id header"));
        }
        validate_all(&self.secrets, true)?;
        Ok(GenericScheme {
            signature_header: header_name(&self.signature_header)?,
            prefix: self.prefix.into_bytes(),
            separator: self.separator,
            encoding: self.encoding,
            template,
            timestamp_header: self
                .timestamp_header
                .as_deref()
                .map(header_name)
                .transpose()?,
            id_header: self.id_header.as_deref().map(header_name).transpose()?,
            type_header: self.type_header.as_deref().map(header_name).transpose()?,
            tolerance: self.tolerance,
            keys: KeySet::new(self.secrets.iter().map(|s| (s.shared_name(), s.expose()))),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
        })
    }
}

/// A configured HMAC-SHA256 scheme. See the [module docs](self).
///
/// ```
/// use http::HeaderMap;
/// use portcullis_stripe_webhook::scheme::{WebhookScheme, generic::GenericScheme};
/// use portcullis_stripe_webhook::secret::Secret;
///
/// let scheme = GenericScheme::builder("x-vapi-signature")
///     .secret(Secret::new("vapi", "server-secret"))
///     .build()
///     .unwrap();
/// let body = br#"{"message":{"type":"end-of-call-report"}}"#;
/// let mut headers = HeaderMap::new();
/// headers.insert("x-vapi-signature", scheme.sign(body, None, None).parse().unwrap());
/// assert!(scheme.verify_request(&headers, body, scheme.now()).is_ok());
/// ```
#[derive(Clone)]
pub struct GenericScheme {
    signature_header: HeaderName,
    prefix: Vec<u8>,
    separator: Option<char>,
    encoding: Encoding,
    template: Vec<Part>,
    timestamp_header: Option<HeaderName>,
    id_header: Option<HeaderName>,
    type_header: Option<HeaderName>,
    tolerance: Tolerance,
    keys: KeySet,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for GenericScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericScheme")
            .field("signature_header", &self.signature_header)
            .field("encoding", &self.encoding)
            .field("template", &self.template)
            .field("timestamp_header", &self.timestamp_header)
            .field("id_header", &self.id_header)
            .field("secrets", &self.keys)
            .finish_non_exhaustive()
    }
}

impl GenericScheme {
    /// A builder for a scheme whose signature is in `signature_header`.
    pub fn builder(signature_header: impl Into<String>) -> GenericSchemeBuilder {
        GenericSchemeBuilder {
            signature_header: signature_header.into(),
            prefix: String::new(),
            separator: None,
            encoding: Encoding::Hex,
            template: "{body}".to_owned(),
            timestamp_header: None,
            id_header: None,
            type_header: None,
            tolerance: Tolerance::default(),
            secrets: Vec::new(),
            clock: None,
        }
    }

    fn feed(&self, mac: &mut hmac::Hmac<sha2::Sha256>, body: &[u8], timestamp: &[u8], id: &[u8]) {
        for part in &self.template {
            mac.update(match part {
                Part::Literal(text) => text,
                Part::Body => body,
                Part::Timestamp => timestamp,
                Part::Id => id,
            });
        }
    }

    /// The signature header value of a message signed with the first secret: for your
    /// tests. `timestamp` and `id` fill the template's placeholders.
    ///
    /// ```
    /// use portcullis_stripe_webhook::scheme::generic::GenericScheme;
    /// use portcullis_stripe_webhook::secret::Secret;
    /// let scheme = GenericScheme::builder("x-hub-signature-256").prefix("sha256=")
    ///     .secret(Secret::new("gh", "It's a Secret to Everybody")).build().unwrap();
    /// assert_eq!(
    ///     scheme.sign(b"Hello, World!", None, None),
    ///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    /// );
    /// ```
    pub fn sign(&self, body: &[u8], timestamp: Option<i64>, id: Option<&str>) -> String {
        let timestamp = timestamp.map(|t| t.to_string()).unwrap_or_default();
        let id = id.unwrap_or_default();
        let tag = self.keys.tag_with(0, |mac| {
            self.feed(mac, body, timestamp.as_bytes(), id.as_bytes())
        });
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.prefix),
            self.encoding.encode(&tag)
        )
    }
}

impl WebhookScheme for GenericScheme {
    type Event = RawEvent;

    fn name(&self) -> &'static str {
        "generic"
    }

    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn verify_request(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        received_at: SystemTime,
    ) -> Result<Verification, VerifyError> {
        let signatures = header(headers, &self.signature_header)?;
        let (timestamp_text, timestamp) = match &self.timestamp_header {
            Some(name) => {
                let text = header(headers, name)?.trim_ascii();
                let value = parse_timestamp(text).ok_or_else(|| VerifyError::MalformedHeader {
                    header: name.clone(),
                    reason: "not a Unix time",
                })?;
                (text, Some(value))
            }
            None => (&b""[..], None),
        };
        let id = match &self.id_header {
            Some(name) => header(headers, name)?,
            None => b"",
        };
        let mut separator = [0; 4];
        let separator: &[u8] = match self.separator {
            Some(c) => c.encode_utf8(&mut separator).as_bytes(),
            None => &[],
        };
        let items = split(signatures, separator).filter_map(|item| {
            let item = item.trim_ascii();
            item.strip_prefix(self.prefix.as_slice())
        });
        let count = items.clone().count();
        if count == 0 {
            return Err(VerifyError::NoSignature {
                scheme: "hmac-sha256",
            });
        }
        let decoded = items.filter_map(|text| self.encoding.decode(text));
        let found = self
            .keys
            .find_with(|mac| self.feed(mac, body, timestamp_text, id), decoded);
        let Some(secret) = found else {
            return Err(VerifyError::Mismatch {
                candidates: count,
                secrets: self.keys.len(),
            });
        };
        if let Some(timestamp) = timestamp {
            self.tolerance.check(timestamp, unix_seconds(received_at))?;
        }
        Ok(Verification::new(secret.clone(), timestamp))
    }

    fn event(
        &self,
        headers: &HeaderMap,
        body: &Bytes,
        _verification: &Verification,
    ) -> Result<RawEvent, PayloadError> {
        let id = self
            .id_header
            .as_ref()
            .and_then(|n| header_string(headers, n));
        let kind = self
            .type_header
            .as_ref()
            .and_then(|n| header_string(headers, n));
        Ok(RawEvent::new(id, kind, body.clone()))
    }

    fn event_id<'a>(&self, event: &'a RawEvent) -> Option<&'a str> {
        event.id()
    }
}

/// Splits at every occurrence of `separator`; an empty separator yields the whole.
fn split<'a>(text: &'a [u8], separator: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + Clone {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        if separator.is_empty() {
            rest = None;
            return Some(current);
        }
        match current
            .windows(separator.len())
            .position(|window| window == separator)
        {
            Some(index) => {
                rest = Some(&current[index + separator.len()..]);
                Some(&current[..index])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn github_vector_through_the_generic_scheme() {
        let scheme = GenericScheme::builder("x-hub-signature-256")
            .prefix("sha256=")
            .secret(Secret::new("gh", "It's a Secret to Everybody"))
            .build()
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                .parse()
                .unwrap(),
        );
        let at = UNIX_EPOCH;
        assert!(
            scheme
                .verify_request(&headers, b"Hello, World!", at)
                .is_ok()
        );
        assert!(
            scheme
                .verify_request(&headers, b"Hello, World", at)
                .is_err()
        );
    }

    #[test]
    fn standard_webhooks_vector_through_the_generic_scheme() {
        let key = crate::scheme::decode_base64_secret(b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let scheme = GenericScheme::builder("webhook-signature")
            .prefix("v1,")
            .separator(' ')
            .encoding(Encoding::Base64)
            .signed_content("{id}.{timestamp}.{body}")
            .timestamp_header("webhook-timestamp")
            .id_header("webhook-id")
            .secret(Secret::from_bytes("std", key))
            .build()
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "webhook-id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().unwrap(),
        );
        headers.insert("webhook-timestamp", "1614265330".parse().unwrap());
        headers.insert(
            "webhook-signature",
            "v1a,xyz v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
                .parse()
                .unwrap(),
        );
        let body = br#"{"test": 2432232314}"#;
        let at = UNIX_EPOCH + Duration::from_secs(1_614_265_330);
        let verification = scheme.verify_request(&headers, body, at).unwrap();
        assert_eq!(verification.timestamp(), Some(1_614_265_330));
        let event = scheme
            .event(&headers, &Bytes::from_static(body), &verification)
            .unwrap();
        assert_eq!(
            scheme.event_id(&event),
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek")
        );
        // Stale a day later.
        assert!(matches!(
            scheme.verify_request(&headers, body, at + Duration::from_secs(86_400)),
            Err(VerifyError::TimestampTooOld { .. })
        ));
    }

    #[test]
    fn vapi_style_raw_body_hex() {
        let scheme = GenericScheme::builder("x-vapi-signature")
            .secret(Secret::new("vapi", "server-secret"))
            .build()
            .unwrap();
        let body = br#"{"message":{}}"#;
        let signature = scheme.sign(body, None, None);
        assert_eq!(signature.len(), 64);
        let mut headers = HeaderMap::new();
        headers.insert("x-vapi-signature", signature.parse().unwrap());
        assert!(scheme.verify_request(&headers, body, UNIX_EPOCH).is_ok());
    }

    #[test]
    fn templates_are_checked() {
        for (template, ok) in [
            ("{body}", true),
            ("prefix:{body}:suffix", true),
            ("{body}{body}", false),
            ("{timestamp}", false),
            ("{bdy}", false),
            ("{body", false),
            ("body}", false),
            ("", false),
        ] {
            assert_eq!(parse_template(template).is_ok(), ok, "{template}");
        }
        assert!(matches!(
            GenericScheme::builder("bad header")
                .secret(Secret::new("a", "b"))
                .build(),
            Err(ConfigError::InvalidHeaderName { .. })
        ));
        assert!(matches!(
            GenericScheme::builder("x-s").build(),
            Err(ConfigError::NoSecret)
        ));
    }

    #[test]
    fn split_at_separators() {
        let parts: Vec<&[u8]> = split(b"a  b", b" ").collect();
        assert_eq!(parts, [&b"a"[..], b"", b"b"]);
        assert_eq!(split(b"ab", b"").count(), 1);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_panic(
            signature in proptest::prelude::any::<Vec<u8>>(),
            timestamp in "[0-9-]{0,25}",
        ) {
            let scheme = GenericScheme::builder("x-s")
                .prefix("v1=")
                .separator(',')
                .signed_content("{timestamp}.{body}")
                .timestamp_header("x-t")
                .secret(Secret::new("a", "b"))
                .build()
                .unwrap();
            let mut headers = HeaderMap::new();
            if let Ok(value) = http::HeaderValue::from_bytes(&signature) {
                headers.insert("x-s", value);
            }
            if let Ok(value) = http::HeaderValue::from_str(&timestamp) {
                headers.insert("x-t", value);
            }
            let _ = scheme.verify_request(&headers, b"{}", UNIX_EPOCH);
        }
    }
}
