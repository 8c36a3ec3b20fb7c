//! Secret shapes: text that must never reach a log, found by what it looks like.
//!
//! Logs and audit trails redact secrets by *name* (an `Authorization` header, a
//! `password` field), but a secret also arrives where nobody expects it: an API key
//! sent as `?key=`, pasted into a `note` field, a token in a URL path. [`find_secrets`]
//! finds them by *value*, in any text:
//!
//! | [`SecretKind`] | shape | covers |
//! |---|---|---|
//! | [`ApiKey`](SecretKind::ApiKey) | `_live_` or `_test_`, then at least 16 of `0-9A-Za-z`; with the tag before it (up to 16 of `a-z0-9`) | Portcullis API keys of every format (`sk_live_…`; the default format's published scanner pattern is [`API_KEY_SCANNER_PATTERN`]), Stripe secret, restricted and publishable keys (`sk_`, `rk_`, `pk_`) |
//! | [`StripeWebhookSecret`](SecretKind::StripeWebhookSecret) | `whsec_`, then at least 8 of `0-9A-Za-z` | Stripe webhook signing secrets |
//! | [`Jwt`](SecretKind::Jwt) | `eyJ`, then three base64url segments separated by `.` (the last may be empty), and any more | JWTs (JWS, unsecured), JWE |
//! | [`BearerToken`](SecretKind::BearerToken) | `Bearer` (any case), spaces or tabs, then at least 8 `token68` characters | the credential (not the scheme) of bearer authorization |
//!
//! The shapes are deliberately broader than each issuer's own pattern: no word
//! boundaries are required, and an API key's tag is optional, so that a secret glued
//! to other text is found too. What they match is what a redactor must replace.
//! The one exception: a bearer credential that is already a redacted value
//! (`hmac-sha256:…`) is not a secret.
//!
//! The scan is one pass over the bytes, linear in the length of the text, and
//! allocates nothing.
//!
//! # Example
//!
//! ```
//! use portcullis_core::secret::{SecretKind, contains_secret, find_secrets};
//!
//! let key = format!("sk_live_{}", "C8ug9ZwB5ScTqEBm1hj5BDKgLNeYYhVOmoiWTksUla50QOcyb");
//! let text = format!("GET /v1/quote?page=2&key={key} HTTP/1.1");
//! let found: Vec<_> = find_secrets(&text).collect();
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].kind, SecretKind::ApiKey);
//! assert_eq!(&text[found[0].range.clone()], key);
//!
//! assert!(contains_secret("Authorization: Bearer 9f8e7d6c5b4a3210"));
//! assert!(!contains_secret("the bearer of this note"));
//! assert!(!contains_secret("/v1/invoices/42?page=2"));
//! ```

use std::ops::Range;

/// The regular expression that finds keys of the Portcullis default key format
/// (prefix `sk`, 256-bit body and a 6-character checksum) in text: the pattern
/// published for secret scanners (GitHub secret scanning, gitleaks, trufflehog), in
/// the syntax PCRE, RE2 and Rust's `regex` share. `portcullis-api-keys` publishes it
/// as `format::DEFAULT_SCANNER_PATTERN`; every text it matches, [`find_secrets`] finds
/// as an [`ApiKey`](SecretKind::ApiKey).
///
/// ```
/// use portcullis_core::secret::{API_KEY_SCANNER_PATTERN, contains_secret};
/// assert!(API_KEY_SCANNER_PATTERN.starts_with(r"\bsk_(?:live|test)_"));
/// assert!(contains_secret(&format!("sk_test_{}", "a".repeat(49))));
/// ```
pub const API_KEY_SCANNER_PATTERN: &str = r"\bsk_(?:live|test)_[0-9A-Za-z]{49}\b";

