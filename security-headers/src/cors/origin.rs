//! Parsed origins and origin patterns.
//!
//! An origin is `scheme://host[:port]` and nothing else (RFC 6454 §6.2, the
//! [`Origin` header](https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Origin)).
//! Origins are compared by their parts, never by regular expressions or substring
//! tests: the scheme and host case-insensitively, the port after the scheme's default
//! port is dropped, so `https://A.example.com:443` is `https://a.example.com`.

use std::fmt;
use std::str::FromStr;

use http::HeaderValue;
use serde::Deserialize;

use super::public_suffix;
use crate::ConfigError;

/// A serialized origin: scheme, host and port, normalized.
///
/// The scheme and host are kept in lower case and a default port (80 for `http` and
/// `ws`, 443 for `https` and `wss`) is dropped.
///
/// ```
/// use portcullis_security_headers::cors::Origin;
///
/// let origin: Origin = "HTTPS://App.Example.com:443".parse()?;
/// assert_eq!(origin.scheme(), "https");
/// assert_eq!(origin.host(), "app.example.com");
/// assert_eq!(origin.port(), None);
/// assert_eq!(origin.to_string(), "https://app.example.com");
/// assert_eq!(origin, "https://app.example.com".parse()?);
/// # Ok::<(), portcullis_security_headers::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// The scheme, in lower case.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, in lower case; IPv6 addresses keep their brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, unless it is the scheme's default port.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The origin as a header value, in its canonical serialization.
    pub(crate) fn to_header_value(&self) -> HeaderValue {
        // Only ASCII letters, digits and `-._:[]/` get here, all valid header bytes.
        HeaderValue::from_str(&self.to_string()).unwrap_or(HeaderValue::from_static("null"))
    }

    /// Whether a parsed request origin is this origin.
    pub(crate) fn matches(&self, raw: &RawOrigin<'_>) -> bool {
        raw.port == self.port
            && raw.scheme.eq_ignore_ascii_case(self.scheme.as_bytes())
            && raw.host.eq_ignore_ascii_case(self.host.as_bytes())
    }
}

impl FromStr for Origin {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match OriginPattern::from_str(text)?.kind {
            PatternKind::Exact(origin) => Ok(origin),
            _ => Err(invalid(text, "a wildcard is a pattern, not an origin")),
        }
    }
}

impl TryFrom<String> for Origin {
    type Error = ConfigError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// One entry of an allowed-origin list: an exact origin or a wildcard pattern.
///
/// - `https://app.example.com`: exactly that origin (default port normalized).
/// - `https://*.example.com`: any subdomain of `example.com`, one or more labels deep
///   (`https://a.example.com`, `https://a.b.example.com`), but not `example.com`
///   itself and only with this scheme and port. A wildcard over a public suffix
///   (`https://*.com`, `https://*.co.uk`, `https://*.github.io`) is refused.
/// - `http://localhost:*`: any port of a loopback host. Parsed here but accepted only
///   by [`CorsLayer::development()`](super::CorsLayer::development).
///
/// `null` is refused: it is what sandboxed documents and `file:` pages send.
///
/// ```
/// use portcullis_security_headers::{ConfigError, cors::OriginPattern};
///
/// let pattern: OriginPattern = "https://*.example.com".parse()?;
/// assert!(pattern.is_wildcard());
/// assert_eq!(pattern.to_string(), "https://*.example.com");
///
/// assert!(matches!("https://*.co.uk".parse::<OriginPattern>(), Err(ConfigError::CorsPublicSuffixWildcard { .. })));
/// assert!(matches!("null".parse::<OriginPattern>(), Err(ConfigError::CorsNullOrigin)));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct OriginPattern {
    kind: PatternKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PatternKind {
    /// Exactly this origin.
    Exact(Origin),
    /// `scheme://*.base[:port]`; `dot_base` is `.base`.
    Subdomains {
        scheme: String,
        dot_base: String,
        port: Option<u16>,
    },
    /// `scheme://host:*`.
    AnyPort { scheme: String, host: String },
}

impl OriginPattern {
    /// Whether the pattern has a wildcard (subdomain or port).
    pub fn is_wildcard(&self) -> bool {
        !matches!(self.kind, PatternKind::Exact(_))
    }

    /// Whether the pattern allows any port (`http://localhost:*`), which only the
    /// development preset accepts.
    pub fn is_port_wildcard(&self) -> bool {
        matches!(self.kind, PatternKind::AnyPort { .. })
    }

    /// `scheme://host:*`, for the development preset's loopback origins.
    pub(crate) fn any_port(scheme: &str, host: &str) -> Self {
        Self {
            kind: PatternKind::AnyPort {
                scheme: scheme.to_owned(),
                host: host.to_owned(),
            },
        }
    }

    pub(crate) fn kind(&self) -> &PatternKind {
        &self.kind
    }

