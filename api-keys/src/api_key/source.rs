//! [`KeySource`]: where a request carries its key, and reading it from there.

use std::fmt;

use http::header::{AUTHORIZATION, HeaderName};
use http::{HeaderMap, HeaderValue, Uri};
use serde::{Deserialize, Deserializer};

/// The `X-API-Key` header.
///
/// ```
/// use portcullis_api_keys::api_key::X_API_KEY;
/// assert_eq!(X_API_KEY.as_str(), "x-api-key");
/// ```
pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Where a request may carry its API key. A layer reads every source it is given and
/// refuses a request that carries more than one key.
///
/// The query string is not a `KeySource`: a key in a URL ends up in access logs,
/// proxies and browser history, so it has its own, explicitly named switch,
/// [`ApiKeyLayer::insecure_query_parameter`](super::ApiKeyLayer::insecure_query_parameter).
///
/// In a configuration file a source is a string: `"bearer"`, or the name of a header.
///
/// ```
/// use http::HeaderName;
/// use portcullis_api_keys::api_key::KeySource;
///
/// let sources: Vec<KeySource> = serde_json::from_str(r#"["x-api-key", "bearer"]"#)?;
/// assert_eq!(sources, [KeySource::x_api_key(), KeySource::Bearer]);
/// let custom = KeySource::Header(HeaderName::from_static("x-acme-key"));
/// assert_eq!(custom.to_string(), "the x-acme-key header");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySource {
    /// A header whose whole value is the key, such as `X-API-Key: sk_live_…`.
    Header(HeaderName),
    /// `Authorization: Bearer sk_live_…`, as
    /// [RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1) sends
    /// bearer tokens. `Authorization` headers of other schemes (`Basic`, …) are left
    /// alone.
    Bearer,
}

impl KeySource {
    /// The `X-API-Key` header.
    ///
    /// ```
    /// use portcullis_api_keys::api_key::{KeySource, X_API_KEY};
    /// assert_eq!(KeySource::x_api_key(), KeySource::Header(X_API_KEY));
    /// ```
    pub fn x_api_key() -> Self {
        Self::Header(X_API_KEY)
    }
}

impl fmt::Display for KeySource {
    /// How a client is told where to put its key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(name) => write!(f, "the {name} header"),
            Self::Bearer => f.write_str("an Authorization: Bearer header"),
        }
    }
}

impl<'de> Deserialize<'de> for KeySource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        if text.eq_ignore_ascii_case("bearer") {
            return Ok(Self::Bearer);
        }
        let name = HeaderName::try_from(text.as_ref()).map_err(|_| {
            serde::de::Error::custom(format!("`{text}` is neither `bearer` nor a header name"))
        })?;
        if name == AUTHORIZATION {
            return Err(serde::de::Error::custom(
                "the key source `authorization` would take the whole header as the key: use `bearer`",
            ));
        }
        Ok(Self::Header(name))
    }
}

/// Why the key a request carries cannot even be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Characters outside visible ASCII (non-UTF-8 bytes, control characters).
    NotText,
    /// An empty header value or query parameter.
    Empty,
    /// `Authorization: Bearer` and nothing after it.
    NoToken,
    /// More than one key: the same header twice, or two sources at once.
    TwoKeys,
}

/// What a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extracted<'a> {
    Key(&'a str),
    Missing,
    Unreadable(Unreadable),
}

/// Reads the one key a request carries from `sources` and, when enabled, the query
/// parameter `query`. Allocation-free.
pub(crate) fn extract<'a>(
    sources: &[KeySource],
    query: Option<&str>,
    headers: &'a HeaderMap,
    uri: &'a Uri,
) -> Extracted<'a> {
    match find(sources, query, headers, uri) {
        Ok(Some(key)) => Extracted::Key(key),
        Ok(None) => Extracted::Missing,
        Err(unreadable) => Extracted::Unreadable(unreadable),
    }
}

fn find<'a>(
    sources: &[KeySource],
    query: Option<&str>,
    headers: &'a HeaderMap,
    uri: &'a Uri,
) -> Result<Option<&'a str>, Unreadable> {
    let mut found = None;
    let mut keep = |key: &'a str| match found.replace(key) {
        None => Ok(()),
        Some(_) => Err(Unreadable::TwoKeys),
    };
    for source in sources {
        match source {
            KeySource::Header(name) => {
                for value in headers.get_all(name) {
                    keep(header_key(value)?)?;
                }
            }
            KeySource::Bearer => {
                for value in headers.get_all(AUTHORIZATION) {
                    if let Some(token) = bearer_token(value)? {
                        keep(token)?;
                    }
                }
            }
        }
    }
    if let (Some(parameter), Some(query)) = (query, uri.query()) {
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name == parameter {
                keep(text(value)?)?;
            }
        }
    }
    Ok(found)
}

/// The key in a header value, without surrounding spaces.
fn header_key(value: &HeaderValue) -> Result<&str, Unreadable> {
    text(value.to_str().map_err(|_| Unreadable::NotText)?)
}

