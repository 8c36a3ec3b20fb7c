use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use http::HeaderValue;

use crate::ConfigError;

use super::nonce::{CspNonce, NONCE_LEN};
use super::reporting::{check_report_to, check_report_uri};
use super::{Directive, SandboxFlag, Source};

/// A Content-Security-Policy, built from typed directives and sources.
///
/// Every method that adds a directive checks it against the policy so far and refuses
/// a policy that would not do what it says: a directive set twice, an empty source
/// list, `'none'` next to other sources, `'strict-dynamic'` without a nonce or hash, or a
/// script-only source (nonce, hash, `'unsafe-*'`) in a directive where it means nothing.
///
/// [`Source::Nonce`] is the per-request nonce of the
/// [`SecurityHeadersLayer`](crate::headers::SecurityHeadersLayer): the layer splits the
/// policy around it once, when it is built, and only writes the fresh nonce into each
/// response's header.
///
/// `upgrade-insecure-requests` is only sent on HTTPS requests, like HSTS.
///
/// [MDN: Content-Security-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy)
///
/// # Example
///
/// ```
/// use portcullis_security_headers::csp::{Directive, Policy, Source};
///
/// let policy = Policy::new()
///     .directive(Directive::DefaultSrc, [Source::None])?
///     .directive(Directive::ScriptSrc, [Source::Nonce, Source::StrictDynamic])?
///     .directive(Directive::ImgSrc, [Source::SelfOrigin, Source::host("https://img.example.com")?])?
///     .directive(Directive::FrameAncestors, [Source::None])?
///     .report_to("csp-endpoint")?;
///
/// assert_eq!(
///     policy.to_string(),
///     "default-src 'none'; script-src 'nonce-…' 'strict-dynamic'; \
///      img-src 'self' https://img.example.com; frame-ancestors 'none'; report-to csp-endpoint"
/// );
///
/// // Mistakes are refused when the policy is built.
/// assert!(Policy::new().directive(Directive::ScriptSrc, [Source::StrictDynamic]).is_err());
/// assert!(policy.clone().directive(Directive::ImgSrc, [Source::None]).is_err());
/// # Ok::<(), portcullis_security_headers::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "BTreeMap<String, Vec<String>>")]
pub struct Policy {
    directives: Vec<(Directive, Vec<Source>)>,
    sandbox: Option<Vec<SandboxFlag>>,
    require_trusted_types_for_script: bool,
    upgrade_insecure_requests: bool,
    report_uri: Option<Box<str>>,
    report_to: Option<Box<str>>,
}

impl Policy {
    /// An empty policy; add directives with [`directive`](Self::directive).
    pub fn new() -> Self {
        Self::default()
    }

    /// The policy of the strict preset, for HTML apps: nothing by default, scripts and
    /// styles only with the per-request nonce, images, fonts, `fetch` and the manifest
    /// from the own origin, no `<base>`, forms only to the own origin, no framing, no
    /// plugins, and `upgrade-insecure-requests` (sent on HTTPS only).
    ///
    /// ```
    /// use portcullis_security_headers::csp::Policy;
    ///
    /// assert_eq!(
    ///     Policy::strict().to_string(),
    ///     "default-src 'none'; script-src 'nonce-…'; script-src-attr 'none'; \
    ///      style-src 'nonce-…'; img-src 'self'; font-src 'self'; connect-src 'self'; \
    ///      manifest-src 'self'; base-uri 'none'; form-action 'self'; \
    ///      frame-ancestors 'none'; object-src 'none'; upgrade-insecure-requests"
    /// );
    /// ```
    pub fn strict() -> Self {
        let directives = [
            (Directive::DefaultSrc, vec![Source::None]),
            (Directive::ScriptSrc, vec![Source::Nonce]),
            (Directive::ScriptSrcAttr, vec![Source::None]),
            (Directive::StyleSrc, vec![Source::Nonce]),
            (Directive::ImgSrc, vec![Source::SelfOrigin]),
            (Directive::FontSrc, vec![Source::SelfOrigin]),
            (Directive::ConnectSrc, vec![Source::SelfOrigin]),
            (Directive::ManifestSrc, vec![Source::SelfOrigin]),
            (Directive::BaseUri, vec![Source::None]),
            (Directive::FormAction, vec![Source::SelfOrigin]),
            (Directive::FrameAncestors, vec![Source::None]),
            (Directive::ObjectSrc, vec![Source::None]),
        ];
        Self {
            directives: directives.into(),
            upgrade_insecure_requests: true,
            ..Self::default()
        }
    }

