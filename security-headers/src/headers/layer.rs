use std::sync::Arc;

use http::{HeaderName, HeaderValue, header};
use portcullis_core::client_ip::{ClientIpResolver, ForwardedHeader, TrustedProxies};
use tower_layer::Layer;

use crate::ConfigError;
use crate::csp::{Policy, ReportingEndpoints};

use super::config::{SecurityHeadersConfig, SecurityHeadersPreset};
use super::state::{CompiledPolicy, State};
use super::{
    CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy,
    DnsPrefetchControl, FrameOptions, Hsts, PermissionsPolicy, PermittedCrossDomainPolicies,
    ReferrerPolicy, SecurityHeader, SecurityHeaders,
};

/// Adds security headers to every response; see the [module docs](super).
///
/// The layer is its own builder: start from a preset ([`strict`](Self::strict),
/// [`api`](Self::api), [`development`](Self::development)) or from nothing
/// ([`new`](Self::new)) and change single headers with the setters. Every value is
/// checked and encoded when the setter runs; the services share the result behind
/// one `Arc`.
///
/// ```
/// use portcullis_security_headers::headers::{ReferrerPolicy, SecurityHeader, SecurityHeadersLayer};
///
/// let layer = SecurityHeadersLayer::strict()
///     .referrer_policy(ReferrerPolicy::StrictOriginWhenCrossOrigin)
///     .without(SecurityHeader::CrossOriginEmbedderPolicy);
/// assert_eq!(
///     layer.header_value(SecurityHeader::ReferrerPolicy).unwrap(),
///     "strict-origin-when-cross-origin"
/// );
/// assert!(layer.header_value(SecurityHeader::CrossOriginEmbedderPolicy).is_none());
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct SecurityHeadersLayer {
    state: Arc<State>,
}

impl SecurityHeadersLayer {
    /// A layer that sends nothing yet: build your own set with the setters. Most
    /// services want a preset instead.
    pub fn new() -> Self {
        Self::default()
    }

    /// The preset for HTML apps: every header the OWASP Secure Headers Project and
    /// helmet 8 send, each with an equal or stricter value.
    ///
    /// | Header | Value |
    /// | --- | --- |
    /// | `Content-Security-Policy` | [`Policy::strict`]: `default-src 'none'`, scripts and styles by per-request nonce, … |
    /// | `Strict-Transport-Security` | `max-age=63072000; includeSubDomains` (HTTPS only) |
    /// | `X-Frame-Options` | `DENY` |
    /// | `X-Content-Type-Options` | `nosniff` |
    /// | `Referrer-Policy` | `no-referrer` |
    /// | `Permissions-Policy` | [`PermissionsPolicy::deny_all`] (the OWASP list) |
    /// | `Cross-Origin-Opener-Policy` | `same-origin` |
    /// | `Cross-Origin-Embedder-Policy` | `require-corp` |
    /// | `Cross-Origin-Resource-Policy` | `same-origin` |
    /// | `Origin-Agent-Cluster` | `?1` |
    /// | `X-DNS-Prefetch-Control` | `off` |
    /// | `X-Permitted-Cross-Domain-Policies` | `none` |
    /// | `X-Download-Options` | `noopen` |
    /// | `X-XSS-Protection` | `0` (the old XSS auditor caused leaks; CSP replaces it) |
    /// | `Cache-Control` | `no-store` |
    /// | `Server`, `X-Powered-By` | removed |
    ///
    /// `'unsafe-inline'` for scripts is refused in a policy given to this preset.
    /// Not sent: `Clear-Site-Data` (it logs users out; send it on your logout
    /// response) and the deprecated `block-all-mixed-content` (superseded by
    /// `upgrade-insecure-requests`).
    ///
    /// ```
    /// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersLayer};
    ///
    /// let layer = SecurityHeadersLayer::strict();
    /// assert_eq!(layer.header_value(SecurityHeader::XFrameOptions).unwrap(), "DENY");
    /// assert!(layer.content_security_policy_ref().unwrap().has_nonce());
    /// ```
    pub fn strict() -> Self {
        preset(
            Self::new()
                .forbid_unsafe_inline_scripts()
                .content_security_policy(Policy::strict())
                .and_then(|layer| layer.hsts(Hsts::two_years()))
                .map(|layer| {
                    layer
                        .x_frame_options(FrameOptions::Deny)
                        .x_content_type_options_nosniff()
                        .referrer_policy(ReferrerPolicy::NoReferrer)
                        .permissions_policy(PermissionsPolicy::deny_all())
                        .cross_origin_opener_policy(CrossOriginOpenerPolicy::SameOrigin)
                        .cross_origin_embedder_policy(CrossOriginEmbedderPolicy::RequireCorp)
                        .cross_origin_resource_policy(CrossOriginResourcePolicy::SameOrigin)
                        .origin_agent_cluster(true)
                        .x_dns_prefetch_control(DnsPrefetchControl::Off)
                        .x_permitted_cross_domain_policies(PermittedCrossDomainPolicies::None)
                        .x_download_options_noopen()
                        .x_xss_protection_disabled()
                        .cache_control(HeaderValue::from_static("no-store"))
                        .remove_response_header(header::SERVER)
                        .remove_response_header(HeaderName::from_static("x-powered-by"))
                }),
        )
    }