/// The fewest body characters after `_live_` / `_test_` for an [`SecretKind::ApiKey`].
const MIN_KEY_BODY: usize = 16;
/// The longest tag before `_live_` / `_test_` taken into a match.
const MAX_KEY_TAG: usize = 16;
/// The fewest characters after `whsec_`.
const MIN_WEBHOOK_SECRET: usize = 8;
/// The fewest `token68` characters of a bearer credential.
const MIN_BEARER: usize = 8;
/// The redacted form a bearer credential may already have.
const REDACTED: &[u8] = b"hmac-sha256";

/// What a secret found in text looks like; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretKind {
    /// `{tag}_{live|test}_{body}`: a Portcullis or Stripe API key.
    ApiKey,
    /// `whsec_…`: a Stripe webhook signing secret.
    StripeWebhookSecret,
    /// `eyJ….….…`: a JSON Web Token.
    Jwt,
    /// The credential after `Bearer `.
    BearerToken,
}

impl SecretKind {
    /// The kind's name, for logs and metrics.
    ///
    /// ```
    /// assert_eq!(portcullis_core::secret::SecretKind::Jwt.as_str(), "jwt");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::StripeWebhookSecret => "stripe_webhook_secret",
            Self::Jwt => "jwt",
            Self::BearerToken => "bearer_token",
        }
    }
}

/// One secret found in a text: its kind and its byte range.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SecretMatch {
    /// What it looks like.
    pub kind: SecretKind,
    /// Where it is, in bytes (always on character boundaries: every shape is ASCII).
    pub range: Range<usize>,
}

/// The secrets in `text`, in the order of the byte that gives each away (`_` of an API
/// key or a webhook secret, `J` of a JWT, `B` of a bearer token); matches of different
/// kinds may overlap (a JWT inside a bearer credential). Linear in the length of
/// `text`.
///
/// ```
/// use portcullis_core::secret::{SecretKind, find_secrets};
/// let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl";
/// let text = format!("authorization: Bearer {jwt}");
/// let kinds: Vec<SecretKind> = find_secrets(&text).map(|found| found.kind).collect();
/// assert_eq!(kinds, [SecretKind::BearerToken, SecretKind::Jwt]);
/// assert!(find_secrets(&text).all(|found| &text[found.range] == jwt));
/// ```
pub fn find_secrets(text: &str) -> FindSecrets<'_> {
    FindSecrets {
        bytes: text.as_bytes(),
        at: 0,
        jwt_resume: 0,
    }
}

/// Whether `text` holds anything [`find_secrets`] finds.
///
/// ```
/// assert!(portcullis_core::secret::contains_secret("whsec_0123456789abcdef"));
/// assert!(!portcullis_core::secret::contains_secret("whsec_"));
/// ```
pub fn contains_secret(text: &str) -> bool {
    find_secrets(text).next().is_some()
}

/// The iterator of [`find_secrets`].
#[derive(Clone, Debug)]
pub struct FindSecrets<'a> {
    bytes: &'a [u8],
    /// The next byte to look at.
    at: usize,
    /// No JWT starts before this: the bytes before it were a JWT's, or a candidate's
    /// that failed (every later start inside it fails the same way).
    jwt_resume: usize,
}

impl Iterator for FindSecrets<'_> {
    type Item = SecretMatch;

    fn next(&mut self) -> Option<SecretMatch> {
        let bytes = self.bytes;
        // Only four bytes can give a secret away, and they are rare in ordinary text:
        // skip to the next one.
        while let Some(offset) = bytes
            .get(self.at..)?
            .iter()
            .position(|&byte| matches!(byte, b'_' | b'J' | b'b' | b'B'))
        {
            let at = self.at + offset;
            self.at = at + 1;
            let found = match bytes[at] {
                b'_' => api_key(bytes, at).or_else(|| webhook_secret(bytes, at)),
                b'J' if at >= 2 && at - 2 >= self.jwt_resume && &bytes[at - 2..at] == b"ey" => {
                    let (found, end) = jwt(bytes, at - 2);
                    self.jwt_resume = end;
                    found.map(|range| (SecretKind::Jwt, range))
                }
                b'b' | b'B' => bearer(bytes, at),
                _ => None,
            };
            if let Some((kind, range)) = found {
                return Some(SecretMatch { kind, range });
            }
        }
        self.at = bytes.len();
        None
    }
}