    /// The policy of the API preset (OWASP REST Security cheat sheet): nothing may be
    /// loaded and nobody may frame the response.
    ///
    /// ```
    /// use portcullis_security_headers::csp::Policy;
    ///
    /// assert_eq!(Policy::api().to_string(), "default-src 'none'; frame-ancestors 'none'");
    /// ```
    pub fn api() -> Self {
        Self {
            directives: vec![
                (Directive::DefaultSrc, vec![Source::None]),
                (Directive::FrameAncestors, vec![Source::None]),
            ],
            ..Self::default()
        }
    }

    /// Adds a directive with its sources.
    ///
    /// Refused: a directive already in the policy, no sources, `'none'` with other
    /// sources, `'strict-dynamic'` without a nonce or hash next to it, and script or
    /// style sources (nonce, hashes, `'unsafe-*'`, `'strict-dynamic'`,
    /// `'report-sample'`) outside `default-src`, `script-src*`, `style-src*` and
    /// `worker-src`.
    ///
    /// ```
    /// use portcullis_security_headers::ConfigError;
    /// use portcullis_security_headers::csp::{Directive, Policy, Source};
    ///
    /// let result = Policy::new().directive(Directive::FrameAncestors, [Source::Nonce]);
    /// assert!(matches!(result, Err(ConfigError::SourceNotAllowed { .. })));
    /// ```
    pub fn directive(
        mut self,
        directive: Directive,
        sources: impl IntoIterator<Item = Source>,
    ) -> Result<Self, ConfigError> {
        let name = directive.as_str();
        if self.sources(directive).is_some() {
            return Err(ConfigError::DuplicateDirective { directive: name });
        }
        let mut list: Vec<Source> = Vec::new();
        for source in sources {
            if !list.contains(&source) {
                list.push(source);
            }
        }
        check_source_list(directive, &list)?;
        self.directives.push((directive, list));
        Ok(self)
    }

    /// Adds `upgrade-insecure-requests`: the browser fetches `http:` subresources over
    /// HTTPS. The layer sends it on HTTPS requests only, never to `localhost`.
    ///
    /// [MDN](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/upgrade-insecure-requests)
    ///
    /// ```
    /// use portcullis_security_headers::csp::{Directive, Policy, Source};
    ///
    /// let policy = Policy::new()
    ///     .directive(Directive::DefaultSrc, [Source::SelfOrigin]).unwrap()
    ///     .upgrade_insecure_requests();
    /// assert!(policy.has_upgrade_insecure_requests());
    /// ```
    #[must_use]
    pub fn upgrade_insecure_requests(mut self) -> Self {
        self.upgrade_insecure_requests = true;
        self
    }

    /// Removes `upgrade-insecure-requests`.
    #[must_use]
    pub fn without_upgrade_insecure_requests(mut self) -> Self {
        self.upgrade_insecure_requests = false;
        self
    }

    /// Adds `require-trusted-types-for 'script'`: DOM XSS sinks only take Trusted Types.
    ///
    /// [MDN](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/require-trusted-types-for)
    ///
    /// ```
    /// use portcullis_security_headers::csp::Policy;
    ///
    /// let policy = Policy::api().require_trusted_types_for_script();
    /// assert!(policy.to_string().ends_with("require-trusted-types-for 'script'"));
    /// ```
    #[must_use]
    pub fn require_trusted_types_for_script(mut self) -> Self {
        self.require_trusted_types_for_script = true;
        self
    }

    /// Adds `sandbox` with these exceptions (none: the strictest sandbox).
    ///
    /// [MDN](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/sandbox)
    ///
    /// ```
    /// use portcullis_security_headers::csp::{Policy, SandboxFlag};
    ///
    /// let policy = Policy::api().sandbox([SandboxFlag::AllowForms]).unwrap();
    /// assert!(policy.to_string().ends_with("sandbox allow-forms"));
    /// assert!(policy.sandbox([]).is_err()); // set twice
    /// ```
    pub fn sandbox(
        mut self,
        flags: impl IntoIterator<Item = SandboxFlag>,
    ) -> Result<Self, ConfigError> {
        if self.sandbox.is_some() {
            return Err(ConfigError::DuplicateDirective {
                directive: "sandbox",
            });
        }
        let mut list = Vec::new();
        for flag in flags {
            if !list.contains(&flag) {
                list.push(flag);
            }
        }
        self.sandbox = Some(list);
        Ok(self)
    }