    /// The preset for JSON APIs, after the OWASP REST Security cheat sheet:
    /// `Cache-Control: no-store`, `Content-Security-Policy: default-src 'none';
    /// frame-ancestors 'none'`, `X-Frame-Options: DENY`, `X-Content-Type-Options:
    /// nosniff`, HSTS (HTTPS only), `Cross-Origin-Resource-Policy: same-origin`,
    /// `Referrer-Policy: no-referrer`; `Server` and `X-Powered-By` removed. No nonce,
    /// no COEP, no `upgrade-insecure-requests`.
    ///
    /// ```
    /// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersLayer};
    ///
    /// let layer = SecurityHeadersLayer::api();
    /// assert_eq!(layer.header_value(SecurityHeader::CacheControl).unwrap(), "no-store");
    /// assert!(!layer.content_security_policy_ref().unwrap().has_nonce());
    /// ```
    pub fn api() -> Self {
        preset(
            Self::new()
                .content_security_policy(Policy::api())
                .and_then(|layer| layer.hsts(Hsts::two_years()))
                .map(|layer| {
                    layer
                        .x_frame_options(FrameOptions::Deny)
                        .x_content_type_options_nosniff()
                        .referrer_policy(ReferrerPolicy::NoReferrer)
                        .cross_origin_resource_policy(CrossOriginResourcePolicy::SameOrigin)
                        .cache_control(HeaderValue::from_static("no-store"))
                        .remove_response_header(header::SERVER)
                        .remove_response_header(HeaderName::from_static("x-powered-by"))
                }),
        )
    }

    /// The preset for local development, which never breaks `http://localhost`: the
    /// strict preset with its policy sent as `Content-Security-Policy-Report-Only`
    /// (violations show in the console, nothing is blocked) and without
    /// `upgrade-insecure-requests`, no HSTS, and no COEP (which blocks cross-origin
    /// images and scripts that do not opt in).
    ///
    /// ```
    /// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersLayer};
    ///
    /// let layer = SecurityHeadersLayer::development();
    /// assert!(layer.content_security_policy_ref().is_none());
    /// assert!(layer.content_security_policy_report_only_ref().unwrap().has_nonce());
    /// assert!(layer.header_value(SecurityHeader::StrictTransportSecurity).is_none());
    /// ```
    pub fn development() -> Self {
        preset(
            Self::strict()
                .without(SecurityHeader::ContentSecurityPolicy)
                .without(SecurityHeader::StrictTransportSecurity)
                .without(SecurityHeader::CrossOriginEmbedderPolicy)
                .content_security_policy_report_only(
                    Policy::strict().without_upgrade_insecure_requests(),
                ),
        )
    }

