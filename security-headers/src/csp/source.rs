use std::fmt;
use std::str::FromStr;

use crate::ConfigError;

use super::hash::{HashAlgorithm, HashSource};

/// One source expression of a CSP source list.
///
/// Keywords are variants, so an unquoted `self` (which browsers read as a host named
/// "self") cannot be written by accident. Hosts, schemes and hashes are checked when
/// they are made: a [`Source`] value is always well formed, so a policy can never be
/// broken open by a `;` smuggled into a host.
///
/// [MDN: CSP source values](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/Sources)
///
/// ```
/// use portcullis_security_headers::csp::Source;
///
/// assert_eq!(Source::SelfOrigin.to_string(), "'self'");
/// assert_eq!(Source::host("https://cdn.example.com").unwrap().to_string(), "https://cdn.example.com");
/// assert_eq!(Source::scheme("data").unwrap().to_string(), "data:");
/// assert!(Source::host("self").is_err());
/// assert!(Source::host("example.com; script-src *").is_err());
///
/// // Parsing, as from a configuration file:
/// assert_eq!("'none'".parse::<Source>().unwrap(), Source::None);
/// assert_eq!("'nonce'".parse::<Source>().unwrap(), Source::Nonce);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
#[non_exhaustive]
pub enum Source {
    /// `'none'`: nothing may be loaded.
    None,
    /// `'self'`: the document's own origin.
    SelfOrigin,
    /// `'unsafe-inline'`: inline scripts or styles (defeats most XSS protection).
    UnsafeInline,
    /// `'unsafe-eval'`: `eval()` and friends.
    UnsafeEval,
    /// `'wasm-unsafe-eval'`: WebAssembly compilation, without JavaScript `eval`.
    WasmUnsafeEval,
    /// `'unsafe-hashes'`: hashes also match event handler attributes.
    UnsafeHashes,
    /// `'strict-dynamic'`: scripts loaded by a nonce- or hash-trusted script are
    /// trusted too; needs a nonce or hash in the same directive.
    StrictDynamic,
    /// `'report-sample'`: violation reports carry the first 40 characters of the code.
    ReportSample,
    /// `'inline-speculation-rules'`: inline speculation rules scripts.
    InlineSpeculationRules,
    /// The layer's per-request nonce, written as `'nonce-…'` with a fresh value on
    /// every response (spelled `'nonce'` in configuration files).
    Nonce,
    /// A hash of an inline script or style: `'sha256-…'`.
    Hash(HashSource),
    /// A scheme source such as `https:` or `data:`.
    Scheme(SchemeSource),
    /// A host source such as `https://cdn.example.com`, `*.example.com` or `*`.
    Host(HostSource),
}

/// A validated scheme source (`https:`); made by [`Source::scheme`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SchemeSource(Box<str>);

impl SchemeSource {
    /// The scheme without its colon, in lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated host source (`https://cdn.example.com:443/path`); made by
/// [`Source::host`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostSource(Box<str>);

impl HostSource {
    /// The source as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Keyword names that mean something else when written without quotes.
const KEYWORDS: [&str; 12] = [
    "none",
    "self",
    "unsafe-inline",
    "unsafe-eval",
    "wasm-unsafe-eval",
    "unsafe-hashes",
    "strict-dynamic",
    "report-sample",
    "inline-speculation-rules",
    "unsafe-allow-redirects",
    "nonce",
    "script",
];

impl Source {
    /// A host source: `https://cdn.example.com`, `cdn.example.com`, `*.example.com`,
    /// `https://example.com:8443/static/`, or `*`.
    ///
    /// Refused: empty text, white space or control characters, non-ASCII (write IDNs
    /// in punycode), `;` `,` `'` `"` (they would end the source or directive), and
    /// keyword names without quotes (`self`, `none`, …).
    ///
    /// ```
    /// use portcullis_security_headers::csp::Source;
    ///
    /// assert!(Source::host("https://api.example.com").is_ok());
    /// assert!(Source::host("none").is_err());
    /// assert!(Source::host("a.example b.example").is_err());
    /// ```
    pub fn host(host: impl AsRef<str>) -> Result<Self, ConfigError> {
        let host = host.as_ref();
        let invalid = |reason| ConfigError::InvalidSource {
            value: host.to_owned(),
            reason,
        };
        if host.is_empty() {
            return Err(invalid("empty"));
        }
        check_visible_ascii(host).map_err(invalid)?;
        if host.contains(['\'', '"']) {
            return Err(invalid("quotes are only for keywords, nonces and hashes"));
        }
        if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(host)) {
            return Err(ConfigError::UnquotedKeyword {
                value: host.to_owned(),
            });
        }
        if host.ends_with(':') && !host.contains('/') {
            return Err(invalid("looks like a scheme source; use Source::scheme"));
        }
        Ok(Self::Host(HostSource(host.into())))
    }