    /// Adds `report-uri`: where violation reports are POSTed (deprecated in favour of
    /// [`report_to`](Self::report_to), but the only one Firefox and Safari read).
    /// An `https://` URL or a path starting with `/`.
    ///
    /// [MDN](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/report-uri)
    ///
    /// ```
    /// use portcullis_security_headers::csp::Policy;
    ///
    /// let policy = Policy::api().report_uri("/csp-reports").unwrap();
    /// assert!(policy.to_string().ends_with("report-uri /csp-reports"));
    /// assert!(Policy::api().report_uri("/a; script-src *").is_err());
    /// ```
    pub fn report_uri(mut self, uri: impl AsRef<str>) -> Result<Self, ConfigError> {
        let uri = uri.as_ref();
        if self.report_uri.is_some() {
            return Err(ConfigError::DuplicateDirective {
                directive: "report-uri",
            });
        }
        check_report_uri(uri)?;
        self.report_uri = Some(uri.into());
        Ok(self)
    }

    /// Adds `report-to`: the name of a `Reporting-Endpoints` entry that receives
    /// violation reports (configure the entry with
    /// [`SecurityHeadersLayer::reporting_endpoint`](crate::headers::SecurityHeadersLayer::reporting_endpoint)).
    ///
    /// [MDN](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/report-to)
    ///
    /// ```
    /// use portcullis_security_headers::csp::Policy;
    ///
    /// let policy = Policy::api().report_to("csp-endpoint").unwrap();
    /// assert!(policy.to_string().ends_with("report-to csp-endpoint"));
    /// assert!(Policy::api().report_to("csp endpoint").is_err());
    /// ```
    pub fn report_to(mut self, endpoint: impl AsRef<str>) -> Result<Self, ConfigError> {
        let endpoint = endpoint.as_ref();
        if self.report_to.is_some() {
            return Err(ConfigError::DuplicateDirective {
                directive: "report-to",
            });
        }
        check_report_to(endpoint)?;
        self.report_to = Some(endpoint.into());
        Ok(self)
    }

    /// The sources of a directive, if the policy has it.
    pub fn sources(&self, directive: Directive) -> Option<&[Source]> {
        self.directives
            .iter()
            .find(|(d, _)| *d == directive)
            .map(|(_, sources)| sources.as_slice())
    }

    /// The sources that apply to `directive`, following the browser's fallback chain
    /// (`script-src-elem` → `script-src` → `default-src`). `None` when nothing
    /// restricts it.
    ///
    /// ```
    /// use portcullis_security_headers::csp::{Directive, Policy, Source};
    ///
    /// let policy = Policy::strict();
    /// assert_eq!(policy.effective_sources(Directive::MediaSrc), Some(&[Source::None][..]));
    /// assert_eq!(Policy::new().effective_sources(Directive::MediaSrc), None);
    /// ```
    pub fn effective_sources(&self, directive: Directive) -> Option<&[Source]> {
        let mut current = Some(directive);
        while let Some(directive) = current {
            if let Some(sources) = self.sources(directive) {
                return Some(sources);
            }
            current = directive.fallback();
        }
        None
    }

    /// Whether the policy uses the per-request nonce.
    pub fn has_nonce(&self) -> bool {
        self.directives
            .iter()
            .any(|(_, sources)| sources.contains(&Source::Nonce))
    }

    /// Whether the policy has `upgrade-insecure-requests`.
    pub fn has_upgrade_insecure_requests(&self) -> bool {
        self.upgrade_insecure_requests
    }

    /// Whether the policy has no directive at all.
    pub fn is_empty(&self) -> bool {
        self.directives.is_empty()
            && self.sandbox.is_none()
            && !self.require_trusted_types_for_script
            && !self.upgrade_insecure_requests
            && self.report_uri.is_none()
            && self.report_to.is_none()
    }