    /// The layer a [`SecurityHeadersConfig`] (loaded from a file) describes: its
    /// preset without the headers it names in `without`, then each value set, checked
    /// like its setter.
    pub fn from_config(config: SecurityHeadersConfig) -> Result<Self, ConfigError> {
        let mut layer = match config.preset {
            SecurityHeadersPreset::None => Self::new(),
            SecurityHeadersPreset::Strict => Self::strict(),
            SecurityHeadersPreset::Api => Self::api(),
            SecurityHeadersPreset::Development => Self::development(),
        };
        for header in config.without {
            layer = layer.without(header);
        }
        if let Some(policy) = config.content_security_policy {
            layer = layer.content_security_policy(policy)?;
        }
        if let Some(policy) = config.content_security_policy_report_only {
            layer = layer.content_security_policy_report_only(policy)?;
        }
        if let Some(hsts) = config.hsts {
            layer = layer.hsts(hsts)?;
        }
        if let Some(options) = config.x_frame_options {
            layer = layer.x_frame_options(options);
        }
        if let Some(policy) = config.referrer_policy {
            layer = layer.referrer_policy(policy);
        }
        if let Some(policy) = config.permissions_policy {
            layer = layer.permissions_policy(policy);
        }
        if let Some(policy) = config.cross_origin_opener_policy {
            layer = layer.cross_origin_opener_policy(policy);
        }
        if let Some(policy) = config.cross_origin_embedder_policy {
            layer = layer.cross_origin_embedder_policy(policy);
        }
        if let Some(policy) = config.cross_origin_resource_policy {
            layer = layer.cross_origin_resource_policy(policy);
        }
        if let Some(control) = config.x_dns_prefetch_control {
            layer = layer.x_dns_prefetch_control(control);
        }
        if let Some(policies) = config.x_permitted_cross_domain_policies {
            layer = layer.x_permitted_cross_domain_policies(policies);
        }
        if let Some(endpoints) = config.reporting_endpoints {
            layer = layer.reporting_endpoints(endpoints);
        }
        if let Some(header) = config.forwarded_header {
            layer = layer.forwarded_header(header);
        }
        if let Some(proxies) = config.trusted_proxies {
            layer = layer.trusted_proxies(proxies);
        }
        if let Some(assume) = config.assume_https {
            layer = layer.assume_https(assume);
        }
        Ok(layer)
    }

    fn state(&mut self) -> &mut State {
        Arc::make_mut(&mut self.state)
    }

    fn forbid_unsafe_inline_scripts(mut self) -> Self {
        self.state().forbid_unsafe_inline_scripts = true;
        self
    }

    fn fixed(mut self, header: SecurityHeader, value: Option<HeaderValue>) -> Self {
        self.state().set_fixed(header, value);
        self
    }