    /// A scheme source, given with or without its colon: `https`, `data:`, `blob`.
    ///
    /// ```
    /// use portcullis_security_headers::csp::Source;
    ///
    /// assert_eq!(Source::scheme("https").unwrap().to_string(), "https:");
    /// assert!(Source::scheme("ht tp").is_err());
    /// ```
    pub fn scheme(scheme: impl AsRef<str>) -> Result<Self, ConfigError> {
        let text = scheme.as_ref();
        let name = text.strip_suffix(':').unwrap_or(text);
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid {
            return Err(ConfigError::InvalidSource {
                value: text.to_owned(),
                reason: "a scheme is a letter followed by letters, digits, `+`, `-` or `.`",
            });
        }
        Ok(Self::Scheme(SchemeSource(name.to_ascii_lowercase().into())))
    }

    /// The `'sha256-…'` hash source allowing exactly this inline script or style.
    ///
    /// Hash the text between `<script>` and `</script>` byte for byte, white space
    /// included.
    ///
    /// ```
    /// use portcullis_security_headers::csp::Source;
    ///
    /// let source = Source::sha256_of("alert('hi')");
    /// assert_eq!(source.to_string(), "'sha256-XTqNqFSUlZHAW7f/OGNYSOEzxKhjdAAGMXoid2VEbJk='");
    /// ```
    pub fn sha256_of(text: impl AsRef<[u8]>) -> Self {
        Self::Hash(HashSource::digest(HashAlgorithm::Sha256, text.as_ref()))
    }

    /// The `'sha384-…'` hash source of this inline script or style.
    pub fn sha384_of(text: impl AsRef<[u8]>) -> Self {
        Self::Hash(HashSource::digest(HashAlgorithm::Sha384, text.as_ref()))
    }

    /// The `'sha512-…'` hash source of this inline script or style.
    pub fn sha512_of(text: impl AsRef<[u8]>) -> Self {
        Self::Hash(HashSource::digest(HashAlgorithm::Sha512, text.as_ref()))
    }

    /// A hash source from an already computed base64 digest (as printed by
    /// `openssl dgst -sha256 -binary | base64`).
    ///
    /// ```
    /// use portcullis_security_headers::csp::{HashAlgorithm, Source};
    ///
    /// let source = Source::hash(HashAlgorithm::Sha256, "XTqNqFSUlZHAW7f/OGNYSOEzxKhjdAAGMXoid2VEbJk=").unwrap();
    /// assert_eq!(source, Source::sha256_of("alert('hi')"));
    /// assert!(Source::hash(HashAlgorithm::Sha256, "not base64!").is_err());
    /// ```
    pub fn hash(algorithm: HashAlgorithm, digest_base64: &str) -> Result<Self, ConfigError> {
        HashSource::from_base64(algorithm, digest_base64).map(Self::Hash)
    }

    /// Whether this source is a nonce or a hash (what `'strict-dynamic'` needs).
    ///
    /// ```
    /// use portcullis_security_headers::csp::Source;
    ///
    /// assert!(Source::Nonce.is_nonce_or_hash());
    /// assert!(!Source::SelfOrigin.is_nonce_or_hash());
    /// ```
    pub fn is_nonce_or_hash(&self) -> bool {
        matches!(self, Self::Nonce | Self::Hash(_))
    }

