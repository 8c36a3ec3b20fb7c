use http::HeaderValue;

use crate::csp::{Directive, PolicyEdit, Source};

use super::{FrameOptions, SecurityHeader};

/// A change to the security headers for one response, put into its extensions by the
/// handler.
///
/// The layer reads it when the response passes: it can skip a header, replace a
/// header's value, change the CSP for this page only (one more `connect-src` source,
/// another `frame-ancestors`), or allow framing, which touches both `frame-ancestors`
/// and `X-Frame-Options`. CSP changes apply to the enforced and the report-only
/// policy alike. The layer removes the override from the extensions when it is done.
///
/// With the `axum` feature it is an `IntoResponseParts`, so a handler returns it next
/// to its body.
///
/// ```
/// use http::{Request, Response};
/// use portcullis_security_headers::csp::{Directive, Source};
/// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersLayer, SecurityHeadersOverride};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let service = ServiceBuilder::new()
///     .layer(SecurityHeadersLayer::strict())
///     .service(service_fn(|_request: Request<()>| async {
///         let mut response = Response::new(());
///         response.extensions_mut().insert(
///             SecurityHeadersOverride::new()
///                 .allow_framing_by([Source::SelfOrigin])
///                 .add_source(Directive::ConnectSrc, Source::host("https://api.example.com")?)
///                 .skip(SecurityHeader::CrossOriginEmbedderPolicy),
///         );
///         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(response)
///     }));
///
/// let response = service.oneshot(Request::new(())).await.unwrap();
/// let headers = response.headers();
/// let csp = headers["content-security-policy"].to_str()?;
/// assert!(csp.contains("frame-ancestors 'self'"));
/// assert!(csp.contains("connect-src 'self' https://api.example.com"));
/// assert_eq!(headers["x-frame-options"], "SAMEORIGIN");
/// assert!(!headers.contains_key("cross-origin-embedder-policy"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct SecurityHeadersOverride {
    skip: u32,
    replacements: Vec<(SecurityHeader, HeaderValue)>,
    edits: Vec<PolicyEdit>,
}

impl SecurityHeadersOverride {
    /// No changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves `header` off this response.
    ///
    /// ```
    /// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersOverride};
    ///
    /// let change = SecurityHeadersOverride::new().skip(SecurityHeader::CacheControl);
    /// assert!(change.skips(SecurityHeader::CacheControl));
    /// ```
    pub fn skip(mut self, header: SecurityHeader) -> Self {
        self.skip |= header.bit();
        self
    }

    /// Sends `value` instead of the configured value of `header` (for a header the
    /// layer sends; to add another header, set it on the response directly). For
    /// the CSP headers the value is sent as given, with no nonce.
    ///
    /// ```
    /// use http::HeaderValue;
    /// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersOverride};
    ///
    /// let change = SecurityHeadersOverride::new().replace(
    ///     SecurityHeader::PermissionsPolicy,
    ///     HeaderValue::from_static("camera=(self)"),
    /// );
    /// assert_eq!(change.replacement(SecurityHeader::PermissionsPolicy).unwrap(), "camera=(self)");
    /// ```
    pub fn replace(mut self, header: SecurityHeader, value: HeaderValue) -> Self {
        self.replacements.retain(|(h, _)| *h != header);
        self.replacements.push((header, value));
        self
    }

    /// Allows these ancestors to frame the page: sets CSP `frame-ancestors` to them
    /// and `X-Frame-Options` to `SAMEORIGIN` when the only ancestor is `'self'`, or
    /// leaves `X-Frame-Options` off when others are allowed (it cannot name them).
    /// No ancestors (or [`Source::None`]) means nobody, as usual.
    ///
    /// [MDN: frame-ancestors](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/frame-ancestors)
    ///
    /// ```
    /// use portcullis_security_headers::csp::Source;
    /// use portcullis_security_headers::headers::{SecurityHeader, SecurityHeadersOverride};
    ///
    /// let embed = SecurityHeadersOverride::new()
    ///     .allow_framing_by([Source::host("https://partner.example.com").unwrap()]);
    /// assert!(embed.skips(SecurityHeader::XFrameOptions));
    /// ```
    pub fn allow_framing_by(mut self, ancestors: impl IntoIterator<Item = Source>) -> Self {
        let ancestors: Vec<Source> = ancestors
            .into_iter()
            .filter(|source| !source.is_script_style_only())
            .collect();
        let nobody = ancestors.is_empty() || ancestors == [Source::None];
        let only_self = ancestors == [Source::SelfOrigin];
        self.edits
            .push(PolicyEdit::Replace(Directive::FrameAncestors, ancestors));
        if only_self {
            self = self.replace(
                SecurityHeader::XFrameOptions,
                FrameOptions::SameOrigin.into(),
            );
        } else if !nobody {
            self = self.skip(SecurityHeader::XFrameOptions);
        }
        self
    }

    /// Allows one more source in `directive` on this response. When the policy lacks
    /// the directive, it starts from the sources it inherits (`default-src`), so
    /// nothing else is loosened; `'none'` gives way to the new source.
    pub fn add_source(mut self, directive: Directive, source: Source) -> Self {
        self.edits.push(PolicyEdit::AddSource(directive, source));
        self
    }

    /// Replaces the sources of `directive` on this response (none: `'none'`).
    pub fn set_directive(
        mut self,
        directive: Directive,
        sources: impl IntoIterator<Item = Source>,
    ) -> Self {
        self.edits.push(PolicyEdit::Replace(
            directive,
            sources.into_iter().collect(),
        ));
        self
    }

    /// Whether `header` is left off.
    pub fn skips(&self, header: SecurityHeader) -> bool {
        self.skip & header.bit() != 0
    }

    /// The value that replaces `header`'s configured one, if any.
    pub fn replacement(&self, header: SecurityHeader) -> Option<&HeaderValue> {
        self.replacements
            .iter()
            .find(|(h, _)| *h == header)
            .map(|(_, value)| value)
    }

    pub(crate) fn edits(&self) -> &[PolicyEdit] {
        &self.edits
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponseParts for SecurityHeadersOverride {
    type Error = std::convert::Infallible;

    fn into_response_parts(
        self,
        mut parts: axum::response::ResponseParts,
    ) -> Result<axum::response::ResponseParts, Self::Error> {
        parts.extensions_mut().insert(self);
        Ok(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_by_self_sets_sameorigin() {
        let change = SecurityHeadersOverride::new().allow_framing_by([Source::SelfOrigin]);
        assert_eq!(
            change.replacement(SecurityHeader::XFrameOptions).unwrap(),
            "SAMEORIGIN"
        );
        assert!(!change.skips(SecurityHeader::XFrameOptions));
        assert_eq!(
            change.edits(),
            [PolicyEdit::Replace(
                Directive::FrameAncestors,
                vec![Source::SelfOrigin]
            )]
        );
    }

    #[test]
    fn framing_by_nobody_keeps_x_frame_options() {
        let change = SecurityHeadersOverride::new().allow_framing_by([]);
        assert!(!change.skips(SecurityHeader::XFrameOptions));
        assert!(change.replacement(SecurityHeader::XFrameOptions).is_none());
    }

    #[test]
    fn replace_keeps_one_value_per_header() {
        let change = SecurityHeadersOverride::new()
            .replace(SecurityHeader::CacheControl, HeaderValue::from_static("a"))
            .replace(SecurityHeader::CacheControl, HeaderValue::from_static("b"));
        assert_eq!(
            change.replacement(SecurityHeader::CacheControl).unwrap(),
            "b"
        );
    }
}
