//! The typed CSP violation report and the parsers of the two wire formats.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::Value;

/// One Content-Security-Policy violation, whichever format the browser sent it in.
///
/// Both the legacy [`report-uri`] format (`application/csp-report`) and the
/// [Reporting API] format (`application/reports+json`, `"type": "csp-violation"`) are
/// normalized into this struct. Fields the browser left out, or sent with an unexpected
/// type, are `None`; empty strings count as absent.
///
/// [`report-uri`]: https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/report-uri
/// [Reporting API]: https://developer.mozilla.org/en-US/docs/Web/API/CSPViolationReportBody
///
/// # Example
///
/// ```
/// use portcullis_security_headers::report::{CspViolation, Disposition, ReportFormat};
///
/// let body = br#"{"csp-report": {
///     "document-uri": "https://example.com/page",
///     "violated-directive": "script-src-elem",
///     "blocked-uri": "inline",
///     "disposition": "report"
/// }}"#;
/// let violations = CspViolation::parse(ReportFormat::ReportUri, body).unwrap();
/// assert_eq!(violations[0].document_url, "https://example.com/page");
/// assert_eq!(violations[0].effective_directive, "script-src-elem");
/// assert_eq!(violations[0].disposition, Some(Disposition::Report));
/// assert!(violations[0].is_report_only());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CspViolation {
    /// The format the report arrived in.
    pub format: ReportFormat,
    /// The URL of the document in which the violation happened (`document-uri` /
    /// `documentURL`); empty when the browser left it out.
    pub document_url: String,
    /// The directive whose enforcement caused the violation (`effective-directive` /
    /// `effectiveDirective`; for old browsers that only send `violated-directive`, its
    /// first token). Empty when the browser left it out.
    pub effective_directive: String,
    /// The directive as written in the policy (`violated-directive`, legacy format only).
    pub violated_directive: Option<String>,
    /// The URL, or keyword such as `inline` or `eval`, of the blocked resource
    /// (`blocked-uri` / `blockedURL`).
    pub blocked_url: Option<String>,
    /// The referrer of the document (`referrer`).
    pub referrer: Option<String>,
    /// The whole policy that was violated (`original-policy` / `originalPolicy`).
    pub original_policy: Option<String>,
    /// Whether the policy was enforced or only reported (`disposition`).
    pub disposition: Option<Disposition>,
    /// The URL of the script or stylesheet that caused the violation (`source-file` /
    /// `sourceFile`).
    pub source_file: Option<String>,
    /// The line in `source_file` (`line-number` / `lineNumber`).
    pub line_number: Option<u64>,
    /// The column in `source_file` (`column-number` / `columnNumber`).
    pub column_number: Option<u64>,
    /// The first characters of the blocked inline script, style or `eval` argument
    /// (`script-sample` / `sample`). Attacker-controlled text: escape it before display.
    pub sample: Option<String>,
    /// The HTTP status of the document (`status-code` / `statusCode`).
    pub status_code: Option<u16>,
    /// The browser's user agent (Reporting API `user_agent`, else the request's
    /// `User-Agent` header).
    pub user_agent: Option<String>,
    /// How many milliseconds the report waited in the browser before being sent
    /// (Reporting API `age`).
    pub age_ms: Option<u64>,
}

impl CspViolation {
    /// Whether this violation came from a `Content-Security-Policy-Report-Only` policy,
    /// so nothing was actually blocked.
    pub fn is_report_only(&self) -> bool {
        self.disposition == Some(Disposition::Report)
    }

    /// Parses a report body in `format` into the CSP violations it holds.
    ///
    /// Reports of other types in a Reporting API batch (`deprecation`,
    /// `intervention`, …) are skipped, so the result may be empty. Unknown fields are
    /// ignored. The body must be UTF-8 JSON of the right overall shape.
    ///
    /// ```
    /// use portcullis_security_headers::report::{CspViolation, ReportFormat};
    ///
    /// let body = br#"[
    ///   {"type": "deprecation", "url": "https://example.com/", "body": {}},
    ///   {"type": "csp-violation", "age": 10, "url": "https://example.com/",
    ///    "body": {"documentURL": "https://example.com/", "effectiveDirective": "img-src",
    ///             "blockedURL": "https://tracker.example/pixel.gif", "disposition": "enforce"}}
    /// ]"#;
    /// let violations = CspViolation::parse(ReportFormat::ReportingApi, body).unwrap();
    /// assert_eq!(violations.len(), 1);
    /// assert_eq!(violations[0].effective_directive, "img-src");
    /// assert_eq!(violations[0].age_ms, Some(10));
    ///
    /// assert!(CspViolation::parse(ReportFormat::ReportingApi, b"{not json").is_err());
    /// ```
    pub fn parse(format: ReportFormat, body: &[u8]) -> Result<Vec<CspViolation>, ParseError> {
        let text = std::str::from_utf8(body).map_err(ParseError::NotUtf8)?;
        if text.trim().is_empty() {
            return Err(ParseError::Empty);
        }
        match format {
            ReportFormat::ReportUri => {
                let envelope: LegacyEnvelope =
                    serde_json::from_str(text).map_err(ParseError::Json)?;
                Ok(vec![envelope.report.into_violation()])
            }
            ReportFormat::ReportingApi => {
                let entries = match serde_json::from_str(text).map_err(ParseError::Json)? {
                    Value::Array(entries) => entries,
                    entry @ Value::Object(_) => vec![entry],
                    _ => {
                        return Err(ParseError::Json(serde_json::Error::custom(
                            "expected an array of reports",
                        )));
                    }
                };
                // Entries that are not CSP violations, or not objects at all, are
                // skipped: a batch may mix report types.
                Ok(entries
                    .into_iter()
                    .filter_map(|entry| serde_json::from_value::<ReportingEntry>(entry).ok())
                    .filter_map(ReportingEntry::into_violation)
                    .collect())
            }
        }
    }
}

