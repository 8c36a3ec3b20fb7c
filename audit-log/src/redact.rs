//! Redaction: secrets become searchable HMACs, never text.
//!
//! A [`Redactor`] holds a per-deployment secret and two deny-lists. Every value it
//! redacts becomes `hmac-sha256:<hex>`, the HMAC-SHA256 of the value under that
//! secret: the same value always gives the same hash, so an operator who knows a
//! leaked token can find every request that carried it with
//! [`hash_for_search`](Redactor::hash_for_search), but nobody reading the log learns a
//! secret (as Vault's audit devices do).
//!
//! What is redacted by default:
//!
//! - **Headers**: `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`,
//!   `X-API-Key`, `Stripe-Signature`.
//! - **Query parameters, form fields and JSON body keys** whose name contains
//!   `password`, `passwd`, `secret`, `token`, `api_key` (`apikey`, `api-key`),
//!   `authorization`, `card_number`, `cvv` or `cvc`, compared case-insensitively and
//!   ignoring `_`, `-` and `.`. Under a denied JSON key every leaf is hashed: strings,
//!   numbers and booleans alike (a `null` stays `null`).
//! - **Card numbers anywhere**: a run of 13 to 19 digits (spaces or dashes allowed
//!   between them) that passes the Luhn check, in any string or number.
//! - **Secrets anywhere, by their shape**: API keys (`sk_live_…` of any Portcullis key
//!   format, so everything the published scanner pattern
//!   [`API_KEY_SCANNER_PATTERN`](portcullis_core::secret::API_KEY_SCANNER_PATTERN)
//!   matches, and Stripe's `sk_`, `rk_`, `pk_` keys), Stripe webhook secrets
//!   (`whsec_…`), JWTs (`eyJ….….…`) and bearer credentials (`Bearer …`), as
//!   [`portcullis_core::secret`] finds them. Each one becomes the hash of exactly that
//!   secret, in place: `?key=sk_live_…` is recorded as `?key=hmac-sha256:…`, a note
//!   `"mine is sk_live_…"` as `"mine is hmac-sha256:…"`, so
//!   [`hash_for_search`](Redactor::hash_for_search) of a leaked key finds every request
//!   that carried it, wherever it was. In the URL path, a query string or a form body
//!   the unit is the segment, parameter name or value holding it (hashed
//!   percent-decoded); where a header name, a JSON key or a method holds one, the name
//!   is replaced. Whatever still matches a shape after that (secrets glued together
//!   in contrived ways) is hashed whole.
//!
//! The layer applies these to everything it records from the request and the
//! response: the path, the query, the method, the user agent, the header names and
//! values, the request ids, JSON bodies (keys and leaves at any depth), form bodies,
//! raw bodies, and the principal and labels that enrichers add.
//! # Example
//!
//! ```
//! use portcullis_audit_log::redact::Redactor;
//!
//! let redactor = Redactor::new(b"per-deployment secret from your vault");
//! let query = redactor.redact_query("page=2&api_key=sk_live_123");
//! assert_eq!(query, format!("page=2&api_key={}", redactor.hash_for_search("sk_live_123")));
//!
//! let mut body = serde_json::json!({"user": "ada", "password": "hunter2", "pin": 4242,
//!                                   "card": "4111 1111 1111 1111"});
//! redactor.redact_json(&mut body);
//! assert_eq!(body["user"], "ada");
//! assert_eq!(body["password"], redactor.hash_for_search("hunter2"));
//! assert_eq!(body["card"], redactor.hash_for_search("4111 1111 1111 1111"));
//! assert!(!body.to_string().contains("hunter2"));
//!
//! // By value: an API key in a parameter or a field of any name.
//! let key = "sk_live_C8ug9ZwB5ScTqEBm1hj5BDKgLNeYYhVOmoiWTksUla50QOcyb";
//! let query = redactor.redact_query(&format!("key={key}&page=2"));
//! assert_eq!(query, format!("key={}&page=2", redactor.hash_for_search(key)));
//! let mut body = serde_json::json!({"comment": format!("my key is {key}")});
//! redactor.redact_json(&mut body);
//! assert_eq!(body["comment"], format!("my key is {}", redactor.hash_for_search(key)));
//! ```