    /// The header value with this nonce, as sent on an HTTPS (`https = true`) or a
    /// plain HTTP request.
    ///
    /// ```
    /// use portcullis_security_headers::csp::{CspNonce, Policy};
    ///
    /// let nonce = CspNonce::generate();
    /// let value = Policy::strict().to_header_string(&nonce, false);
    /// assert!(value.starts_with(&format!("default-src 'none'; script-src 'nonce-{nonce}'")));
    /// assert!(!value.contains("upgrade-insecure-requests"));
    /// ```
    pub fn to_header_string(&self, nonce: &CspNonce, https: bool) -> String {
        let mut sink = StringSink::new(nonce.as_str());
        self.write_to(&mut sink, https);
        sink.finish()
    }

    /// The header text with `nonce` in the nonce slots.
    pub(crate) fn render_with(&self, nonce: &str, https: bool) -> String {
        let mut sink = StringSink::new(nonce);
        self.write_to(&mut sink, https);
        sink.finish()
    }

    /// The first script directive that allows `'unsafe-inline'`, if any.
    pub(crate) fn unsafe_inline_script_directive(&self) -> Option<&'static str> {
        for directive in [
            Directive::ScriptSrc,
            Directive::ScriptSrcElem,
            Directive::ScriptSrcAttr,
        ] {
            if self
                .effective_sources(directive)
                .is_some_and(|sources| sources.contains(&Source::UnsafeInline))
            {
                let owner = self
                    .directives
                    .iter()
                    .map(|(d, _)| *d)
                    .find(|d| {
                        (d.is_script() || *d == Directive::DefaultSrc)
                            && self
                                .sources(*d)
                                .is_some_and(|s| s.contains(&Source::UnsafeInline))
                    })
                    .unwrap_or(directive);
                return Some(owner.as_str());
            }
        }
        None
    }

    /// Applies a per-response edit (from a
    /// [`SecurityHeadersOverride`](crate::headers::SecurityHeadersOverride)).
    pub(crate) fn apply(&mut self, edit: &PolicyEdit) {
        match edit {
            PolicyEdit::AddSource(directive, source) => {
                if let Some((_, list)) = self.directives.iter_mut().find(|(d, _)| d == directive) {
                    add_to_list(list, source);
                    return;
                }
                // Absent: the directive inherits its fallback; start from that.
                let Some(inherited) = self.effective_sources(*directive) else {
                    return; // nothing restricts it, so the source is allowed already
                };
                let mut list = inherited.to_vec();
                add_to_list(&mut list, source);
                self.directives.push((*directive, list));
            }
            PolicyEdit::Replace(directive, sources) => {
                let list = if sources.is_empty() {
                    vec![Source::None]
                } else {
                    sources.clone()
                };
                match self.directives.iter_mut().find(|(d, _)| d == directive) {
                    Some((_, existing)) => *existing = list,
                    None => self.directives.push((*directive, list)),
                }
            }
        }
    }

    /// Writes the policy; `upgrade-insecure-requests` only when `https`.
    pub(crate) fn write_to(&self, out: &mut impl PolicySink, https: bool) {
        let mut first = true;
        let mut begin = |out: &mut dyn PolicySink, name: &str| {
            if !first {
                out.text("; ");
            }
            first = false;
            out.text(name);
        };
        for (directive, sources) in &self.directives {
            begin(out, directive.as_str());
            for source in sources {
                out.text(" ");
                source.write_to(out);
            }
        }
        if let Some(flags) = &self.sandbox {
            begin(out, "sandbox");
            for flag in flags {
                out.text(" ");
                out.text(flag.as_str());
            }
        }
        if self.require_trusted_types_for_script {
            begin(out, "require-trusted-types-for 'script'");
        }
        if self.upgrade_insecure_requests && https {
            begin(out, "upgrade-insecure-requests");
        }
        if let Some(uri) = &self.report_uri {
            begin(out, "report-uri ");
            out.text(uri);
        }
        if let Some(endpoint) = &self.report_to {
            begin(out, "report-to ");
            out.text(endpoint);
        }
    }
}

fn add_to_list(list: &mut Vec<Source>, source: &Source) {
    list.retain(|s| *s != Source::None);
    if !list.contains(source) {
        list.push(source.clone());
    }
}

