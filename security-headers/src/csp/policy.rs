use std::collections::BTreeMap;
use std::fmt;

use crate::ConfigError;

use super::nonce::CspNonce;
use super::reporting::{check_report_to, check_report_uri};
use super::sink::{PolicySink, StringSink};
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

#[cfg(test)]
mod tests;