use std::borrow::Cow;
use std::fmt;

use hmac::{Hmac, Mac};
use http::{HeaderName, Method};
use portcullis_core::secret::{contains_secret, find_secrets};
use sha2::Sha256;

use crate::json::hex;

/// The prefix of every redacted value.
pub const HASH_PREFIX: &str = "hmac-sha256:";

/// The headers redacted by default.
pub const DEFAULT_DENIED_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "stripe-signature",
];

/// The name fragments that make a query parameter, form field or JSON key secret, in
/// their normalized form (lower case, without `_`, `-` and `.`).
pub const DEFAULT_DENIED_KEYS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cardnumber",
    "cvv",
    "cvc",
];

/// Turns secrets into `hmac-sha256:<hex>`; see the [module docs](self).
///
/// Its `Debug` output never shows the secret.
///
/// ```
/// use portcullis_audit_log::redact::Redactor;
/// let redactor = Redactor::new(b"k").deny_key("ssn").deny_header(http::HeaderName::from_static("x-session"));
/// assert!(redactor.is_denied_key("customer_SSN"));
/// assert!(redactor.is_denied_header(&http::HeaderName::from_static("x-session")));
/// assert!(!format!("{redactor:?}").contains("k\""));
/// ```
#[derive(Clone)]
pub struct Redactor {
    mac: Hmac<Sha256>,
    headers: Vec<HeaderName>,
    keys: Vec<String>,
    cards: bool,
    secrets: bool,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secret", &"…")
            .field("headers", &self.headers)
            .field("keys", &self.keys)
            .field("cards", &self.cards)
            .field("secrets", &self.secrets)
            .finish()
    }
}

impl Default for Redactor {
    /// A redactor with a random secret: hashes are searchable only within this
    /// process. Production sets a stable secret with [`Redactor::new`].
    fn default() -> Self {
        Self::random()
    }
}