/// Trimmed, non-empty, visible ASCII.
fn text(value: &str) -> Result<&str, Unreadable> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Err(Unreadable::Empty);
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Unreadable::NotText);
    }
    Ok(value)
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive);
/// `None` for another scheme.
fn bearer_token(value: &HeaderValue) -> Result<Option<&str>, Unreadable> {
    const SCHEME: &[u8] = b"bearer";
    let bytes = value.as_bytes();
    let is_bearer = bytes.len() >= SCHEME.len()
        && bytes[..SCHEME.len()].eq_ignore_ascii_case(SCHEME)
        && matches!(bytes.get(SCHEME.len()), None | Some(b' ' | b'\t'));
    if !is_bearer {
        return Ok(None);
    }
    let value = value.to_str().map_err(|_| Unreadable::NotText)?;
    match text(&value[SCHEME.len()..]) {
        Err(Unreadable::Empty) => Err(Unreadable::NoToken),
        token => token.map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        sources: &[KeySource],
        query: Option<&str>,
        request: http::Request<()>,
    ) -> Extracted<'static> {
        // Leak the request so the test can return borrowed results: fine in tests.
        let request: &'static http::Request<()> = Box::leak(Box::new(request));
        extract(sources, query, request.headers(), request.uri())
    }

    fn both() -> Vec<KeySource> {
        vec![KeySource::x_api_key(), KeySource::Bearer]
    }

    fn request() -> http::request::Builder {
        http::Request::builder().uri("/v1/things")
    }

    #[test]
    fn reads_the_header_or_the_bearer_token() {
        let header = request().header("x-api-key", "sk_a").body(()).unwrap();
        assert_eq!(run(&both(), None, header), Extracted::Key("sk_a"));
        for value in [
            "Bearer sk_b",
            "bearer sk_b",
            "BEARER   sk_b ",
            "Bearer\tsk_b",
        ] {
            let bearer = request().header("authorization", value).body(()).unwrap();
            assert_eq!(
                run(&both(), None, bearer),
                Extracted::Key("sk_b"),
                "{value}"
            );
        }
    }

    #[test]
    fn other_schemes_and_absent_headers_are_missing() {
        for value in ["Basic dXNlcjpwYXNz", "Bearerish sk_b", "Token sk_b", "Bear"] {
            let other = request().header("authorization", value).body(()).unwrap();
            assert_eq!(run(&both(), None, other), Extracted::Missing, "{value}");
        }
        assert_eq!(
            run(&both(), None, request().body(()).unwrap()),
            Extracted::Missing
        );
        let header_only = request()
            .header("authorization", "Bearer sk_b")
            .body(())
            .unwrap();
        assert_eq!(
            run(&[KeySource::x_api_key()], None, header_only),
            Extracted::Missing
        );
    }

    #[test]
    fn unreadable_values_are_named() {
        let cases: [(&str, &[u8], Unreadable); 7] = [
            ("x-api-key", b"", Unreadable::Empty),
            ("x-api-key", b"   ", Unreadable::Empty),
            ("x-api-key", b"sk_\xff\xfe", Unreadable::NotText),
            ("x-api-key", b"sk a", Unreadable::NotText),
            ("authorization", b"Bearer", Unreadable::NoToken),
            ("authorization", b"Bearer   ", Unreadable::NoToken),
            ("authorization", b"Bearer sk_\xff", Unreadable::NotText),
        ];
        for (name, value, expected) in cases {
            let value = HeaderValue::from_bytes(value).unwrap();
            let request = request().header(name, value).body(()).unwrap();
            assert_eq!(
                run(&both(), None, request),
                Extracted::Unreadable(expected),
                "{name}: {expected:?}"
            );
        }
    }

    #[test]
    fn two_keys_are_refused_whatever_their_sources() {
        let twice = request()
            .header("x-api-key", "sk_a")
            .header("x-api-key", "sk_a")
            .body(())
            .unwrap();
        let two_sources = request()
            .header("x-api-key", "sk_a")
            .header("authorization", "Bearer sk_a")
            .body(())
            .unwrap();
        let header_and_query = http::Request::get("/?api_key=sk_b")
            .header("x-api-key", "sk_a")
            .body(())
            .unwrap();
        let query_twice = http::Request::get("/?api_key=sk_a&api_key=sk_b")
            .body(())
            .unwrap();
        for request in [twice, two_sources, header_and_query, query_twice] {
            assert_eq!(
                run(&both(), Some("api_key"), request),
                Extracted::Unreadable(Unreadable::TwoKeys)
            );
        }
    }

    #[test]
    fn the_query_parameter_is_read_only_when_enabled() {
        let uri = "/v1/things?limit=3&api_key=sk_q&x=";
        let request = || http::Request::get(uri).body(()).unwrap();
        assert_eq!(run(&both(), None, request()), Extracted::Missing);
        assert_eq!(
            run(&both(), Some("api_key"), request()),
            Extracted::Key("sk_q")
        );
        assert_eq!(run(&both(), Some("key"), request()), Extracted::Missing);
        let empty = http::Request::get("/?api_key=").body(()).unwrap();
        assert_eq!(
            run(&both(), Some("api_key"), empty),
            Extracted::Unreadable(Unreadable::Empty)
        );
        let bare = http::Request::get("/?api_key").body(()).unwrap();
        assert_eq!(
            run(&both(), Some("api_key"), bare),
            Extracted::Unreadable(Unreadable::Empty)
        );
    }

    #[test]
    fn sources_deserialize_from_names() {
        let sources: Vec<KeySource> = serde_json::from_str(r#"["Bearer", "X-Acme-Key"]"#).unwrap();
        assert_eq!(
            sources,
            [
                KeySource::Bearer,
                KeySource::Header(HeaderName::from_static("x-acme-key"))
            ]
        );
        for bad in [r#""authorization""#, r#""bad header""#, r#""""#] {
            assert!(serde_json::from_str::<KeySource>(bad).is_err(), "{bad}");
        }
    }
}