/// Whether the violated policy was enforced or only reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disposition {
    /// The policy was enforced (`Content-Security-Policy`): the resource was blocked.
    Enforce,
    /// The policy was only reported (`Content-Security-Policy-Report-Only`).
    Report,
}

impl Disposition {
    /// The wire spelling: `enforce` or `report`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Enforce => "enforce",
            Disposition::Report => "report",
        }
    }

    fn from_wire(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("enforce") {
            Some(Disposition::Enforce)
        } else if value.eq_ignore_ascii_case("report") {
            Some(Disposition::Report)
        } else {
            None
        }
    }
}

/// The wire format of a report, chosen by the request's `Content-Type`.
///
/// ```
/// use portcullis_security_headers::report::ReportFormat;
/// assert_eq!(ReportFormat::ReportingApi.media_type(), "application/reports+json");
/// assert_eq!(
///     ReportFormat::from_content_type("Application/CSP-Report; charset=utf-8"),
///     Some(ReportFormat::ReportUri),
/// );
/// assert_eq!(ReportFormat::from_content_type("application/json"), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReportFormat {
    /// The legacy `report-uri` format, `application/csp-report`: one
    /// `{"csp-report": {…}}` object with kebab-case members.
    #[default]
    ReportUri,
    /// The Reporting API format, `application/reports+json`: an array of reports with
    /// camelCase bodies, sent for the `report-to` directive.
    ReportingApi,
}

impl ReportFormat {
    /// The media type of this format.
    pub fn media_type(self) -> &'static str {
        match self {
            ReportFormat::ReportUri => "application/csp-report",
            ReportFormat::ReportingApi => "application/reports+json",
        }
    }

    /// The format of a `Content-Type` value: the media type is compared
    /// case-insensitively and parameters such as `charset` are ignored.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        [ReportFormat::ReportUri, ReportFormat::ReportingApi]
            .into_iter()
            .find(|format| essence.eq_ignore_ascii_case(format.media_type()))
    }
}

