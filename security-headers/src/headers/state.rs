//! What every clone of a layer and its services shares: the prebuilt header values,
//! and the work done on each response.

use http::header::Entry;
use http::{HeaderMap, HeaderName, HeaderValue, Response};

use crate::ConfigError;
use crate::csp::{CspNonce, Policy, ReportingEndpoints, Template};

use super::https::HttpsDetection;
use super::{Hsts, SecurityHeader, SecurityHeadersOverride};

/// A header whose value never changes, encoded once.
#[derive(Clone, Debug)]
pub(crate) struct Prebuilt {
    pub(crate) header: SecurityHeader,
    pub(crate) name: HeaderName,
    pub(crate) value: HeaderValue,
    /// Sent on HTTPS requests only (HSTS).
    pub(crate) https_only: bool,
}

/// A policy compiled for HTTPS and for plain HTTP requests.
#[derive(Clone, Debug)]
pub(crate) struct CompiledPolicy {
    pub(crate) policy: Policy,
    https: Template,
    plain: Template,
}

impl CompiledPolicy {
    pub(crate) fn new(policy: Policy, header: SecurityHeader) -> Result<Self, ConfigError> {
        if policy.is_empty() {
            return Err(ConfigError::EmptyPolicy);
        }
        Ok(Self {
            https: Template::compile(&policy, true, header.as_str())?,
            plain: Template::compile(&policy, false, header.as_str())?,
            policy,
        })
    }

    fn has_nonce(&self) -> bool {
        self.https.has_nonce() || self.plain.has_nonce()
    }

    fn differs_by_scheme(&self) -> bool {
        self.policy.has_upgrade_insecure_requests()
    }

    /// The value for this response, and whether it carries the nonce.
    fn render(
        &self,
        https: bool,
        nonce: Option<&CspNonce>,
        overrides: Option<&SecurityHeadersOverride>,
    ) -> Option<(HeaderValue, bool)> {
        let template = if https { &self.https } else { &self.plain };
        match overrides.map(SecurityHeadersOverride::edits) {
            Some(edits) if !edits.is_empty() => {
                let mut policy = self.policy.clone();
                for edit in edits {
                    policy.apply(edit);
                }
                match (policy.has_nonce(), nonce) {
                    (true, Some(nonce)) => {
                        let text = policy.to_header_string(nonce, https);
                        HeaderValue::try_from(text).ok().map(|value| (value, true))
                    }
                    // No nonce was made for this request: the edit cannot add one.
                    (true, None) => None,
                    (false, _) => {
                        let text = policy.render_with("", https);
                        HeaderValue::try_from(text).ok().map(|value| (value, false))
                    }
                }
                .or_else(|| template.render(nonce).map(|v| (v, template.has_nonce())))
            }
            _ => template
                .render(nonce)
                .map(|value| (value, template.has_nonce())),
        }
    }
}

/// The shared configuration of a [`SecurityHeadersLayer`](super::SecurityHeadersLayer).
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    /// Constant headers in [`SecurityHeader`] order.
    pub(crate) fixed: Vec<Prebuilt>,
    pub(crate) csp: Option<CompiledPolicy>,
    pub(crate) csp_report_only: Option<CompiledPolicy>,
    pub(crate) hsts: Option<Hsts>,
    pub(crate) reporting_endpoints: ReportingEndpoints,
    /// Response headers removed (`Server`, `X-Powered-By`).
    pub(crate) remove: Vec<HeaderName>,
    pub(crate) https: HttpsDetection,
    /// Refuse `'unsafe-inline'` for scripts in the enforced policy (strict preset).
    pub(crate) forbid_unsafe_inline_scripts: bool,
    /// Derived: a nonce is made per request.
    pub(crate) needs_nonce: bool,
    /// Derived: some header depends on whether the request came over HTTPS.
    pub(crate) needs_https: bool,
}

const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

impl State {
    /// Sets (or with `None` removes) a constant header.
    pub(crate) fn set_fixed(&mut self, header: SecurityHeader, value: Option<HeaderValue>) {
        self.fixed.retain(|p| p.header != header);
        if let Some(value) = value {
            self.fixed.push(Prebuilt {
                header,
                name: header.name(),
                value,
                https_only: header == SecurityHeader::StrictTransportSecurity,
            });
            self.fixed.sort_by_key(|p| p.header);
        }
        self.refresh();
    }

    pub(crate) fn fixed_value(&self, header: SecurityHeader) -> Option<&HeaderValue> {
        self.fixed
            .iter()
            .find(|p| p.header == header)
            .map(|p| &p.value)
    }

    /// Recomputes the derived flags.
    pub(crate) fn refresh(&mut self) {
        let policies = [&self.csp, &self.csp_report_only];
        self.needs_nonce = policies
            .iter()
            .any(|p| p.as_ref().is_some_and(CompiledPolicy::has_nonce));
        self.needs_https = self.fixed.iter().any(|p| p.https_only)
            || policies
                .iter()
                .any(|p| p.as_ref().is_some_and(CompiledPolicy::differs_by_scheme));
    }

    /// Puts the headers on a response.
    pub(crate) fn apply<B>(
        &self,
        response: &mut Response<B>,
        https: bool,
        nonce: Option<&CspNonce>,
    ) {
        let overrides = response
            .extensions_mut()
            .remove::<SecurityHeadersOverride>();
        let overrides = overrides.as_ref();
        let headers = response.headers_mut();
        for name in &self.remove {
            headers.remove(name);
        }
        // One growth instead of several while inserting.
        let _ = headers.try_reserve(self.fixed.len() + 3);
        let skipped = |header| overrides.is_some_and(|o| o.skips(header));

        let mut nonce_sent = false;
        for (policy, header) in [
            (&self.csp, SecurityHeader::ContentSecurityPolicy),
            (
                &self.csp_report_only,
                SecurityHeader::ContentSecurityPolicyReportOnly,
            ),
        ] {
            let Some(policy) = policy else { continue };
            if skipped(header) {
                continue;
            }
            if let Ok(Entry::Vacant(entry)) = headers.try_entry(header.name()) {
                if let Some(value) = overrides.and_then(|o| o.replacement(header)) {
                    let _ = entry.try_insert(value.clone());
                } else if let Some((value, with_nonce)) = policy.render(https, nonce, overrides) {
                    nonce_sent |= with_nonce;
                    let _ = entry.try_insert(value);
                }
            }
        }
        if nonce_sent && !skipped(SecurityHeader::CacheControl) {
            insert_if_vacant(headers, &http::header::CACHE_CONTROL, &NO_STORE);
        }
        for prebuilt in &self.fixed {
            if (prebuilt.https_only && !https) || skipped(prebuilt.header) {
                continue;
            }
            let value = overrides
                .and_then(|o| o.replacement(prebuilt.header))
                .unwrap_or(&prebuilt.value);
            insert_if_vacant(headers, &prebuilt.name, value);
        }
    }
}

/// Inserts unless the handler (or an inner layer) already set the header.
fn insert_if_vacant(headers: &mut HeaderMap, name: &HeaderName, value: &HeaderValue) {
    if let Ok(Entry::Vacant(entry)) = headers.try_entry(name) {
        let _ = entry.try_insert(value.clone());
    }
}
