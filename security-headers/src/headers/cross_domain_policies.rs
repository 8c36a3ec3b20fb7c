use http::HeaderValue;

/// `X-Permitted-Cross-Domain-Policies`: whether Adobe Flash and Acrobat clients may read
/// cross-domain policy files from this site.
///
/// [OWASP Secure Headers: X-Permitted-Cross-Domain-Policies](https://owasp.org/www-project-secure-headers/#x-permitted-cross-domain-policies)
///
/// ```
/// use portcullis_security_headers::headers::PermittedCrossDomainPolicies;
///
/// assert_eq!(PermittedCrossDomainPolicies::None.as_str(), "none");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PermittedCrossDomainPolicies {
    /// `none`: no policy file is allowed (the strict preset).
    None,
    /// `master-only`: only the master policy file.
    MasterOnly,
    /// `by-content-type`: policy files served as `text/x-cross-domain-policy`.
    ByContentType,
    /// `by-ftp-filename`: FTP policy files named `crossdomain.xml`.
    ByFtpFilename,
    /// `all`: any policy file.
    All,
    /// `none-this-response`: not this response.
    NoneThisResponse,
}

impl PermittedCrossDomainPolicies {
    /// The header value text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::MasterOnly => "master-only",
            Self::ByContentType => "by-content-type",
            Self::ByFtpFilename => "by-ftp-filename",
            Self::All => "all",
            Self::NoneThisResponse => "none-this-response",
        }
    }
}

impl From<PermittedCrossDomainPolicies> for HeaderValue {
    fn from(policies: PermittedCrossDomainPolicies) -> Self {
        HeaderValue::from_static(policies.as_str())
    }
}