fn is_base62(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

fn is_tag(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit()
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'=')
}

fn is_token68(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// The end of the run of bytes from `start` that satisfy `keep`.
fn run(bytes: &[u8], start: usize, keep: fn(u8) -> bool) -> usize {
    start
        + bytes
            .get(start..)
            .map_or(0, |rest| rest.iter().take_while(|&&b| keep(b)).count())
}

/// `_live_…` or `_test_…` at `at` (the first `_`).
fn api_key(bytes: &[u8], at: usize) -> Option<(SecretKind, Range<usize>)> {
    let tag = bytes.get(at + 1..at + 6)?;
    if tag != b"live_" && tag != b"test_" {
        return None;
    }
    let body = at + 6;
    let end = run(bytes, body, is_base62);
    if end - body < MIN_KEY_BODY {
        return None;
    }
    let tag_len = bytes[..at]
        .iter()
        .rev()
        .take(MAX_KEY_TAG)
        .take_while(|&&b| is_tag(b))
        .count();
    Some((SecretKind::ApiKey, at - tag_len..end))
}

/// `whsec_…` whose `_` is at `at`.
fn webhook_secret(bytes: &[u8], at: usize) -> Option<(SecretKind, Range<usize>)> {
    if at < 5 || &bytes[at - 5..at] != b"whsec" {
        return None;
    }
    let end = run(bytes, at + 1, is_base62);
    (end - (at + 1) >= MIN_WEBHOOK_SECRET).then_some((SecretKind::StripeWebhookSecret, at - 5..end))
}

/// A JWT starting at `at` (an `e`), and the position no JWT starts before.
fn jwt(bytes: &[u8], at: usize) -> (Option<Range<usize>>, usize) {
    if bytes.get(at + 1..at + 3) != Some(b"yJ") {
        return (None, at);
    }
    let first = run(bytes, at, is_base64url);
    if bytes.get(first) != Some(&b'.') {
        return (None, first);
    }
    let second = run(bytes, first + 1, is_base64url);
    if second == first + 1 || bytes.get(second) != Some(&b'.') {
        return (None, second);
    }
    // The third segment (the signature) may be empty; a JWE has two more.
    let mut end = run(bytes, second + 1, is_base64url);
    while bytes.get(end) == Some(&b'.') {
        end = run(bytes, end + 1, is_base64url);
    }
    (Some(at..end), end)
}

/// `Bearer <credential>` whose `B` is at `at`: the credential's range.
fn bearer(bytes: &[u8], at: usize) -> Option<(SecretKind, Range<usize>)> {
    let word = bytes.get(at..at + 6)?;
    if !word.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let start = run(bytes, at + 6, |b| b == b' ' || b == b'\t');
    if start == at + 6 {
        return None;
    }
    let credential = run(bytes, start, is_token68);
    if credential - start < MIN_BEARER {
        return None;
    }
    // Already redacted: `hmac-sha256:<hex>` is the hash, not the credential.
    if &bytes[start..credential] == REDACTED && bytes.get(credential) == Some(&b':') {
        return None;
    }
    let end = run(bytes, credential, |b| b == b'=');
    Some((SecretKind::BearerToken, start..end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(SecretKind, &str)> {
        find_secrets(text)
            .map(|found| (found.kind, &text[found.range]))
            .collect()
    }

    const KEY: &str = "sk_live_C8ug9ZwB5ScTqEBm1hj5BDKgLNeYYhVOmoiWTksUla50QOcyb";

    #[test]
    fn api_keys_of_any_prefix_and_length_are_found_whole() {
        assert_eq!(found(KEY), [(SecretKind::ApiKey, KEY)]);
        assert_eq!(
            found(&format!("key={KEY}&x=1")),
            [(SecretKind::ApiKey, KEY)]
        );
        let custom = "acme_test_0123456789abcdefghijKLMNOP";
        assert_eq!(found(custom), [(SecretKind::ApiKey, custom)]);
        assert_eq!(
            found("rk_test_4eC39HqLyjWDarjtT1zdp7dc"),
            [(SecretKind::ApiKey, "rk_test_4eC39HqLyjWDarjtT1zdp7dc")]
        );
        // Glued to other text: the tag is the last 16 of `a-z0-9` before the `_`.
        let glued = format!("Xyzabcdefghijklmnopq{KEY}");
        assert_eq!(found(&glued)[0].1, format!("defghijklmnopq{KEY}"));
        // No tag at all is still a secret.
        assert_eq!(found("Z_live_ABCDEFGHIJKLMNOP").len(), 1);
        // Too short to be a key.
        assert!(found("sk_live_abc").is_empty());
        assert!(found("unit_test_name").is_empty());
    }

    #[test]
    fn webhook_secrets_jwts_and_bearer_tokens_are_found() {
        assert_eq!(
            found("secret whsec_abcdefgh12"),
            [(SecretKind::StripeWebhookSecret, "whsec_abcdefgh12")]
        );
        assert!(found("whsec_short").is_empty());
        let jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEifQ.";
        assert_eq!(found(jwt), [(SecretKind::Jwt, jwt)]);
        let jwe = "eyJ.a.b.c.d";
        assert_eq!(found(&format!("({jwe})")), [(SecretKind::Jwt, jwe)]);
        assert!(found("eyJhbGciOiJub25lIn0").is_empty());
        assert!(found("eyJ..x").is_empty());
        assert_eq!(
            found("BEARER\t0123456789abcdef=="),
            [(SecretKind::BearerToken, "0123456789abcdef==")]
        );
        assert!(found("the bearer of this").is_empty());
        assert!(found("Bearer").is_empty());
        // A credential already redacted is not found again.
        let hash = format!("Bearer hmac-sha256:{}", "0a".repeat(32));
        assert!(found(&hash).is_empty());
        assert_eq!(found("Bearer hmac-sha256x").len(), 1);
    }

    #[test]
    fn nothing_is_found_in_ordinary_text() {
        for text in [
            "",
            "/v1/invoices/42?page=2&sort=-created",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "application/json; charset=utf-8",
            "eye of the beholder, a bear and a bee",
            "550e8400-e29b-41d4-a716-446655440000",
        ] {
            assert!(found(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn hostile_repetitions_scan_in_linear_time() {
        // Each of these would cost a rescan per trigger in a naive scanner.
        for unit in ["eyJ", "eyJ.", "_live_", "bearer ", "Bearer a", "whsec_"] {
            let text = unit.repeat(200_000 / unit.len());
            let started = std::time::Instant::now();
            let count = find_secrets(&text).count();
            // 200 kB in well under a second even on a slow, shared machine (a
            // quadratic scan takes minutes).
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{unit}"
            );
            assert!(count <= text.len(), "{unit}");
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_lie_in_the_text_on_char_boundaries(text in "\\PC{0,80}") {
            for found in find_secrets(&text) {
                proptest::prop_assert!(found.range.start < found.range.end);
                proptest::prop_assert!(text.is_char_boundary(found.range.start));
                proptest::prop_assert!(text.is_char_boundary(found.range.end));
            }
        }

        #[test]
        fn a_key_in_any_context_is_found_whole(
            before in "[ -~é]{0,12}",
            body in "[0-9A-Za-z]{49}",
            after in "[ -/:-@\\[-`{-~é]{0,12}",
        ) {
            let key = format!("sk_live_{body}");
            let text = format!("{before}{key}{after}");
            let start = before.len();
            let whole = find_secrets(&text)
                .any(|found| found.range.start <= start && found.range.end >= start + key.len());
            proptest::prop_assert!(whole, "{text}");
        }
    }
}