impl Redactor {
    /// A redactor keyed by this per-deployment `secret`, with the default deny-lists.
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let a = Redactor::new(b"one");
    /// let b = Redactor::new(b"two");
    /// assert_ne!(a.hash_for_search("x"), b.hash_for_search("x"));
    /// ```
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self {
            mac: keyed(secret.as_ref()),
            headers: DEFAULT_DENIED_HEADERS
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect(),
            keys: DEFAULT_DENIED_KEYS
                .iter()
                .map(|key| key.to_string())
                .collect(),
            cards: true,
            secrets: true,
        }
    }

    /// A redactor with a random 32-byte secret, for development and tests.
    pub fn random() -> Self {
        Self::new(rand::random::<[u8; 32]>())
    }

    /// The same deny-lists under another secret.
    #[must_use]
    pub fn with_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.mac = keyed(secret.as_ref());
        self
    }

    /// Also redacts this header.
    #[must_use]
    pub fn deny_header(mut self, name: HeaderName) -> Self {
        if !self.headers.contains(&name) {
            self.headers.push(name);
        }
        self
    }

    /// Also redacts query parameters, form fields and JSON keys whose name contains
    /// `fragment` (compared case-insensitively, ignoring `_`, `-` and `.`).
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::random().deny_key("Social-Security");
    /// assert!(redactor.is_denied_key("social_security_number"));
    /// ```
    #[must_use]
    pub fn deny_key(mut self, fragment: &str) -> Self {
        let fragment = normalize(fragment);
        if !fragment.is_empty() && !self.keys.contains(&fragment) {
            self.keys.push(fragment);
        }
        self
    }

    /// Whether card numbers (Luhn-valid runs of 13 to 19 digits) are redacted wherever
    /// they appear; on by default.
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::random().redact_card_numbers(false);
    /// assert_eq!(redactor.redact_text("4111111111111111"), "4111111111111111");
    /// ```
    #[must_use]
    pub fn redact_card_numbers(mut self, on: bool) -> Self {
        self.cards = on;
        self
    }

    /// Whether secrets are redacted by their shape wherever they appear (API keys,
    /// Stripe webhook secrets, JWTs, bearer credentials; see the
    /// [module docs](self)); on by default.
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2ln";
    /// let redactor = Redactor::new(b"k");
    /// assert_eq!(redactor.redact_text(jwt), redactor.hash_for_search(jwt));
    /// assert_eq!(redactor.redact_secret_values(false).redact_text(jwt), jwt);
    /// ```
    #[must_use]
    pub fn redact_secret_values(mut self, on: bool) -> Self {
        self.secrets = on;
        self
    }

    /// `hmac-sha256:<hex>` of `value`: what the log holds wherever `value` was
    /// redacted. Numbers and booleans are hashed as their JSON text (`4242`, `true`).
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::new(b"secret");
    /// let hash = redactor.hash_for_search("sk_live_123");
    /// assert!(hash.starts_with("hmac-sha256:"));
    /// assert_eq!(hash.len(), "hmac-sha256:".len() + 64);
    /// ```
    pub fn hash_for_search(&self, value: &str) -> String {
        self.hash_bytes(value.as_bytes())
    }

    /// [`hash_for_search`](Self::hash_for_search) of raw bytes.
    pub fn hash_bytes(&self, value: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(value);
        let mut text = String::with_capacity(HASH_PREFIX.len() + 64);
        text.push_str(HASH_PREFIX);
        text.push_str(&hex(&mac.finalize().into_bytes()));
        text
    }

    /// Whether this header's value is redacted.
    pub fn is_denied_header(&self, name: &HeaderName) -> bool {
        self.headers.contains(name)
    }

    /// Whether a query parameter, form field or JSON key of this name is redacted.
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::random();
    /// assert!(redactor.is_denied_key("X-Api-Key"));
    /// assert!(redactor.is_denied_key("refresh_token"));
    /// assert!(!redactor.is_denied_key("page"));
    /// ```
    pub fn is_denied_key(&self, name: &str) -> bool {
        // Most names are short ASCII: normalize them on the stack.
        let mut buffer = [0u8; 64];
        if name.is_ascii() && name.len() <= buffer.len() {
            let mut len = 0;
            for byte in name.bytes() {
                if !matches!(byte, b'_' | b'-' | b'.' | b' ') {
                    buffer[len] = byte.to_ascii_lowercase();
                    len += 1;
                }
            }
            let name = &buffer[..len];
            return self.keys.iter().any(|fragment| {
                let fragment = fragment.as_bytes();
                fragment.is_empty()
                    || fragment.len() <= name.len()
                        && name
                            .windows(fragment.len())
                            .any(|window| window == fragment)
            });
        }
        let name = normalize(name);
        self.keys
            .iter()
            .any(|fragment| name.contains(fragment.as_str()))
    }

    /// A free-text value as recorded: the whole value becomes the hash when it holds
    /// a card number; each secret in it becomes the hash of that secret
    /// ([`redact_secrets`](Self::redact_secrets)); otherwise it is returned unchanged.
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::new(b"k");
    /// assert_eq!(redactor.redact_text("order 42"), "order 42");
    /// assert_eq!(redactor.redact_text("pay 4242-4242-4242-4242"), redactor.hash_for_search("pay 4242-4242-4242-4242"));
    /// assert_eq!(
    ///     redactor.redact_text("token whsec_0123456789abcdef"),
    ///     format!("token {}", redactor.hash_for_search("whsec_0123456789abcdef")),
    /// );
    /// ```
    pub fn redact_text<'a>(&self, value: &'a str) -> Cow<'a, str> {
        if self.cards && contains_card_number(value) {
            Cow::Owned(self.hash_for_search(value))
        } else {
            self.redact_secrets(value)
        }
    }

    /// `text` with each secret [`portcullis_core::secret`] finds in it replaced by
    /// the hash of that secret (overlapping ones together); the whole text hashed if
    /// the result still holds one; `text` itself when there is none (no allocation).
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::new(b"k");
    /// let key = "sk_test_C8ug9ZwB5ScTqEBm1hj5BDKgLNeYYhVOmoiWTksUla50QOcyb";
    /// let text = format!("curl -H 'Authorization: Bearer {key}'");
    /// assert_eq!(
    ///     redactor.redact_secrets(&text),
    ///     format!("curl -H 'Authorization: Bearer {}'", redactor.hash_for_search(key)),
    /// );
    /// assert!(matches!(redactor.redact_secrets("no secret"), std::borrow::Cow::Borrowed(_)));
    /// ```
    pub fn redact_secrets<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.secrets {
            return Cow::Borrowed(text);
        }
        let mut found = find_secrets(text).peekable();
        if found.peek().is_none() {
            return Cow::Borrowed(text);
        }
        let mut spans: Vec<std::ops::Range<usize>> = found.map(|found| found.range).collect();
        spans.sort_unstable_by_key(|span| span.start);
        let mut out = String::with_capacity(text.len() + HASH_PREFIX.len() + 64);
        let mut copied = 0;
        let mut spans = spans.into_iter().peekable();
        while let Some(mut span) = spans.next() {
            while let Some(next) = spans.next_if(|next| next.start <= span.end) {
                span.end = span.end.max(next.end);
            }
            out.push_str(&text[copied..span.start]);
            out.push_str(&self.hash_for_search(&text[span.clone()]));
            copied = span.end;
        }
        out.push_str(&text[copied..]);
        if contains_secret(&out) {
            // A hash glued to its surroundings formed a new shape: give up the context.
            return Cow::Owned(self.hash_for_search(text));
        }
        Cow::Owned(out)
    }

    /// Whether `text` holds a secret this redactor replaces by its shape.
    pub(crate) fn has_secret(&self, text: &str) -> bool {
        self.secrets && contains_secret(text)
    }

    /// Whether `raw` or its percent-decoded form holds a secret (the decoded form
    /// scanned only when it differs).
    fn has_secret_either(&self, raw: &str, decoded: &str) -> bool {
        self.has_secret(raw) || (decoded != raw && self.has_secret(decoded))
    }

    /// A header name as recorded: itself, or `hmac-sha256-<hex>` (a header name
    /// cannot hold the `:` of the hash) when it holds a secret.
    ///
    /// ```
    /// use http::HeaderName;
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::new(b"k");
    /// let odd = HeaderName::from_static("x-whsec_0123456789abcdef");
    /// let recorded = redactor.redact_header_name(&odd);
    /// assert_eq!(recorded.as_str(), redactor.hash_for_search("x-whsec_0123456789abcdef").replace(':', "-"));
    /// assert_eq!(redactor.redact_header_name(&http::header::ACCEPT), http::header::ACCEPT);
    /// ```
    pub fn redact_header_name(&self, name: &HeaderName) -> HeaderName {
        if !self.has_secret(name.as_str()) {
            return name.clone();
        }
        let token = self.hash_for_search(name.as_str()).replace(':', "-");
        // Lower-case letters, digits and `-`: always a valid header name.
        HeaderName::from_bytes(token.as_bytes()).unwrap_or_else(|_| name.clone())
    }

    /// A request method as recorded: itself, or `hmac-sha256-<hex>` when an extension
    /// method holds a secret.
    pub(crate) fn redact_method(&self, method: &Method) -> Option<Method> {
        if !self.has_secret(method.as_str()) {
            return None;
        }
        let token = self.hash_for_search(method.as_str()).replace(':', "-");
        Method::from_bytes(token.as_bytes()).ok()
    }

    /// A URL path as recorded, appended to `out`: each segment holding a secret
    /// becomes the hash of the segment (percent-decoded), the rest is kept as written.
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::new(b"k");
    /// let key = "sk_live_C8ug9ZwB5ScTqEBm1hj5BDKgLNeYYhVOmoiWTksUla50QOcyb";
    /// let mut path = String::new();
    /// redactor.redact_path_into(&format!("/v1/keys/{key}/usage"), &mut path);
    /// assert_eq!(path, format!("/v1/keys/{}/usage", redactor.hash_for_search(key)));
    /// ```
    pub fn redact_path_into(&self, path: &str, out: &mut String) {
        let start = out.len();
        if !self.has_secret(path) && !path.contains('%') {
            out.push_str(path);
            return;
        }
        for (index, segment) in split_ascii(path, b'/').enumerate() {
            if index > 0 {
                out.push('/');
            }
            let decoded = percent_decode_with(segment, false);
            if self.has_secret_either(segment, &decoded) {
                out.push_str(&self.hash_for_search(&decoded));
            } else {
                out.push_str(segment);
            }
        }
        if self.has_secret(&out[start..]) {
            out.truncate(start);
            out.push_str(&self.hash_for_search(path));
        }
    }

    /// A header value as recorded: hashed when the header is denied or holds a card
    /// number, hashed when it is not visible text, with its secrets hashed otherwise
    /// ([`redact_text`](Self::redact_text)).
    ///
    /// ```
    /// use http::{HeaderName, HeaderValue};
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::new(b"k");
    /// let value = HeaderValue::from_static("Bearer abc");
    /// assert_eq!(redactor.redact_header(&http::header::AUTHORIZATION, &value), redactor.hash_for_search("Bearer abc"));
    /// assert_eq!(redactor.redact_header(&http::header::ACCEPT, &HeaderValue::from_static("*/*")), "*/*");
    /// ```
    pub fn redact_header(&self, name: &HeaderName, value: &http::HeaderValue) -> String {
        match value.to_str() {
            Ok(text) if !self.is_denied_header(name) => self.redact_text(text).into_owned(),
            _ => self.hash_bytes(value.as_bytes()),
        }
    }

    /// A query string (or `application/x-www-form-urlencoded` body) with the values of
    /// denied parameters, and values holding card numbers or secrets, replaced by
    /// their hash (of the percent-decoded value); a name holding a secret is replaced
    /// by its hash too. Other names and values are kept as written.
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::new(b"k");
    /// let redacted = redactor.redact_query("q=shoes&Password=p%40ss&flag");
    /// assert_eq!(redacted, format!("q=shoes&Password={}&flag", redactor.hash_for_search("p@ss")));
    /// let key = "sk_live_C8ug9ZwB5ScTqEBm1hj5BDKgLNeYYhVOmoiWTksUla50QOcyb";
    /// let redacted = redactor.redact_query(&format!("access_key={key}"));
    /// assert_eq!(redacted, format!("access_key={}", redactor.hash_for_search(key)));
    /// ```
    pub fn redact_query(&self, query: &str) -> String {
        let mut out = String::with_capacity(query.len());
        self.redact_query_into(query, &mut out);
        out
    }

    /// [`redact_query`](Self::redact_query), appended to `out`.
    pub(crate) fn redact_query_into(&self, query: &str, out: &mut String) {
        out.reserve(query.len());
        let start = out.len();
        // Split on the ASCII `&` and `=` by bytes: `str::split` with a char pattern
        // verifies each match with a `memcmp` call, a good part of a short query's cost.
        for (index, pair) in split_ascii(query, b'&').enumerate() {
            if index > 0 {
                out.push('&');
            }
            let split = pair
                .bytes()
                .position(|byte| byte == b'=')
                .map(|at| (&pair[..at], &pair[at + 1..]));
            match split {
                Some((name, value)) => {
                    let decoded = percent_decode(value);
                    let decoded_name = percent_decode(name);
                    if self.has_secret_either(name, &decoded_name) {
                        out.push_str(&self.hash_for_search(&decoded_name));
                    } else {
                        out.push_str(name);
                    }
                    out.push('=');
                    if self.is_denied_key(&decoded_name)
                        || (self.cards && contains_card_number(&decoded))
                        || self.has_secret_either(value, &decoded)
                    {
                        out.push_str(&self.hash_for_search(&decoded));
                    } else {
                        out.push_str(value);
                    }
                }
                None => {
                    let decoded = percent_decode(pair);
                    if self.has_secret_either(pair, &decoded) {
                        out.push_str(&self.hash_for_search(&decoded));
                    } else {
                        out.push_str(pair);
                    }
                }
            }
        }
        // A secret spread over several parameters (a form body's raw spaces): the
        // whole text becomes its hash.
        if self.has_secret(&out[start..]) {
            out.truncate(start);
            out.push_str(&self.hash_for_search(query));
        }
    }

    /// Redacts a JSON document in place: every leaf under a denied key is hashed,
    /// every string or number holding a card number, each secret in a string (see
    /// [`redact_text`](Self::redact_text)), and each key holding a secret, at any
    /// depth.
    ///
    /// ```
    /// use portcullis_audit_log::redact::Redactor;
    /// let redactor = Redactor::new(b"k");
    /// let mut value = serde_json::json!({"auth": {"refresh_token": ["a", 7, true, null]}});
    /// redactor.redact_json(&mut value);
    /// assert_eq!(value["auth"]["refresh_token"][0], redactor.hash_for_search("a"));
    /// assert_eq!(value["auth"]["refresh_token"][1], redactor.hash_for_search("7"));
    /// assert_eq!(value["auth"]["refresh_token"][2], redactor.hash_for_search("true"));
    /// assert!(value["auth"]["refresh_token"][3].is_null());
    /// ```
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if self.is_denied_key(key) {
                        self.hash_all(child);
                    } else {
                        self.redact_json(child);
                    }
                }
                self.redact_keys(map);
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact_json(item)),
            Value::String(text) => {
                if let Cow::Owned(hash) = self.redact_text(text) {
                    *value = Value::String(hash);
                }
            }
            Value::Number(number) => {
                let text = number.to_string();
                if self.cards && contains_card_number(&text) {
                    *value = Value::String(self.hash_for_search(&text));
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Replaces the keys of `map` that hold a secret (rare: the map is rebuilt then).
    fn redact_keys(&self, map: &mut serde_json::Map<String, serde_json::Value>) {
        if map.keys().any(|key| self.has_secret(key)) {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(key, child)| (self.redact_secrets(&key).into_owned(), child))
                .collect();
        }
    }

    fn hash_all(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                map.values_mut().for_each(|child| self.hash_all(child));
                self.redact_keys(map);
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.hash_all(item)),
            Value::String(text) => *value = Value::String(self.hash_for_search(text)),
            Value::Number(number) => {
                *value = Value::String(self.hash_for_search(&number.to_string()));
            }
            Value::Bool(flag) => {
                *value = Value::String(self.hash_for_search(if *flag { "true" } else { "false" }));
            }
            Value::Null => {}
        }
    }
}

