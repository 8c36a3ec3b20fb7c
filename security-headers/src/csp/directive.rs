use std::fmt;
use std::str::FromStr;

use crate::ConfigError;

/// A CSP directive that takes a source list.
///
/// Directives with other kinds of values (`upgrade-insecure-requests`, `sandbox`,
/// `report-uri`, `report-to`, `require-trusted-types-for`) have their own methods on
/// [`Policy`](super::Policy).
///
/// [MDN: CSP directives](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Content-Security-Policy#directives)
///
/// ```
/// use portcullis_security_headers::csp::Directive;
///
/// assert_eq!(Directive::ScriptSrc.as_str(), "script-src");
/// assert_eq!("frame-ancestors".parse::<Directive>().unwrap(), Directive::FrameAncestors);
/// assert_eq!(Directive::ScriptSrcElem.fallback(), Some(Directive::ScriptSrc));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Directive {
    /// `default-src`: the fallback of the other fetch directives.
    DefaultSrc,
    /// `script-src`: scripts.
    ScriptSrc,
    /// `script-src-elem`: `<script>` elements.
    ScriptSrcElem,
    /// `script-src-attr`: inline event handlers.
    ScriptSrcAttr,
    /// `style-src`: style sheets.
    StyleSrc,
    /// `style-src-elem`: `<style>` and `<link rel=stylesheet>` elements.
    StyleSrcElem,
    /// `style-src-attr`: `style` attributes.
    StyleSrcAttr,
    /// `img-src`: images and favicons.
    ImgSrc,
    /// `font-src`: fonts.
    FontSrc,
    /// `connect-src`: `fetch`, XHR, WebSocket, EventSource.
    ConnectSrc,
    /// `media-src`: audio and video.
    MediaSrc,
    /// `object-src`: `<object>` and `<embed>`.
    ObjectSrc,
    /// `frame-src`: frames this page embeds.
    FrameSrc,
    /// `child-src`: frames and workers (legacy fallback).
    ChildSrc,
    /// `worker-src`: workers.
    WorkerSrc,
    /// `manifest-src`: the web app manifest.
    ManifestSrc,
    /// `fenced-frame-src`: `<fencedframe>` contents.
    FencedFrameSrc,
    /// `base-uri`: `<base href>`.
    BaseUri,
    /// `form-action`: form submission targets.
    FormAction,
    /// `frame-ancestors`: who may frame this page (replaces `X-Frame-Options`).
    FrameAncestors,
}

impl Directive {
    const ALL: [Self; 20] = [
        Self::DefaultSrc,
        Self::ScriptSrc,
        Self::ScriptSrcElem,
        Self::ScriptSrcAttr,
        Self::StyleSrc,
        Self::StyleSrcElem,
        Self::StyleSrcAttr,
        Self::ImgSrc,
        Self::FontSrc,
        Self::ConnectSrc,
        Self::MediaSrc,
        Self::ObjectSrc,
        Self::FrameSrc,
        Self::ChildSrc,
        Self::WorkerSrc,
        Self::ManifestSrc,
        Self::FencedFrameSrc,
        Self::BaseUri,
        Self::FormAction,
        Self::FrameAncestors,
    ];

    /// The directive name as written in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DefaultSrc => "default-src",
            Self::ScriptSrc => "script-src",
            Self::ScriptSrcElem => "script-src-elem",
            Self::ScriptSrcAttr => "script-src-attr",
            Self::StyleSrc => "style-src",
            Self::StyleSrcElem => "style-src-elem",
            Self::StyleSrcAttr => "style-src-attr",
            Self::ImgSrc => "img-src",
            Self::FontSrc => "font-src",
            Self::ConnectSrc => "connect-src",
            Self::MediaSrc => "media-src",
            Self::ObjectSrc => "object-src",
            Self::FrameSrc => "frame-src",
            Self::ChildSrc => "child-src",
            Self::WorkerSrc => "worker-src",
            Self::ManifestSrc => "manifest-src",
            Self::FencedFrameSrc => "fenced-frame-src",
            Self::BaseUri => "base-uri",
            Self::FormAction => "form-action",
            Self::FrameAncestors => "frame-ancestors",
        }
    }

    /// The directive the browser uses when this one is absent (CSP3 §6.8.3), or
    /// `None` for `default-src` and the directives that do not fall back.
    pub fn fallback(self) -> Option<Self> {
        match self {
            Self::ScriptSrcElem | Self::ScriptSrcAttr => Some(Self::ScriptSrc),
            Self::StyleSrcElem | Self::StyleSrcAttr => Some(Self::StyleSrc),
            Self::WorkerSrc => Some(Self::ChildSrc),
            Self::FrameSrc | Self::FencedFrameSrc => Some(Self::ChildSrc),
            Self::ScriptSrc
            | Self::StyleSrc
            | Self::ImgSrc
            | Self::FontSrc
            | Self::ConnectSrc
            | Self::MediaSrc
            | Self::ObjectSrc
            | Self::ChildSrc
            | Self::ManifestSrc => Some(Self::DefaultSrc),
            Self::DefaultSrc | Self::BaseUri | Self::FormAction | Self::FrameAncestors => None,
        }
    }

    /// Whether script or style keywords, nonces and hashes mean something here.
    pub(crate) fn takes_script_sources(self) -> bool {
        matches!(
            self,
            Self::DefaultSrc
                | Self::ScriptSrc
                | Self::ScriptSrcElem
                | Self::ScriptSrcAttr
                | Self::StyleSrc
                | Self::StyleSrcElem
                | Self::StyleSrcAttr
                | Self::WorkerSrc
        )
    }

    /// Whether the directive governs scripts.
    pub(crate) fn is_script(self) -> bool {
        matches!(
            self,
            Self::ScriptSrc | Self::ScriptSrcElem | Self::ScriptSrcAttr
        )
    }
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Directive {
    type Err = ConfigError;

    fn from_str(name: &str) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| ConfigError::UnknownDirective {
                name: name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for directive in Directive::ALL {
            assert_eq!(directive.as_str().parse::<Directive>().unwrap(), directive);
            assert_eq!(directive.to_string(), directive.as_str());
        }
        assert!("script-source".parse::<Directive>().is_err());
    }

    #[test]
    fn fallbacks_end_at_default_src() {
        for directive in Directive::ALL {
            let mut current = directive;
            let mut steps = 0;
            while let Some(next) = current.fallback() {
                current = next;
                steps += 1;
                assert!(steps < 4);
            }
            assert!(matches!(
                current,
                Directive::DefaultSrc
                    | Directive::BaseUri
                    | Directive::FormAction
                    | Directive::FrameAncestors
            ));
        }
    }
}