fn check_source_list(directive: Directive, list: &[Source]) -> Result<(), ConfigError> {
    let name = directive.as_str();
    if list.is_empty() {
        return Err(ConfigError::EmptySourceList { directive: name });
    }
    if list.len() > 1 && list.contains(&Source::None) {
        return Err(ConfigError::NoneWithOtherSources { directive: name });
    }
    if !directive.takes_script_sources()
        && let Some(source) = list.iter().find(|s| s.is_script_style_only())
    {
        return Err(ConfigError::SourceNotAllowed {
            directive: name,
            source_text: source.to_string(),
        });
    }
    if list.contains(&Source::StrictDynamic) && !list.iter().any(Source::is_nonce_or_hash) {
        return Err(ConfigError::StrictDynamicWithoutNonceOrHash { directive: name });
    }
    Ok(())
}

/// Shows the policy as sent on HTTPS, with the nonce slot as `'nonce-…'`.
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sink = StringSink::new("…");
        self.write_to(&mut sink, true);
        f.write_str(&sink.finish())
    }
}

impl TryFrom<BTreeMap<String, Vec<String>>> for Policy {
    type Error = ConfigError;

    /// A policy from configuration: directive names to lists of source texts, with
    /// `upgrade-insecure-requests = []`, `report-uri = ["/r"]`, `report-to = ["name"]`,
    /// `sandbox = ["allow-forms"]` and `require-trusted-types-for = ["'script'"]`.
    fn try_from(map: BTreeMap<String, Vec<String>>) -> Result<Self, ConfigError> {
        let mut policy = Self::new();
        let single = |name: &str, values: &[String]| match values {
            [value] => Ok(value.clone()),
            _ => Err(ConfigError::InvalidReportValue {
                value: values.join(" "),
                reason: match name {
                    "report-uri" => "report-uri takes exactly one URI",
                    _ => "report-to takes exactly one endpoint name",
                },
            }),
        };
        for (name, values) in &map {
            match name.to_ascii_lowercase().as_str() {
                "upgrade-insecure-requests" => policy = policy.upgrade_insecure_requests(),
                "require-trusted-types-for" => {
                    policy = policy.require_trusted_types_for_script();
                }
                "report-uri" => policy = policy.report_uri(single("report-uri", values)?)?,
                "report-to" => policy = policy.report_to(single("report-to", values)?)?,
                "sandbox" => {
                    let flags = values
                        .iter()
                        .map(|flag| {
                            serde_json::from_value::<SandboxFlag>(serde_json::Value::String(
                                flag.clone(),
                            ))
                            .map_err(|_| ConfigError::InvalidSource {
                                value: flag.clone(),
                                reason: "unknown sandbox flag",
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    policy = policy.sandbox(flags)?;
                }
                _ => {
                    let directive: Directive = name.parse()?;
                    let sources = values
                        .iter()
                        .map(|text| text.parse::<Source>())
                        .collect::<Result<Vec<_>, _>>()?;
                    policy = policy.directive(directive, sources)?;
                }
            }
        }
        Ok(policy)
    }
}

/// A change a single response makes to the configured policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PolicyEdit {
    /// Allow one more source (starting from the inherited list when absent).
    AddSource(Directive, Source),
    /// Replace the directive's sources (empty: `'none'`).
    Replace(Directive, Vec<Source>),
}

/// Where a policy is written: text pieces and the nonce slots between them.
pub(crate) trait PolicySink {
    fn text(&mut self, text: &str);
    fn nonce(&mut self);
}

/// Writes a policy into a string with a fixed nonce text.
pub(crate) struct StringSink<'a> {
    out: String,
    nonce: &'a str,
}

impl<'a> StringSink<'a> {
    pub(crate) fn new(nonce: &'a str) -> Self {
        Self {
            out: String::new(),
            nonce,
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

impl PolicySink for StringSink<'_> {
    fn text(&mut self, text: &str) {
        self.out.push_str(text);
    }

    fn nonce(&mut self) {
        self.out.push_str(self.nonce);
    }
}

/// Splits a policy into the literal pieces around its nonce slots.
#[derive(Default)]
struct Segmenter {
    pieces: Vec<Bytes>,
    current: Vec<u8>,
}

impl PolicySink for Segmenter {
    fn text(&mut self, text: &str) {
        self.current.extend_from_slice(text.as_bytes());
    }

    fn nonce(&mut self) {
        self.pieces
            .push(Bytes::from(std::mem::take(&mut self.current)));
    }
}

/// A policy compiled for one kind of request (HTTPS or not): either a ready header
/// value, or the literal pieces to join with the request's nonce.
#[derive(Clone, Debug)]
pub(crate) enum Template {
    Static(HeaderValue),
    Nonce {
        pieces: Box<[Bytes]>,
        /// The length of the header value: the pieces plus the nonces.
        len: usize,
    },
}

impl Template {
    pub(crate) fn compile(
        policy: &Policy,
        https: bool,
        header: &'static str,
    ) -> Result<Self, ConfigError> {
        let mut segmenter = Segmenter::default();
        policy.write_to(&mut segmenter, https);
        let Segmenter {
            mut pieces,
            current,
        } = segmenter;
        pieces.push(Bytes::from(current));
        let invalid = || ConfigError::InvalidHeaderValue {
            header,
            value: policy.to_string(),
        };
        if pieces.len() == 1 {
            let value =
                HeaderValue::from_maybe_shared(pieces.swap_remove(0)).map_err(|_| invalid())?;
            return Ok(Self::Static(value));
        }
        let len = pieces.iter().map(Bytes::len).sum::<usize>() + (pieces.len() - 1) * NONCE_LEN;
        let template = Self::Nonce {
            pieces: pieces.into(),
            len,
        };
        template
            .render(Some(&CspNonce::generate()))
            .map(|_| template)
            .ok_or_else(invalid)
    }

    pub(crate) fn has_nonce(&self) -> bool {
        matches!(self, Self::Nonce { .. })
    }

    /// The header value for a response: one allocation, exactly sized, when the policy
    /// has a nonce; a cheap clone of the prebuilt value otherwise.
    pub(crate) fn render(&self, nonce: Option<&CspNonce>) -> Option<HeaderValue> {
        match self {
            Self::Static(value) => Some(value.clone()),
            Self::Nonce { pieces, len } => {
                let nonce = nonce?.as_bytes();
                let mut buffer = Vec::with_capacity(*len);
                let (first, rest) = pieces.split_first()?;
                buffer.extend_from_slice(first);
                for piece in rest {
                    buffer.extend_from_slice(nonce);
                    buffer.extend_from_slice(piece);
                }
                HeaderValue::from_maybe_shared(Bytes::from(buffer)).ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(directive: Directive, sources: impl IntoIterator<Item = Source>) -> String {
        Policy::new()
            .directive(directive, sources)
            .unwrap()
            .to_string()
    }

    #[test]
    fn every_source_directive_renders_its_name() {
        let cases = [
            (Directive::DefaultSrc, "default-src 'self'"),
            (Directive::ScriptSrc, "script-src 'self'"),
            (Directive::ScriptSrcElem, "script-src-elem 'self'"),
            (Directive::ScriptSrcAttr, "script-src-attr 'self'"),
            (Directive::StyleSrc, "style-src 'self'"),
            (Directive::StyleSrcElem, "style-src-elem 'self'"),
            (Directive::StyleSrcAttr, "style-src-attr 'self'"),
            (Directive::ImgSrc, "img-src 'self'"),
            (Directive::FontSrc, "font-src 'self'"),
            (Directive::ConnectSrc, "connect-src 'self'"),
            (Directive::MediaSrc, "media-src 'self'"),
            (Directive::ObjectSrc, "object-src 'self'"),
            (Directive::FrameSrc, "frame-src 'self'"),
            (Directive::ChildSrc, "child-src 'self'"),
            (Directive::WorkerSrc, "worker-src 'self'"),
            (Directive::ManifestSrc, "manifest-src 'self'"),
            (Directive::FencedFrameSrc, "fenced-frame-src 'self'"),
            (Directive::BaseUri, "base-uri 'self'"),
            (Directive::FormAction, "form-action 'self'"),
            (Directive::FrameAncestors, "frame-ancestors 'self'"),
        ];
        for (directive, expected) in cases {
            assert_eq!(one(directive, [Source::SelfOrigin]), expected);
        }
    }

    #[test]
    fn non_source_directives_render() {
        let policy = Policy::new()
            .directive(Directive::DefaultSrc, [Source::None])
            .unwrap()
            .sandbox([SandboxFlag::AllowScripts, SandboxFlag::AllowForms])
            .unwrap()
            .require_trusted_types_for_script()
            .upgrade_insecure_requests()
            .report_uri("https://example.com/csp")
            .unwrap()
            .report_to("csp-endpoint")
            .unwrap();
        assert_eq!(
            policy.to_string(),
            "default-src 'none'; sandbox allow-scripts allow-forms; \
             require-trusted-types-for 'script'; upgrade-insecure-requests; \
             report-uri https://example.com/csp; report-to csp-endpoint"
        );
        let nonce = CspNonce::generate();
        assert!(
            !policy
                .to_header_string(&nonce, false)
                .contains("upgrade-insecure-requests")
        );
        assert_eq!(Policy::new().sandbox([]).unwrap().to_string(), "sandbox");
    }

    #[test]
    fn sources_keep_order_and_drop_repeats() {
        assert_eq!(
            one(
                Directive::ScriptSrc,
                [
                    Source::SelfOrigin,
                    Source::Nonce,
                    Source::SelfOrigin,
                    Source::host("https://cdn.example.com").unwrap(),
                    Source::scheme("https").unwrap(),
                    Source::sha256_of(""),
                    Source::StrictDynamic,
                    Source::ReportSample,
                ]
            ),
            "script-src 'self' 'nonce-…' https://cdn.example.com https: \
             'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' 'strict-dynamic' 'report-sample'"
        );
    }

    #[test]
    fn rule_duplicate_directive() {
        let policy = Policy::new()
            .directive(Directive::ImgSrc, [Source::SelfOrigin])
            .unwrap();
        assert!(matches!(
            policy.directive(Directive::ImgSrc, [Source::None]),
            Err(ConfigError::DuplicateDirective {
                directive: "img-src"
            })
        ));
        let twice = Policy::new().report_to("a").unwrap().report_to("b");
        assert!(matches!(
            twice,
            Err(ConfigError::DuplicateDirective {
                directive: "report-to"
            })
        ));
        let twice = Policy::new().report_uri("/a").unwrap().report_uri("/b");
        assert!(matches!(
            twice,
            Err(ConfigError::DuplicateDirective {
                directive: "report-uri"
            })
        ));
    }

    #[test]
    fn rule_empty_and_none_with_others() {
        assert!(matches!(
            Policy::new().directive(Directive::ImgSrc, []),
            Err(ConfigError::EmptySourceList { .. })
        ));
        assert!(matches!(
            Policy::new().directive(Directive::ImgSrc, [Source::None, Source::SelfOrigin]),
            Err(ConfigError::NoneWithOtherSources { .. })
        ));
    }

    #[test]
    fn rule_strict_dynamic_needs_nonce_or_hash() {
        assert!(matches!(
            Policy::new().directive(
                Directive::ScriptSrc,
                [Source::StrictDynamic, Source::SelfOrigin]
            ),
            Err(ConfigError::StrictDynamicWithoutNonceOrHash {
                directive: "script-src"
            })
        ));
        assert!(
            Policy::new()
                .directive(
                    Directive::ScriptSrc,
                    [Source::StrictDynamic, Source::sha256_of("x")]
                )
                .is_ok()
        );
        assert!(
            Policy::new()
                .directive(Directive::ScriptSrc, [Source::Nonce, Source::StrictDynamic])
                .is_ok()
        );
    }

    #[test]
    fn rule_script_sources_only_where_they_mean_something() {
        for source in [
            Source::Nonce,
            Source::sha256_of("x"),
            Source::UnsafeInline,
            Source::UnsafeEval,
            Source::StrictDynamic,
        ] {
            for directive in [
                Directive::ImgSrc,
                Directive::FrameAncestors,
                Directive::BaseUri,
                Directive::ConnectSrc,
            ] {
                assert!(matches!(
                    Policy::new().directive(directive, [source.clone()]),
                    Err(ConfigError::SourceNotAllowed { .. })
                ));
            }
        }
    }

    #[test]
    fn rule_report_values_are_checked() {
        assert!(matches!(
            Policy::new().report_uri("https://e.example/r p"),
            Err(ConfigError::InvalidReportValue { .. })
        ));
        assert!(matches!(
            Policy::new().report_uri("javascript:alert(1)"),
            Err(ConfigError::InvalidReportValue { .. })
        ));
        assert!(matches!(
            Policy::new().report_to("a;b"),
            Err(ConfigError::InvalidReportValue { .. })
        ));
    }

    #[test]
    fn unsafe_inline_script_detection_follows_fallbacks() {
        let inline_default = Policy::new()
            .directive(Directive::DefaultSrc, [Source::UnsafeInline])
            .unwrap();
        assert_eq!(
            inline_default.unsafe_inline_script_directive(),
            Some("default-src")
        );
        let shadowed = inline_default
            .clone()
            .directive(Directive::ScriptSrc, [Source::Nonce])
            .unwrap()
            .directive(Directive::ScriptSrcAttr, [Source::None])
            .unwrap()
            .directive(Directive::ScriptSrcElem, [Source::Nonce])
            .unwrap();
        assert_eq!(shadowed.unsafe_inline_script_directive(), None);
        let elem = Policy::new()
            .directive(
                Directive::ScriptSrcElem,
                [Source::Nonce, Source::UnsafeInline],
            )
            .unwrap();
        assert_eq!(
            elem.unsafe_inline_script_directive(),
            Some("script-src-elem")
        );
        assert_eq!(Policy::strict().unsafe_inline_script_directive(), None);
    }

    #[test]
    fn edits_add_sources_from_the_inherited_list() {
        let mut policy = Policy::strict();
        let api = Source::host("https://api.example.com").unwrap();
        policy.apply(&PolicyEdit::AddSource(Directive::ConnectSrc, api.clone()));
        assert_eq!(
            policy.sources(Directive::ConnectSrc),
            Some(&[Source::SelfOrigin, api.clone()][..])
        );
        // media-src inherits 'none' from default-src: the new source replaces it.
        policy.apply(&PolicyEdit::AddSource(Directive::MediaSrc, api.clone()));
        assert_eq!(
            policy.sources(Directive::MediaSrc),
            Some(&[api.clone()][..])
        );
        // Unrestricted directives stay unrestricted.
        let mut open = Policy::new()
            .directive(Directive::ImgSrc, [Source::SelfOrigin])
            .unwrap();
        open.apply(&PolicyEdit::AddSource(Directive::ConnectSrc, api.clone()));
        assert_eq!(open.sources(Directive::ConnectSrc), None);
        // Replace; empty means 'none'.
        policy.apply(&PolicyEdit::Replace(Directive::FrameAncestors, vec![]));
        assert_eq!(
            policy.sources(Directive::FrameAncestors),
            Some(&[Source::None][..])
        );
        policy.apply(&PolicyEdit::Replace(
            Directive::WorkerSrc,
            vec![api.clone()],
        ));
        assert_eq!(policy.sources(Directive::WorkerSrc), Some(&[api][..]));
    }

    #[test]
    fn template_splits_around_nonces() {
        let template =
            Template::compile(&Policy::strict(), true, "content-security-policy").unwrap();
        let Template::Nonce { pieces, len } = &template else {
            panic!("strict has nonces")
        };
        assert_eq!(pieces.len(), 3);
        let nonce = CspNonce::generate();
        let value = template.render(Some(&nonce)).unwrap();
        assert_eq!(value.len(), *len);
        assert_eq!(
            value.to_str().unwrap(),
            Policy::strict().to_header_string(&nonce, true)
        );
        assert_eq!(template.render(None), None);
        let api = Template::compile(&Policy::api(), true, "content-security-policy").unwrap();
        assert!(!api.has_nonce());
        assert_eq!(
            api.render(None).unwrap(),
            "default-src 'none'; frame-ancestors 'none'"
        );
    }

    #[test]
    fn deserializes_from_a_directive_map() {
        let policy: Policy = serde_json::from_str(
            r#"{
                "default-src": ["'none'"],
                "script-src": ["'nonce'", "'strict-dynamic'"],
                "img-src": ["'self'", "data:"],
                "upgrade-insecure-requests": [],
                "report-to": ["csp-endpoint"]
            }"#,
        )
        .unwrap();
        assert_eq!(
            policy.to_string(),
            "default-src 'none'; img-src 'self' data:; script-src 'nonce-…' 'strict-dynamic'; \
             upgrade-insecure-requests; report-to csp-endpoint"
        );
        for bad in [
            r#"{"script-source": ["'self'"]}"#,
            r#"{"script-src": ["self"]}"#,
            r#"{"script-src": ["'strict-dynamic'"]}"#,
            r#"{"report-to": ["a", "b"]}"#,
            r#"{"sandbox": ["allow-everything"]}"#,
        ] {
            assert!(serde_json::from_str::<Policy>(bad).is_err(), "{bad}");
        }
    }
}