/// Why a report body could not be read.
///
/// ```
/// use portcullis_security_headers::report::{CspViolation, ParseError, ReportFormat};
///
/// let error = CspViolation::parse(ReportFormat::ReportUri, b"").unwrap_err();
/// assert!(matches!(error, ParseError::Empty));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body was empty (or only whitespace).
    #[error("the report body is empty")]
    Empty,
    /// The body is not UTF-8.
    #[error("the report body is not UTF-8")]
    NotUtf8(#[source] std::str::Utf8Error),
    /// The body is not JSON of the expected shape.
    #[error("the report body is not a valid report")]
    Json(#[source] serde_json::Error),
}

// ----- wire formats -----

#[derive(Deserialize)]
struct LegacyEnvelope {
    #[serde(rename = "csp-report")]
    report: LegacyReport,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LegacyReport {
    #[serde(default, deserialize_with = "lenient_string")]
    document_uri: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    referrer: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    violated_directive: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    effective_directive: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    original_policy: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    blocked_uri: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    status_code: Option<u64>,
    #[serde(default, deserialize_with = "lenient_string")]
    source_file: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    line_number: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    column_number: Option<u64>,
    #[serde(default, deserialize_with = "lenient_string")]
    script_sample: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    disposition: Option<String>,
}

impl LegacyReport {
    fn into_violation(self) -> CspViolation {
        let effective_directive = self
            .effective_directive
            .or_else(|| {
                self.violated_directive
                    .as_deref()
                    .and_then(|directive| directive.split_whitespace().next())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        CspViolation {
            format: ReportFormat::ReportUri,
            document_url: self.document_uri.unwrap_or_default(),
            effective_directive,
            violated_directive: self.violated_directive,
            blocked_url: self.blocked_uri,
            referrer: self.referrer,
            original_policy: self.original_policy,
            disposition: self.disposition.as_deref().and_then(Disposition::from_wire),
            source_file: self.source_file,
            line_number: self.line_number,
            column_number: self.column_number,
            sample: self.script_sample,
            status_code: self.status_code.and_then(|code| u16::try_from(code).ok()),
            user_agent: None,
            age_ms: None,
        }
    }
}

/// One entry of a Reporting API batch.
#[derive(Deserialize)]
struct ReportingEntry {
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    age: Option<u64>,
    #[serde(default, deserialize_with = "lenient_string")]
    url: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    user_agent: Option<String>,
    #[serde(default)]
    body: Option<Value>,
}

impl ReportingEntry {
    fn into_violation(self) -> Option<CspViolation> {
        if self.kind.as_deref() != Some("csp-violation") {
            return None;
        }
        let body: ReportingBody = self
            .body
            .filter(Value::is_object)
            .and_then(|body| serde_json::from_value(body).ok())?;
        Some(CspViolation {
            format: ReportFormat::ReportingApi,
            document_url: body.document_url.or(self.url).unwrap_or_default(),
            effective_directive: body.effective_directive.unwrap_or_default(),
            violated_directive: None,
            blocked_url: body.blocked_url,
            referrer: body.referrer,
            original_policy: body.original_policy,
            disposition: body.disposition.as_deref().and_then(Disposition::from_wire),
            source_file: body.source_file,
            line_number: body.line_number,
            column_number: body.column_number,
            sample: body.sample,
            status_code: body.status_code.and_then(|code| u16::try_from(code).ok()),
            user_agent: self.user_agent,
            age_ms: self.age,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportingBody {
    #[serde(rename = "documentURL", default, deserialize_with = "lenient_string")]
    document_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    referrer: Option<String>,
    #[serde(rename = "blockedURL", default, deserialize_with = "lenient_string")]
    blocked_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    effective_directive: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    original_policy: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    source_file: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    sample: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    disposition: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    status_code: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    line_number: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    column_number: Option<u64>,
}

/// A string member; numbers are kept as their text, empty strings and other types
/// count as absent.
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) if !text.is_empty() => Some(text),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    })
}

/// A non-negative integer member; numeric strings are accepted, anything else counts
/// as absent.
fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_falls_back_to_violated_directive_first_token() {
        let body = br#"{"csp-report":{"document-uri":"https://example.com/foo/bar","referrer":"https://www.google.com/","violated-directive":"default-src self","original-policy":"default-src self; report-uri /csp-hotline.php","blocked-uri":"http://evilhackerscripts.com"}}"#;
        let violation = CspViolation::parse(ReportFormat::ReportUri, body)
            .unwrap()
            .remove(0);
        assert_eq!(violation.effective_directive, "default-src");
        assert_eq!(
            violation.violated_directive.as_deref(),
            Some("default-src self")
        );
        assert_eq!(violation.disposition, None);
        assert_eq!(violation.line_number, None);
    }

    #[test]
    fn lenient_members_tolerate_odd_types() {
        let body = br#"{"csp-report":{"document-uri":"https://a.example/","line-number":"12","column-number":-1,"status-code":70000,"referrer":"","blocked-uri":{"x":1},"unknown":[1,2]}}"#;
        let violation = CspViolation::parse(ReportFormat::ReportUri, body)
            .unwrap()
            .remove(0);
        assert_eq!(violation.line_number, Some(12));
        assert_eq!(violation.column_number, None);
        assert_eq!(violation.status_code, None);
        assert_eq!(violation.referrer, None);
        assert_eq!(violation.blocked_url, None);
    }

    #[test]
    fn wrong_shapes_are_errors() {
        for body in [
            &b"[]"[..],
            b"{}",
            b"{\"csp-report\": 5}",
            b"\"text\"",
            b"{\"csp-report\": {}",
        ] {
            assert!(
                CspViolation::parse(ReportFormat::ReportUri, body).is_err(),
                "{body:?}"
            );
        }
        assert!(CspViolation::parse(ReportFormat::ReportingApi, b"5").is_err());
        assert!(matches!(
            CspViolation::parse(ReportFormat::ReportingApi, b"\xff\xfe"),
            Err(ParseError::NotUtf8(_))
        ));
    }

    #[test]
    fn reporting_api_skips_junk_entries() {
        let body = br#"[1, "x", null, {"type": 5}, {"type": "csp-violation"}, {"type":"csp-violation","body":[]},
            {"type":"csp-violation","url":"https://a.example/","body":{"effectiveDirective":"img-src"}}]"#;
        let violations = CspViolation::parse(ReportFormat::ReportingApi, body).unwrap();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].document_url, "https://a.example/");
    }

    #[test]
    fn reporting_api_accepts_a_single_object() {
        let body = br#"{"type":"csp-violation","body":{"documentURL":"https://a.example/","effectiveDirective":"img-src","disposition":"report"}}"#;
        let violations = CspViolation::parse(ReportFormat::ReportingApi, body).unwrap();
        assert!(violations[0].is_report_only());
    }
}
