//! The methods a preflight may ask for.

use std::str::FromStr;

use http::{HeaderValue, Method};
use serde::Deserialize;

use super::list::{StringList, split_list};
use crate::ConfigError;

/// The methods allowed in `Access-Control-Request-Method`, answered as
/// [`Access-Control-Allow-Methods`](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Access-Control-Allow-Methods).
///
/// Methods are case-sensitive, as in the [Fetch
/// standard](https://fetch.spec.whatwg.org/#concept-method-normalize): browsers
/// upper-case only `DELETE`, `GET`, `HEAD`, `OPTIONS`, `POST` and `PUT`, so those six
/// are upper-cased when parsed from text while any other method (`PATCH` included) is
/// kept exactly as written. The wildcard `*` is refused: list the methods. The
/// default is `GET, HEAD, POST`.
///
/// ```
/// use http::Method;
/// use portcullis_security_headers::cors::AllowMethods;
///
/// let methods: AllowMethods = "get, POST,PATCH".parse()?;
/// assert_eq!(methods.methods(), &[Method::GET, Method::POST, Method::PATCH]);
/// assert_eq!(methods.header_value(), "GET, POST, PATCH");
///
/// let typed = AllowMethods::from([Method::GET, Method::POST, Method::PATCH]);
/// assert_eq!(methods, typed);
/// assert!("GET,*".parse::<AllowMethods>().is_err());
/// # Ok::<(), portcullis_security_headers::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "StringList")]
pub struct AllowMethods {
    methods: Vec<Method>,
    value: HeaderValue,
}

impl AllowMethods {
    /// Parses and validates method names; blank items are skipped.
    ///
    /// ```
    /// # use portcullis_security_headers::{ConfigError, cors::AllowMethods};
    /// assert_eq!(AllowMethods::list(["GET", "DELETE"])?.methods().len(), 2);
    /// assert!(matches!(AllowMethods::list(["GE T"]), Err(ConfigError::CorsInvalidMethod { .. })));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn list<I>(methods: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for method in methods {
            let text = method.as_ref().trim();
            if text.is_empty() {
                continue;
            }
            let normalized = match text.to_ascii_uppercase().as_str() {
                "DELETE" => Method::DELETE,
                "GET" => Method::GET,
                "HEAD" => Method::HEAD,
                "OPTIONS" => Method::OPTIONS,
                "POST" => Method::POST,
                "PUT" => Method::PUT,
                _ => Method::from_bytes(text.as_bytes())
                    .ok()
                    .filter(|method| method.as_str() != "*")
                    .ok_or_else(|| ConfigError::CorsInvalidMethod {
                        method: text.to_owned(),
                    })?,
            };
            parsed.push(normalized);
        }
        Ok(Self::from(parsed))
    }

    /// The allowed methods.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// The prebuilt `Access-Control-Allow-Methods` value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.value
    }

    /// Whether an `Access-Control-Request-Method` value is allowed (exact bytes).
    pub(crate) fn allows(&self, requested: &[u8]) -> bool {
        self.methods
            .iter()
            .any(|method| method.as_str().as_bytes() == requested)
    }
}

impl Default for AllowMethods {
    fn default() -> Self {
        Self::from([Method::GET, Method::HEAD, Method::POST])
    }
}

impl From<Vec<Method>> for AllowMethods {
    fn from(methods: Vec<Method>) -> Self {
        let unique = super::list::without_repeats(methods);
        let names: Vec<&str> = unique.iter().map(Method::as_str).collect();
        let value = super::list::join(&names).unwrap_or(HeaderValue::from_static(""));
        Self {
            methods: unique,
            value,
        }
    }
}

impl<const N: usize> From<[Method; N]> for AllowMethods {
    fn from(methods: [Method; N]) -> Self {
        Self::from(Vec::from(methods))
    }
}

impl From<Method> for AllowMethods {
    fn from(method: Method) -> Self {
        Self::from(vec![method])
    }
}

impl FromStr for AllowMethods {
    type Err = ConfigError;

    /// Parses a comma-separated list.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::list(split_list(text))
    }
}

impl TryFrom<StringList> for AllowMethods {
    type Error = ConfigError;

    fn try_from(list: StringList) -> Result<Self, Self::Error> {
        Self::list(list.items())
    }
}