    /// Whether a parsed request origin matches the pattern.
    pub(crate) fn matches(&self, raw: &RawOrigin<'_>) -> bool {
        match &self.kind {
            PatternKind::Exact(origin) => origin.matches(raw),
            PatternKind::Subdomains {
                scheme,
                dot_base,
                port,
            } => {
                raw.port == *port
                    && raw.scheme.eq_ignore_ascii_case(scheme.as_bytes())
                    && raw.host.len() > dot_base.len()
                    && raw.host[raw.host.len() - dot_base.len()..]
                        .eq_ignore_ascii_case(dot_base.as_bytes())
            }
            PatternKind::AnyPort { scheme, host } => {
                raw.scheme.eq_ignore_ascii_case(scheme.as_bytes())
                    && raw.host.eq_ignore_ascii_case(host.as_bytes())
            }
        }
    }
}

impl FromStr for OriginPattern {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("null") {
            return Err(ConfigError::CorsNullOrigin);
        }
        if trimmed == "*" {
            return Err(invalid(
                text,
                "`*` is not a pattern; use CorsLayer::insecure_allow_any_origin()",
            ));
        }
        let parts = split(trimmed.as_bytes(), true).map_err(|reason| invalid(text, reason))?;
        // `split` only accepts ASCII, so these conversions are lossless.
        let scheme = String::from_utf8_lossy(parts.scheme).to_ascii_lowercase();
        let host = String::from_utf8_lossy(parts.host).to_ascii_lowercase();
        let port = match parts.port {
            PortSpec::Default => None,
            PortSpec::Explicit(port) => normalize_port(parts.scheme, port),
            PortSpec::Any => {
                if parts.host_wildcard {
                    return Err(ConfigError::CorsPortWildcard {
                        pattern: text.to_owned(),
                    });
                }
                return Ok(Self {
                    kind: PatternKind::AnyPort { scheme, host },
                });
            }
        };
        if parts.host_wildcard {
            if host.starts_with('[') || is_ipv4(&host) {
                return Err(invalid(text, "a subdomain wildcard needs a domain name"));
            }
            if public_suffix::is_public_suffix(&host) {
                return Err(ConfigError::CorsPublicSuffixWildcard {
                    pattern: text.to_owned(),
                    suffix: host,
                });
            }
            return Ok(Self {
                kind: PatternKind::Subdomains {
                    scheme,
                    dot_base: format!(".{host}"),
                    port,
                },
            });
        }
        Ok(Self {
            kind: PatternKind::Exact(Origin { scheme, host, port }),
        })
    }
}

impl TryFrom<String> for OriginPattern {
    type Error = ConfigError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl TryFrom<&str> for OriginPattern {
    type Error = ConfigError;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Origin> for OriginPattern {
    fn from(origin: Origin) -> Self {
        Self {
            kind: PatternKind::Exact(origin),
        }
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PatternKind::Exact(origin) => origin.fmt(f),
            PatternKind::Subdomains {
                scheme,
                dot_base,
                port,
            } => {
                write!(f, "{scheme}://*{dot_base}")?;
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                Ok(())
            }
            PatternKind::AnyPort { scheme, host } => write!(f, "{scheme}://{host}:*"),
        }
    }
}

/// An origin parsed from a request header, borrowing its bytes (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawOrigin<'a> {
    pub(crate) scheme: &'a [u8],
    pub(crate) host: &'a [u8],
    /// The port, `None` when absent or the scheme's default.
    pub(crate) port: Option<u16>,
}

impl<'a> RawOrigin<'a> {
    /// Parses the value of an `Origin` request header. `None` for `null`, anything
    /// with a path, credentials, wildcards or bytes outside an origin's alphabet.
    pub(crate) fn parse(bytes: &'a [u8]) -> Option<Self> {
        let parts = split(bytes, false).ok()?;
        let port = match parts.port {
            PortSpec::Default => None,
            PortSpec::Explicit(port) => normalize_port(parts.scheme, port),
            PortSpec::Any => return None,
        };
        Some(Self {
            scheme: parts.scheme,
            host: parts.host,
            port,
        })
    }
}

pub(crate) fn invalid(text: &str, reason: &'static str) -> ConfigError {
    ConfigError::CorsInvalidOrigin {
        origin: text.to_owned(),
        reason,
    }
}

enum PortSpec {
    Default,
    Explicit(u16),
    Any,
}

struct Parts<'a> {
    scheme: &'a [u8],
    /// Without the `*.` of a subdomain wildcard.
    host: &'a [u8],
    host_wildcard: bool,
    port: PortSpec,
}