    /// Whether this source only makes sense for scripts and styles (keywords other
    /// than `'none'` and `'self'`, nonces, hashes).
    pub(crate) fn is_script_style_only(&self) -> bool {
        !matches!(
            self,
            Self::None | Self::SelfOrigin | Self::Scheme(_) | Self::Host(_)
        )
    }

    /// The keyword text, for the quoted keyword variants.
    fn keyword(&self) -> Option<&'static str> {
        Some(match self {
            Self::None => "'none'",
            Self::SelfOrigin => "'self'",
            Self::UnsafeInline => "'unsafe-inline'",
            Self::UnsafeEval => "'unsafe-eval'",
            Self::WasmUnsafeEval => "'wasm-unsafe-eval'",
            Self::UnsafeHashes => "'unsafe-hashes'",
            Self::StrictDynamic => "'strict-dynamic'",
            Self::ReportSample => "'report-sample'",
            Self::InlineSpeculationRules => "'inline-speculation-rules'",
            Self::Nonce => "'nonce'",
            Self::Hash(_) | Self::Scheme(_) | Self::Host(_) => return None,
        })
    }

    /// Writes the source as it appears in a header; the nonce through `nonce`.
    pub(crate) fn write_to(&self, out: &mut impl super::sink::PolicySink) {
        match self {
            Self::Nonce => {
                out.text("'nonce-");
                out.nonce();
                out.text("'");
            }
            Self::Hash(hash) => hash.write_to(out),
            Self::Scheme(scheme) => {
                out.text(&scheme.0);
                out.text(":");
            }
            Self::Host(host) => out.text(&host.0),
            keyword => out.text(keyword.keyword().unwrap_or_default()),
        }
    }
}

/// Refuses control characters, white space and non-ASCII, and `;` and `,`, which end a
/// directive or a policy.
pub(crate) fn check_visible_ascii(text: &str) -> Result<(), &'static str> {
    for byte in text.bytes() {
        if !byte.is_ascii_graphic() {
            return Err(if byte.is_ascii_whitespace() {
                "white space separates sources; pass each source on its own"
            } else if byte.is_ascii() {
                "control characters are not allowed"
            } else {
                "only ASCII is allowed (write international domain names in punycode)"
            });
        }
        if byte == b';' || byte == b',' {
            return Err("`;` and `,` end a directive or a policy");
        }
    }
    Ok(())
}

/// Shows the source as written in the header; the nonce slot as `'nonce-…'`.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = super::sink::StringSink::new("…");
        self.write_to(&mut out);
        f.write_str(&out.finish())
    }
}

impl FromStr for Source {
    type Err = ConfigError;

    /// Parses one source expression: a quoted keyword (`'self'`), `'nonce'` for the
    /// per-request nonce, a hash (`'sha256-…'`), a scheme (`https:`) or a host.
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidSource {
            value: text.to_owned(),
            reason,
        };
        if let Some(inner) = text.strip_prefix('\'') {
            let inner = inner
                .strip_suffix('\'')
                .ok_or_else(|| invalid("unterminated quote"))?;
            let keyword = match inner.to_ascii_lowercase().as_str() {
                "none" => Self::None,
                "self" => Self::SelfOrigin,
                "unsafe-inline" => Self::UnsafeInline,
                "unsafe-eval" => Self::UnsafeEval,
                "wasm-unsafe-eval" => Self::WasmUnsafeEval,
                "unsafe-hashes" => Self::UnsafeHashes,
                "strict-dynamic" => Self::StrictDynamic,
                "report-sample" => Self::ReportSample,
                "inline-speculation-rules" => Self::InlineSpeculationRules,
                "nonce" => Self::Nonce,
                lower => {
                    if lower.starts_with("nonce-") {
                        return Err(invalid(
                            "a fixed nonce defeats its purpose; write 'nonce' for the per-request nonce",
                        ));
                    }
                    for algorithm in HashAlgorithm::ALL {
                        if let Some(digest) = inner
                            .get(algorithm.prefix().len()..)
                            .filter(|_| lower.starts_with(algorithm.prefix()))
                        {
                            return Self::hash(algorithm, digest);
                        }
                    }
                    return Err(invalid("unknown keyword"));
                }
            };
            return Ok(keyword);
        }
        let is_scheme = text.ends_with(':') && !text.contains('/') && !text.contains('.');
        if is_scheme {
            Self::scheme(text)
        } else {
            Self::host(text)
        }
    }
}

