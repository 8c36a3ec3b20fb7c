use std::collections::BTreeMap;

use http::HeaderValue;

use crate::ConfigError;

/// The `Reporting-Endpoints` header: named URLs that a policy's `report-to` directive
/// (and other reporting features) send reports to.
///
/// Endpoint names are structured-field keys (lower-case letters, digits, `_`, `-`,
/// `.`, `*`, starting with a letter or `*`); URLs are absolute `https://` URLs, `http://`
/// URLs on a loopback host (for development), or paths starting with `/`.
///
/// [MDN: Reporting-Endpoints](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Reporting-Endpoints)
///
/// ```
/// use portcullis_security_headers::csp::ReportingEndpoints;
///
/// let endpoints = ReportingEndpoints::new()
///     .endpoint("csp-endpoint", "https://example.com/csp-reports")
///     .unwrap();
/// assert_eq!(
///     endpoints.to_header_value().unwrap(),
///     r#"csp-endpoint="https://example.com/csp-reports""#
/// );
/// assert!(ReportingEndpoints::new().endpoint("Bad Name", "https://example.com/").is_err());
/// assert!(ReportingEndpoints::new().endpoint("csp", "http://example.com/").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "BTreeMap<String, String>")]
pub struct ReportingEndpoints {
    endpoints: Vec<(Box<str>, Box<str>)>,
}

impl ReportingEndpoints {
    /// No endpoints.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the endpoint `name` at `url`.
    pub fn endpoint(mut self, name: &str, url: &str) -> Result<Self, ConfigError> {
        check_endpoint_name(name)?;
        check_endpoint_url(url)?;
        if self.endpoints.iter().any(|(n, _)| &**n == name) {
            return Err(ConfigError::DuplicateReportingEndpoint {
                name: name.to_owned(),
            });
        }
        self.endpoints.push((name.into(), url.into()));
        Ok(self)
    }

    /// Whether there are no endpoints.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The URL of the endpoint `name`.
    pub fn url(&self, name: &str) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, url)| &**url)
    }

    /// The header value, or `None` when there are no endpoints.
    pub fn to_header_value(&self) -> Option<HeaderValue> {
        if self.endpoints.is_empty() {
            return None;
        }
        let text = self
            .endpoints
            .iter()
            .map(|(name, url)| format!("{name}=\"{url}\""))
            .collect::<Vec<_>>()
            .join(", ");
        HeaderValue::try_from(text).ok()
    }
}

impl TryFrom<BTreeMap<String, String>> for ReportingEndpoints {
    type Error = ConfigError;

    fn try_from(map: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        map.iter().try_fold(Self::new(), |endpoints, (name, url)| {
            endpoints.endpoint(name, url)
        })
    }
}

/// A structured-field key: `( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
pub(crate) fn is_sf_key(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
        && bytes.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.' | b'*')
        })
}

fn check_endpoint_name(name: &str) -> Result<(), ConfigError> {
    if is_sf_key(name) {
        Ok(())
    } else {
        Err(ConfigError::InvalidReportingEndpoint {
            value: name.to_owned(),
            reason: "a name starts with a lower-case letter and holds only lower-case letters, \
                     digits, `_`, `-`, `.` and `*`",
        })
    }
}

fn check_endpoint_url(url: &str) -> Result<(), ConfigError> {
    let invalid = |reason| ConfigError::InvalidReportingEndpoint {
        value: url.to_owned(),
        reason,
    };
    check_uri_chars(url).map_err(invalid)?;
    if url.contains(['"', '\\']) {
        return Err(invalid("quotes and backslashes are not allowed"));
    }
    if url.starts_with('/') && !url.starts_with("//") {
        return Ok(());
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") && lower.len() > "https://".len() {
        return Ok(());
    }
    if let Some(rest) = lower.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if crate::headers::is_loopback_host(host) {
            return Ok(());
        }
    }
    Err(invalid(
        "reports go to an https:// URL (http:// only on localhost) or a path starting with `/`",
    ))
}

/// Checks that a URI has no white space, control characters, non-ASCII, `;` or `,`.
pub(crate) fn check_uri_chars(uri: &str) -> Result<(), &'static str> {
    if uri.is_empty() {
        return Err("empty");
    }
    super::source::check_visible_ascii(uri)
}

/// Checks a `report-uri` value: an absolute URL or a path.
pub(crate) fn check_report_uri(uri: &str) -> Result<(), ConfigError> {
    check_uri_chars(uri)
        .and_then(|()| {
            let lower = uri.to_ascii_lowercase();
            if uri.starts_with('/') || lower.starts_with("https://") || lower.starts_with("http://")
            {
                Ok(())
            } else {
                Err("report-uri takes an http(s) URL or a path starting with `/`")
            }
        })
        .map_err(|reason| ConfigError::InvalidReportValue {
            value: uri.to_owned(),
            reason,
        })
}

/// Checks a `report-to` endpoint name.
pub(crate) fn check_report_to(name: &str) -> Result<(), ConfigError> {
    if is_sf_key(name) {
        Ok(())
    } else {
        Err(ConfigError::InvalidReportValue {
            value: name.to_owned(),
            reason: "report-to names a Reporting-Endpoints entry: lower-case letters, digits, \
                     `_`, `-`, `.`",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_endpoints_are_a_dictionary() {
        let endpoints = ReportingEndpoints::new()
            .endpoint("csp-endpoint", "https://example.com/csp")
            .unwrap()
            .endpoint("default", "/reports")
            .unwrap()
            .endpoint("dev", "http://localhost:8080/r")
            .unwrap();
        assert_eq!(
            endpoints.to_header_value().unwrap(),
            r#"csp-endpoint="https://example.com/csp", default="/reports", dev="http://localhost:8080/r""#
        );
        assert_eq!(ReportingEndpoints::new().to_header_value(), None);
    }

    #[test]
    fn names_and_urls_are_checked() {
        for bad in ["", "Csp", "1csp", "csp endpoint", "csp;x", "csp\"x"] {
            assert!(
                ReportingEndpoints::new()
                    .endpoint(bad, "https://example.com/")
                    .is_err(),
                "{bad:?}"
            );
        }
        for bad in [
            "",
            "https://",
            "http://example.com/r",
            "ftp://example.com/",
            "https://example.com/a b",
            "https://example.com/\"",
            "https://example.com/;",
            "//example.com/r",
            "reports",
        ] {
            assert!(
                ReportingEndpoints::new().endpoint("csp", bad).is_err(),
                "{bad:?}"
            );
        }
        let twice = ReportingEndpoints::new()
            .endpoint("csp", "/a")
            .unwrap()
            .endpoint("csp", "/b");
        assert!(matches!(
            twice,
            Err(ConfigError::DuplicateReportingEndpoint { .. })
        ));
    }

    #[test]
    fn deserializes_from_a_map() {
        let endpoints: ReportingEndpoints =
            serde_json::from_str(r#"{"csp-endpoint": "https://example.com/csp"}"#).unwrap();
        assert_eq!(
            endpoints.url("csp-endpoint"),
            Some("https://example.com/csp")
        );
        assert!(serde_json::from_str::<ReportingEndpoints>(r#"{"X": "/r"}"#).is_err());
    }
}