/// Splits `scheme://host[:port]`. Wildcards (`*.` before the host, `*` as port) only
/// when `patterns` is set. Never panics: every index is checked.
fn split(bytes: &[u8], patterns: bool) -> Result<Parts<'_>, &'static str> {
    let Some(separator) = bytes.windows(3).position(|w| w == b"://") else {
        return Err("expected `scheme://host[:port]`");
    };
    let scheme = &bytes[..separator];
    let rest = &bytes[separator + 3..];
    match scheme.split_first() {
        Some((first, tail))
            if first.is_ascii_alphabetic()
                && tail
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) => {}
        _ => return Err("invalid scheme"),
    }
    if rest.last() == Some(&b'/') {
        return Err("an origin has no path: remove the trailing `/`");
    }
    if rest.iter().any(|b| matches!(b, b'/' | b'?' | b'#')) {
        return Err("an origin has no path, query or fragment");
    }
    if rest.contains(&b'@') {
        return Err("an origin has no user name or password");
    }

    let (host_wildcard, rest) = match rest.strip_prefix(b"*.") {
        Some(rest) if patterns => (true, rest),
        Some(_) => return Err("wildcards are not allowed here"),
        None => (false, rest),
    };

    let (host, port) = if rest.first() == Some(&b'[') {
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return Err("unterminated IPv6 address");
        };
        let host = &rest[..=close];
        let inner = &host[1..close];
        if inner.is_empty()
            || !inner
                .iter()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        {
            return Err("invalid IPv6 address");
        }
        (host, &rest[close + 1..])
    } else {
        let end = rest.iter().position(|&b| b == b':').unwrap_or(rest.len());
        let host = &rest[..end];
        if !valid_domain(host) {
            return Err("invalid host");
        }
        (host, &rest[end..])
    };

    let port = match port {
        [] => PortSpec::Default,
        [b':', b'*'] if patterns => PortSpec::Any,
        [b':', b'*'] => return Err("wildcards are not allowed here"),
        [b':', digits @ ..] => PortSpec::Explicit(parse_port(digits).ok_or("invalid port")?),
        _ => return Err("invalid host"),
    };
    Ok(Parts {
        scheme,
        host,
        host_wildcard,
        port,
    })
}

/// Dot-separated non-empty labels of ASCII letters, digits, `-` and `_`.
fn valid_domain(host: &[u8]) -> bool {
    !host.is_empty()
        && host.split(|&b| b == b'.').all(|label| {
            !label.is_empty()
                && label
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        })
}

fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    let mut port: u32 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        port = port * 10 + u32::from(digit - b'0');
    }
    u16::try_from(port).ok()
}

/// Drops the scheme's default port.
fn normalize_port(scheme: &[u8], port: u16) -> Option<u16> {
    let default = if scheme.eq_ignore_ascii_case(b"https") || scheme.eq_ignore_ascii_case(b"wss") {
        443
    } else if scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"ws") {
        80
    } else {
        return Some(port);
    };
    (port != default).then_some(port)
}

fn is_ipv4(host: &str) -> bool {
    host.split('.')
        .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Option<RawOrigin<'_>> {
        RawOrigin::parse(text.as_bytes())
    }

    #[test]
    fn parses_request_origins() {
        let origin = raw("https://a.example.com").unwrap();
        assert_eq!(origin.scheme, b"https");
        assert_eq!(origin.host, b"a.example.com");
        assert_eq!(origin.port, None);
        assert_eq!(raw("https://a.com:443").unwrap().port, None);
        assert_eq!(raw("http://a.com:443").unwrap().port, Some(443));
        assert_eq!(raw("http://[::1]:8080").unwrap().host, b"[::1]");
        assert_eq!(raw("tauri://localhost").unwrap().port, None);
        for bad in [
            "null",
            "",
            "https://",
            "https://a.com/",
            "https://a.com/x",
            "https://u@a.com",
            "https://*.a.com",
            "http://localhost:*",
            "https://a..com",
            "https://a.com:",
            "https://a.com:65536",
            "https://a.com:123456",
            "1https://a.com",
            "://a.com",
            "https://[zz]",
            "https://[::1",
            "https://a.com:80:80",
            "https://a com",
        ] {
            assert_eq!(raw(bad), None, "{bad}");
        }
    }

    #[test]
    fn subdomain_pattern_needs_a_label_before_the_base() {
        let pattern: OriginPattern = "https://*.example.com".parse().unwrap();
        let yes = [
            "https://a.example.com",
            "https://a.b.example.com",
            "HTTPS://A.EXAMPLE.COM:443",
        ];
        let no = [
            "https://example.com",
            "http://a.example.com",
            "https://a.example.com:8443",
            "https://aexample.com",
            "https://a.example.com.evil.com",
        ];
        for origin in yes {
            assert!(pattern.matches(&raw(origin).unwrap()), "{origin}");
        }
        for origin in no {
            assert!(!pattern.matches(&raw(origin).unwrap()), "{origin}");
        }
    }

    #[test]
    fn displays_patterns_canonically() {
        for (given, shown) in [
            ("HTTPS://*.Example.COM:443", "https://*.example.com"),
            ("http://LOCALHOST:*", "http://localhost:*"),
            ("https://a.com:8443", "https://a.com:8443"),
        ] {
            assert_eq!(given.parse::<OriginPattern>().unwrap().to_string(), shown);
        }
    }
}
