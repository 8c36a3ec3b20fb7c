/// A token of the CSP `sandbox` directive: what a sandboxed document may still do.
///
/// [MDN: sandbox](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy/sandbox)
///
/// ```
/// use portcullis_security_headers::csp::SandboxFlag;
///
/// assert_eq!(SandboxFlag::AllowScripts.as_str(), "allow-scripts");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SandboxFlag {
    /// `allow-downloads`
    AllowDownloads,
    /// `allow-forms`
    AllowForms,
    /// `allow-modals`
    AllowModals,
    /// `allow-orientation-lock`
    AllowOrientationLock,
    /// `allow-pointer-lock`
    AllowPointerLock,
    /// `allow-popups`
    AllowPopups,
    /// `allow-popups-to-escape-sandbox`
    AllowPopupsToEscapeSandbox,
    /// `allow-presentation`
    AllowPresentation,
    /// `allow-same-origin`
    AllowSameOrigin,
    /// `allow-scripts`
    AllowScripts,
    /// `allow-storage-access-by-user-activation`
    AllowStorageAccessByUserActivation,
    /// `allow-top-navigation`
    AllowTopNavigation,
    /// `allow-top-navigation-by-user-activation`
    AllowTopNavigationByUserActivation,
    /// `allow-top-navigation-to-custom-protocols`
    AllowTopNavigationToCustomProtocols,
}

impl SandboxFlag {
    /// The token as written in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllowDownloads => "allow-downloads",
            Self::AllowForms => "allow-forms",
            Self::AllowModals => "allow-modals",
            Self::AllowOrientationLock => "allow-orientation-lock",
            Self::AllowPointerLock => "allow-pointer-lock",
            Self::AllowPopups => "allow-popups",
            Self::AllowPopupsToEscapeSandbox => "allow-popups-to-escape-sandbox",
            Self::AllowPresentation => "allow-presentation",
            Self::AllowSameOrigin => "allow-same-origin",
            Self::AllowScripts => "allow-scripts",
            Self::AllowStorageAccessByUserActivation => "allow-storage-access-by-user-activation",
            Self::AllowTopNavigation => "allow-top-navigation",
            Self::AllowTopNavigationByUserActivation => "allow-top-navigation-by-user-activation",
            Self::AllowTopNavigationToCustomProtocols => "allow-top-navigation-to-custom-protocols",
        }
    }
}