fn keyed(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// `text.split(separator as char)` for an ASCII separator.
fn split_ascii(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    debug_assert!(separator.is_ascii());
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(|byte| byte == separator) {
            Some(at) => {
                rest = Some(&current[at + 1..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Decodes `%XX` escapes and `+` (as a space), lossily.
fn percent_decode(text: &str) -> Cow<'_, str> {
    percent_decode_with(text, true)
}

/// Decodes `%XX` escapes, and `+` as a space when `plus_is_space` (in queries and
/// forms, not in paths), lossily.
fn percent_decode_with(text: &str, plus_is_space: bool) -> Cow<'_, str> {
    if !text
        .bytes()
        .any(|byte| byte == b'%' || (plus_is_space && byte == b'+'))
    {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        index += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            byte => out.push(byte),
        }
        index += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Whether `text` holds a run of 13 to 19 digits, optionally separated by single
/// spaces or dashes, that passes the Luhn check.
pub(crate) fn contains_card_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if !bytes[start].is_ascii_digit() {
            start += 1;
            continue;
        }
        // Collect one run of digits and single separators (the first 64 digits of it).
        let mut run = [0u8; 64];
        let mut len = 0;
        let mut index = start;
        while index < bytes.len() {
            let byte = bytes[index];
            if byte.is_ascii_digit() {
                if len < run.len() {
                    run[len] = byte - b'0';
                    len += 1;
                }
                index += 1;
            } else if (byte == b' ' || byte == b'-')
                && bytes.get(index + 1).is_some_and(u8::is_ascii_digit)
                && bytes
                    .get(index.wrapping_sub(1))
                    .is_some_and(u8::is_ascii_digit)
            {
                index += 1;
            } else {
                break;
            }
        }
        let digits = &run[..len];
        if (13..=19).contains(&digits.len()) && luhn(digits) {
            return true;
        }
        // Longer runs: any 13..=19 window of plain digits.
        if digits.len() > 19 {
            for len in 13..=19 {
                if digits.windows(len).any(luhn) {
                    return true;
                }
            }
        }
        start = index.max(start + 1);
    }
    false
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, &digit)| {
            let digit = u32::from(digit);
            if index % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_finds_card_numbers_only() {
        assert!(contains_card_number("4111111111111111"));
        assert!(contains_card_number("card: 4111 1111 1111 1111 exp 12/30"));
        assert!(contains_card_number("5500-0000-0000-0004"));
        assert!(!contains_card_number("4111111111111112"));
        assert!(!contains_card_number("order 1234567"));
        assert!(!contains_card_number("2024-01-31"));
        assert!(contains_card_number("x123412344111111111111111"));
    }

    #[test]
    fn denied_keys_match_normalized_fragments() {
        let redactor = Redactor::new(b"k");
        for key in [
            "password",
            "new_password",
            "ACCESS-TOKEN",
            "client.secret",
            "api_key",
            "apiKey",
            "card_number",
            "cvv",
        ] {
            assert!(redactor.is_denied_key(key), "{key}");
        }
        for key in ["page", "user", "amount", "email"] {
            assert!(!redactor.is_denied_key(key), "{key}");
        }
    }

    proptest::proptest! {
        #[test]
        fn short_ascii_names_match_as_normalized(name in "[a-zA-Z_. -]{0,70}") {
            let redactor = Redactor::new(b"k").deny_key("ssn").deny_key("a.b");
            let normalized = normalize(&name);
            let slow = redactor.keys.iter().any(|fragment| normalized.contains(fragment.as_str()));
            proptest::prop_assert_eq!(redactor.is_denied_key(&name), slow);
        }
    }

    proptest::proptest! {
        #[test]
        fn queries_split_as_str_split_does(query in "[a-z=&%+0-9é]{0,40}") {
            let redactor = Redactor::new(b"k").deny_key("a");
            let mut expected = String::new();
            for (index, pair) in query.split('&').enumerate() {
                if index > 0 {
                    expected.push('&');
                }
                match pair.split_once('=') {
                    Some((name, value)) => {
                        let decoded = percent_decode(value);
                        expected.push_str(name);
                        expected.push('=');
                        if redactor.is_denied_key(&percent_decode(name))
                            || contains_card_number(&decoded)
                        {
                            expected.push_str(&redactor.hash_for_search(&decoded));
                        } else {
                            expected.push_str(value);
                        }
                    }
                    None => expected.push_str(pair),
                }
            }
            proptest::prop_assert_eq!(redactor.redact_query(&query), expected);
        }
    }

    #[test]
    fn query_values_are_decoded_before_hashing() {
        let redactor = Redactor::new(b"k");
        assert_eq!(
            redactor.redact_query("token=a+b%2Fc&x=1"),
            format!("token={}&x=1", redactor.hash_for_search("a b/c"))
        );
        assert_eq!(redactor.redact_query("bad=%zz&%"), "bad=%zz&%");
        assert_eq!(redactor.redact_query(""), "");
    }

    #[test]
    fn card_number_as_json_number_is_hashed() {
        let redactor = Redactor::new(b"k");
        let mut value = serde_json::json!({"n": 4111111111111111u64, "small": 42});
        redactor.redact_json(&mut value);
        assert_eq!(value["n"], redactor.hash_for_search("4111111111111111"));
        assert_eq!(value["small"], 42);
    }
}