    /// Sets the enforced `Content-Security-Policy`.
    ///
    /// Refused: an empty policy, and (under the strict preset) `'unsafe-inline'`
    /// for scripts.
    ///
    /// [MDN: Content-Security-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy)
    ///
    /// ```
    /// use portcullis_security_headers::ConfigError;
    /// use portcullis_security_headers::csp::{Directive, Policy, Source};
    /// use portcullis_security_headers::headers::SecurityHeadersLayer;
    ///
    /// let inline = Policy::new().directive(Directive::ScriptSrc, [Source::UnsafeInline])?;
    /// assert!(SecurityHeadersLayer::new().content_security_policy(inline.clone()).is_ok());
    /// assert!(matches!(
    ///     SecurityHeadersLayer::strict().content_security_policy(inline),
    ///     Err(ConfigError::UnsafeInlineScriptInStrict { directive: "script-src" })
    /// ));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn content_security_policy(
        mut self,
        policy: impl Into<Policy>,
    ) -> Result<Self, ConfigError> {
        let policy = policy.into();
        if self.state.forbid_unsafe_inline_scripts
            && let Some(directive) = policy.unsafe_inline_script_directive()
        {
            return Err(ConfigError::UnsafeInlineScriptInStrict { directive });
        }
        let compiled = CompiledPolicy::new(policy, SecurityHeader::ContentSecurityPolicy)?;
        let state = self.state();
        state.csp = Some(compiled);
        state.refresh();
        Ok(self)
    }

    /// Sets the `Content-Security-Policy-Report-Only` policy: reported, not enforced.
    /// Sent next to the enforced policy, it tries out a stricter one.
    ///
    /// [MDN: Content-Security-Policy-Report-Only](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy-Report-Only)
    ///
    /// ```
    /// use portcullis_security_headers::csp::Policy;
    /// use portcullis_security_headers::headers::SecurityHeadersLayer;
    ///
    /// let layer = SecurityHeadersLayer::api()
    ///     .content_security_policy_report_only(Policy::api().report_uri("/csp-reports")?)?;
    /// assert!(layer.content_security_policy_report_only_ref().is_some());
    /// assert!(SecurityHeadersLayer::new().content_security_policy_report_only(Policy::new()).is_err());
    /// # Ok::<(), portcullis_security_headers::ConfigError>(())
    /// ```
    pub fn content_security_policy_report_only(
        mut self,
        policy: impl Into<Policy>,
    ) -> Result<Self, ConfigError> {
        let compiled = CompiledPolicy::new(
            policy.into(),
            SecurityHeader::ContentSecurityPolicyReportOnly,
        )?;
        let state = self.state();
        state.csp_report_only = Some(compiled);
        state.refresh();
        Ok(self)
    }

    /// Sets `Strict-Transport-Security`, sent on HTTPS requests only (see
    /// [`assume_https`](Self::assume_https) and
    /// [`trusted_proxies`](Self::trusted_proxies)) and never to `localhost` or IP
    /// literals. Refused: `preload` without a one-year `max-age` and
    /// `includeSubDomains`.
    ///
    /// [MDN: Strict-Transport-Security](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Strict-Transport-Security)
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_security_headers::headers::{Hsts, SecurityHeader, SecurityHeadersLayer};
    ///
    /// let layer = SecurityHeadersLayer::api().hsts(Hsts::two_years().preload())?;
    /// assert_eq!(
    ///     layer.header_value(SecurityHeader::StrictTransportSecurity).unwrap(),
    ///     "max-age=63072000; includeSubDomains; preload"
    /// );
    /// assert!(SecurityHeadersLayer::api().hsts(Hsts::new(Duration::from_secs(600)).preload()).is_err());
    /// # Ok::<(), portcullis_security_headers::ConfigError>(())
    /// ```
    pub fn hsts(mut self, hsts: impl Into<Hsts>) -> Result<Self, ConfigError> {
        let hsts = hsts.into();
        hsts.validate()?;
        self.state().hsts = Some(hsts);
        Ok(self.fixed(
            SecurityHeader::StrictTransportSecurity,
            Some(hsts.to_header_value()),
        ))
    }

    /// Sets `X-Frame-Options`.
    ///
    /// [MDN: X-Frame-Options](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-Frame-Options)
    pub fn x_frame_options(self, options: impl Into<FrameOptions>) -> Self {
        let value = options.into().into();
        self.fixed(SecurityHeader::XFrameOptions, Some(value))
    }

    /// Sets `X-Content-Type-Options: nosniff`: scripts and styles only run with a
    /// matching MIME type.
    ///
    /// [MDN: X-Content-Type-Options](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-Content-Type-Options)
    pub fn x_content_type_options_nosniff(self) -> Self {
        self.fixed(
            SecurityHeader::XContentTypeOptions,
            Some(HeaderValue::from_static("nosniff")),
        )
    }

    /// Sets `Referrer-Policy`.
    ///
    /// [MDN: Referrer-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Referrer-Policy)
    pub fn referrer_policy(self, policy: impl Into<ReferrerPolicy>) -> Self {
        let value = policy.into().into();
        self.fixed(SecurityHeader::ReferrerPolicy, Some(value))
    }

    /// Sets `Permissions-Policy` (an empty policy removes the header).
    ///
    /// [MDN: Permissions-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Permissions-Policy)
    ///
    /// ```
    /// use portcullis_security_headers::headers::{PermissionsPolicy, SecurityHeader, SecurityHeadersLayer};
    ///
    /// let layer = SecurityHeadersLayer::new()
    ///     .permissions_policy(PermissionsPolicy::new().deny("camera")?.allow_self("fullscreen")?);
    /// assert_eq!(
    ///     layer.header_value(SecurityHeader::PermissionsPolicy).unwrap(),
    ///     "camera=(), fullscreen=(self)"
    /// );
    /// # Ok::<(), portcullis_security_headers::ConfigError>(())
    /// ```
    pub fn permissions_policy(self, policy: impl Into<PermissionsPolicy>) -> Self {
        let value = policy.into().to_header_value();
        self.fixed(SecurityHeader::PermissionsPolicy, value)
    }

    /// Sets `Cross-Origin-Opener-Policy`.
    ///
    /// [MDN: Cross-Origin-Opener-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cross-Origin-Opener-Policy)
    pub fn cross_origin_opener_policy(self, policy: impl Into<CrossOriginOpenerPolicy>) -> Self {
        let value = policy.into().into();
        self.fixed(SecurityHeader::CrossOriginOpenerPolicy, Some(value))
    }

    /// Sets `Cross-Origin-Embedder-Policy`.
    ///
    /// [MDN: Cross-Origin-Embedder-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cross-Origin-Embedder-Policy)
    pub fn cross_origin_embedder_policy(
        self,
        policy: impl Into<CrossOriginEmbedderPolicy>,
    ) -> Self {
        let value = policy.into().into();
        self.fixed(SecurityHeader::CrossOriginEmbedderPolicy, Some(value))
    }

    /// Sets `Cross-Origin-Resource-Policy`.
    ///
    /// [MDN: Cross-Origin-Resource-Policy](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cross-Origin-Resource-Policy)
    pub fn cross_origin_resource_policy(
        self,
        policy: impl Into<CrossOriginResourcePolicy>,
    ) -> Self {
        let value = policy.into().into();
        self.fixed(SecurityHeader::CrossOriginResourcePolicy, Some(value))
    }

    /// Sets `Origin-Agent-Cluster`: `?1` asks the browser to isolate the origin in its
    /// own agent cluster, `?0` not to.
    ///
    /// [MDN: Origin-Agent-Cluster](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Origin-Agent-Cluster)
    pub fn origin_agent_cluster(self, isolated: impl Into<bool>) -> Self {
        let value = HeaderValue::from_static(if isolated.into() { "?1" } else { "?0" });
        self.fixed(SecurityHeader::OriginAgentCluster, Some(value))
    }

    /// Sets `X-DNS-Prefetch-Control`.
    ///
    /// [MDN: X-DNS-Prefetch-Control](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-DNS-Prefetch-Control)
    pub fn x_dns_prefetch_control(self, control: impl Into<DnsPrefetchControl>) -> Self {
        let value = control.into().into();
        self.fixed(SecurityHeader::XDnsPrefetchControl, Some(value))
    }

    /// Sets `X-Permitted-Cross-Domain-Policies`.
    ///
    /// [OWASP Secure Headers](https://owasp.org/www-project-secure-headers/#x-permitted-cross-domain-policies)
    pub fn x_permitted_cross_domain_policies(
        self,
        policies: impl Into<PermittedCrossDomainPolicies>,
    ) -> Self {
        let value = policies.into().into();
        self.fixed(SecurityHeader::XPermittedCrossDomainPolicies, Some(value))
    }

    /// Sets `X-Download-Options: noopen`: old Internet Explorer saves downloads
    /// instead of opening them in the site's context (helmet sends it).
    ///
    /// [Microsoft: X-Download-Options](https://learn.microsoft.com/en-us/archive/blogs/ie/ie8-security-part-v-comprehensive-protection)
    pub fn x_download_options_noopen(self) -> Self {
        self.fixed(
            SecurityHeader::XDownloadOptions,
            Some(HeaderValue::from_static("noopen")),
        )
    }

    /// Sets `X-XSS-Protection: 0`, switching off the XSS auditor of old browsers,
    /// which could be abused to leak data; CSP is the protection now.
    ///
    /// [MDN: X-XSS-Protection](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-XSS-Protection)
    pub fn x_xss_protection_disabled(self) -> Self {
        self.fixed(
            SecurityHeader::XXssProtection,
            Some(HeaderValue::from_static("0")),
        )
    }

    /// Sets the `Cache-Control` of responses that have none. (A response carrying a
    /// CSP nonce gets `no-store` anyway unless the handler set `Cache-Control`.)
    ///
    /// [MDN: Cache-Control](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cache-Control)
    pub fn cache_control(self, value: impl Into<HeaderValue>) -> Self {
        self.fixed(SecurityHeader::CacheControl, Some(value.into()))
    }

    /// Adds an endpoint to the `Reporting-Endpoints` header, for a policy's
    /// [`report-to`](Policy::report_to). The URL is an `https://` URL, an `http://`
    /// URL on a loopback host, or a path starting with `/`.
    ///
    /// [MDN: Reporting-Endpoints](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Reporting-Endpoints)
    ///
    /// ```
    /// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersLayer};
    ///
    /// let layer = SecurityHeadersLayer::strict()
    ///     .reporting_endpoint("csp-endpoint", "https://example.com/csp-reports")?;
    /// assert_eq!(
    ///     layer.header_value(SecurityHeader::ReportingEndpoints).unwrap(),
    ///     r#"csp-endpoint="https://example.com/csp-reports""#
    /// );
    /// assert!(SecurityHeadersLayer::strict().reporting_endpoint("csp", "javascript:x").is_err());
    /// # Ok::<(), portcullis_security_headers::ConfigError>(())
    /// ```
    pub fn reporting_endpoint(mut self, name: &str, url: &str) -> Result<Self, ConfigError> {
        let endpoints = self.state.reporting_endpoints.clone().endpoint(name, url)?;
        self.state().reporting_endpoints = endpoints;
        Ok(self.sync_reporting_endpoints())
    }

    /// Replaces all `Reporting-Endpoints` (for endpoints loaded from configuration).
    ///
    /// [MDN: Reporting-Endpoints](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Reporting-Endpoints)
    pub fn reporting_endpoints(mut self, endpoints: impl Into<ReportingEndpoints>) -> Self {
        self.state().reporting_endpoints = endpoints.into();
        self.sync_reporting_endpoints()
    }

    fn sync_reporting_endpoints(self) -> Self {
        let value = self.state.reporting_endpoints.to_header_value();
        self.fixed(SecurityHeader::ReportingEndpoints, value)
    }

    /// Removes `name` from every response, even when the handler set it (`Server` and
    /// `X-Powered-By` in the presets: they tell attackers what to try).
    pub fn remove_response_header(mut self, name: impl Into<HeaderName>) -> Self {
        let name = name.into();
        let state = self.state();
        if !state.remove.contains(&name) {
            state.remove.push(name);
        }
        self
    }

    /// Stops removing `name` (undoes [`remove_response_header`](Self::remove_response_header)).
    ///
    /// ```
    /// use http::header;
    /// use portcullis_security_headers::headers::SecurityHeadersLayer;
    ///
    /// let layer = SecurityHeadersLayer::strict().keep_response_header(header::SERVER);
    /// assert!(!layer.removed_response_headers().any(|name| name == header::SERVER));
    /// ```
    pub fn keep_response_header(mut self, name: impl Into<HeaderName>) -> Self {
        let name = name.into();
        self.state().remove.retain(|n| *n != name);
        self
    }

    /// Stops sending `header`.
    ///
    /// ```
    /// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersLayer};
    ///
    /// let layer = SecurityHeadersLayer::strict().without(SecurityHeader::ContentSecurityPolicy);
    /// assert!(layer.content_security_policy_ref().is_none());
    /// ```
    pub fn without(mut self, header: SecurityHeader) -> Self {
        let state = self.state();
        match header {
            SecurityHeader::ContentSecurityPolicy => state.csp = None,
            SecurityHeader::ContentSecurityPolicyReportOnly => state.csp_report_only = None,
            SecurityHeader::StrictTransportSecurity => state.hsts = None,
            SecurityHeader::ReportingEndpoints => {
                state.reporting_endpoints = ReportingEndpoints::new();
            }
            _ => {}
        }
        state.set_fixed(header, None);
        self
    }

    /// Trusts these proxies' `X-Forwarded-Proto` (or `Forwarded: proto=`) to say
    /// that the client used HTTPS. Other peers' forwarding headers are ignored, so a
    /// client cannot ask for HSTS over plain HTTP. The peer address is read from the
    /// request extensions ([`PeerAddr`](portcullis_core::client_ip::PeerAddr), a
    /// `SocketAddr`, or axum's `ConnectInfo`).
    ///
    /// [MDN: X-Forwarded-Proto](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-Forwarded-Proto)
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use http::{Request, Response};
    /// use portcullis_core::client_ip::{PeerAddr, TrustedProxies};
    /// use portcullis_security_headers::headers::SecurityHeadersLayer;
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let app = SecurityHeadersLayer::strict()
    ///     .trusted_proxies(TrustedProxies::private_networks())
    ///     .layer(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) }));
    /// let request = |peer: &str| {
    ///     let mut request = Request::get("/")
    ///         .header("host", "app.example.com")
    ///         .header("x-forwarded-for", "198.51.100.7")
    ///         .header("x-forwarded-proto", "https")
    ///         .body(())
    ///         .unwrap();
    ///     request.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
    ///     request
    /// };
    ///
    /// // TLS ended at our load balancer in 10.0.0.0/8: HSTS is sent.
    /// let response = app.clone().oneshot(request("10.0.0.5:41000")).await.unwrap();
    /// assert!(response.headers().contains_key("strict-transport-security"));
    /// // A client on the internet claiming HTTPS over plain HTTP gets none.
    /// let response = app.oneshot(request("203.0.113.9:5000")).await.unwrap();
    /// assert!(!response.headers().contains_key("strict-transport-security"));
    /// # });
    /// ```
    pub fn trusted_proxies(mut self, proxies: impl Into<TrustedProxies>) -> Self {
        let state = self.state();
        state.https.resolver =
            ClientIpResolver::new(proxies.into()).with_header(state.https.forwarded_header);
        self
    }

    /// Reads this forwarding header from trusted proxies (default:
    /// `X-Forwarded-For` / `X-Forwarded-Proto`). Only the one your proxy writes.
    ///
    /// [MDN: Forwarded](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Forwarded)
    pub fn forwarded_header(mut self, header: ForwardedHeader) -> Self {
        let state = self.state();
        state.https.resolver = state.https.resolver.clone().with_header(header);
        state.https.forwarded_header = header;
        self
    }

    /// Treats requests without a scheme (HTTP/1 requests carry none) as HTTPS: for
    /// servers that terminate TLS in-process (axum or hyper with rustls). A trusted
    /// proxy's `X-Forwarded-Proto` still wins, and `localhost` and IP literals still
    /// never get HSTS.
    pub fn assume_https(mut self, assume: bool) -> Self {
        self.state().https.assume_https = assume;
        self
    }

    /// The configured value of a constant header (`None` when it is not sent, and
    /// for the two CSP headers, whose value changes per request: see
    /// [`content_security_policy_ref`](Self::content_security_policy_ref)).
    pub fn header_value(&self, header: SecurityHeader) -> Option<&HeaderValue> {
        self.state.fixed_value(header)
    }

    /// The enforced policy, if any.
    pub fn content_security_policy_ref(&self) -> Option<&Policy> {
        self.state.csp.as_ref().map(|compiled| &compiled.policy)
    }

    /// The report-only policy, if any.
    pub fn content_security_policy_report_only_ref(&self) -> Option<&Policy> {
        self.state
            .csp_report_only
            .as_ref()
            .map(|compiled| &compiled.policy)
    }

    /// The HSTS policy, if any.
    pub fn hsts_ref(&self) -> Option<&Hsts> {
        self.state.hsts.as_ref()
    }

    #[cfg(test)]
    pub(crate) fn shares_state_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }

    #[cfg(test)]
    pub(crate) fn state_arc(&self) -> &Arc<State> {
        &self.state
    }

    /// The response headers the layer removes.
    pub fn removed_response_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.state.remove.iter()
    }
}

/// Presets are built from constant, tested values.
fn preset(result: Result<SecurityHeadersLayer, ConfigError>) -> SecurityHeadersLayer {
    result.expect("preset configurations are valid")
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders::from_state(inner, Arc::clone(&self.state))
    }
}