impl TryFrom<String> for Source {
    type Error = ConfigError;

    fn try_from(text: String) -> Result<Self, ConfigError> {
        text.parse()
    }
}

impl TryFrom<&str> for Source {
    type Error = ConfigError;

    fn try_from(text: &str) -> Result<Self, ConfigError> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_render_quoted() {
        let cases = [
            (Source::None, "'none'"),
            (Source::SelfOrigin, "'self'"),
            (Source::UnsafeInline, "'unsafe-inline'"),
            (Source::UnsafeEval, "'unsafe-eval'"),
            (Source::WasmUnsafeEval, "'wasm-unsafe-eval'"),
            (Source::UnsafeHashes, "'unsafe-hashes'"),
            (Source::StrictDynamic, "'strict-dynamic'"),
            (Source::ReportSample, "'report-sample'"),
            (Source::InlineSpeculationRules, "'inline-speculation-rules'"),
            (Source::Nonce, "'nonce-…'"),
        ];
        for (source, text) in cases {
            assert_eq!(source.to_string(), text);
            if source != Source::Nonce {
                assert_eq!(text.parse::<Source>().unwrap(), source);
            }
        }
    }

    #[test]
    fn hosts_and_schemes_are_validated() {
        for good in [
            "*",
            "example.com",
            "*.example.com",
            "https://example.com",
            "https://example.com:8443/static/app.js",
            "wss://socket.example.com",
            "http://127.0.0.1:3000",
        ] {
            assert_eq!(Source::host(good).unwrap().to_string(), good);
            assert_eq!(good.parse::<Source>().unwrap().to_string(), good);
        }
        for bad in [
            "",
            "a b",
            "a;b",
            "a,b",
            "a\tb",
            "a\u{7}b",
            "exämple.com",
            "'self",
            "\"x\"",
        ] {
            assert!(
                matches!(Source::host(bad), Err(ConfigError::InvalidSource { .. })),
                "{bad:?}"
            );
        }
        for keyword in ["self", "SELF", "none", "unsafe-inline", "strict-dynamic"] {
            assert!(matches!(
                Source::host(keyword),
                Err(ConfigError::UnquotedKeyword { .. })
            ));
        }
        assert_eq!(Source::scheme("https").unwrap().to_string(), "https:");
        assert_eq!(Source::scheme("Blob:").unwrap().to_string(), "blob:");
        assert_eq!("data:".parse::<Source>().unwrap().to_string(), "data:");
        assert!(Source::scheme("").is_err());
        assert!(Source::scheme("1http").is_err());
        assert!(Source::scheme("ht;tp").is_err());
        assert!(Source::host("https:").is_err());
    }

    #[test]
    fn parsing_refuses_fixed_nonces_and_unknown_keywords() {
        assert!("'nonce-abc'".parse::<Source>().is_err());
        assert!("'unsafe-everything'".parse::<Source>().is_err());
        assert!("'self".parse::<Source>().is_err());
        assert!("'sha256-!!'".parse::<Source>().is_err());
        assert_eq!(
            "'sha256-XTqNqFSUlZHAW7f/OGNYSOEzxKhjdAAGMXoid2VEbJk='"
                .parse::<Source>()
                .unwrap(),
            Source::sha256_of("alert('hi')")
        );
    }

    #[test]
    fn deserializes_from_strings() {
        let sources: Vec<Source> =
            serde_json::from_str(r#"["'self'", "https://cdn.example.com", "data:"]"#).unwrap();
        assert_eq!(sources[0], Source::SelfOrigin);
        assert_eq!(sources[2], Source::scheme("data").unwrap());
        assert!(serde_json::from_str::<Source>(r#""self""#).is_err());
    }
}
