use std::time::Duration;

use http::HeaderValue;

use crate::ConfigError;

/// The `Strict-Transport-Security` (HSTS) policy.
///
/// The layer sends it only on HTTPS requests and never to `localhost` or an IP
/// literal, where it would be ignored at best and pin a developer's browser at worst.
/// `preload` is refused unless the policy meets the preload list's requirements: a
/// `max-age` of at least one year and `includeSubDomains`.
///
/// In configuration files: `{ max_age = 63072000, include_subdomains = true }`.
///
/// [MDN: Strict-Transport-Security](https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Strict-Transport-Security)
///
/// ```
/// use std::time::Duration;
/// use portcullis_security_headers::headers::Hsts;
///
/// let hsts = Hsts::new(Duration::from_secs(63_072_000)).include_subdomains();
/// assert_eq!(hsts.to_header_value(), "max-age=63072000; includeSubDomains");
/// assert!(Hsts::new(Duration::from_secs(86_400)).preload().validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hsts {
    max_age: u64,
    #[serde(default)]
    include_subdomains: bool,
    #[serde(default)]
    preload: bool,
}

impl Hsts {
    /// Two years, the value the strict and API presets send (as OWASP recommends).
    pub const TWO_YEARS: Duration = Duration::from_secs(63_072_000);
    /// One year, the least the HSTS preload list accepts.
    pub const ONE_YEAR: Duration = Duration::from_secs(31_536_000);

    /// Remember HTTPS for `max_age` (whole seconds; `0` tells browsers to forget).
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age: max_age.as_secs(),
            include_subdomains: false,
            preload: false,
        }
    }

    /// Two years with `includeSubDomains`: the presets' policy.
    ///
    /// ```
    /// use portcullis_security_headers::headers::Hsts;
    ///
    /// assert_eq!(Hsts::two_years().to_header_value(), "max-age=63072000; includeSubDomains");
    /// ```
    pub fn two_years() -> Self {
        Self::new(Self::TWO_YEARS).include_subdomains()
    }

    /// Adds `includeSubDomains`.
    #[must_use]
    pub fn include_subdomains(mut self) -> Self {
        self.include_subdomains = true;
        self
    }

    /// Adds `preload` (submit the domain at hstspreload.org as well).
    ///
    /// ```
    /// use portcullis_security_headers::headers::Hsts;
    ///
    /// let hsts = Hsts::two_years().preload();
    /// assert!(hsts.validate().is_ok());
    /// assert_eq!(hsts.to_header_value(), "max-age=63072000; includeSubDomains; preload");
    /// ```
    #[must_use]
    pub fn preload(mut self) -> Self {
        self.preload = true;
        self
    }

    /// The `max-age`.
    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age)
    }

    /// Refuses `preload` without a one-year `max-age` and `includeSubDomains`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.preload && (self.max_age < Self::ONE_YEAR.as_secs() || !self.include_subdomains) {
            return Err(ConfigError::HstsPreloadRequirements {
                max_age: self.max_age,
                include_subdomains: self.include_subdomains,
            });
        }
        Ok(())
    }

    /// The header value.
    pub fn to_header_value(&self) -> HeaderValue {
        let mut text = format!("max-age={}", self.max_age);
        if self.include_subdomains {
            text.push_str("; includeSubDomains");
        }
        if self.preload {
            text.push_str("; preload");
        }
        HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("max-age=0"))
    }
}

impl From<Duration> for Hsts {
    fn from(max_age: Duration) -> Self {
        Self::new(max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(Hsts::new(Duration::ZERO).to_header_value(), "max-age=0");
        assert_eq!(
            Hsts::new(Hsts::ONE_YEAR)
                .include_subdomains()
                .preload()
                .to_header_value(),
            "max-age=31536000; includeSubDomains; preload"
        );
    }

    #[test]
    fn preload_rules() {
        assert!(
            Hsts::new(Hsts::ONE_YEAR)
                .include_subdomains()
                .preload()
                .validate()
                .is_ok()
        );
        let short = Hsts::new(Duration::from_secs(31_535_999))
            .include_subdomains()
            .preload();
        assert!(matches!(
            short.validate(),
            Err(ConfigError::HstsPreloadRequirements {
                max_age: 31_535_999,
                include_subdomains: true
            })
        ));
        assert!(matches!(
            Hsts::new(Hsts::TWO_YEARS).preload().validate(),
            Err(ConfigError::HstsPreloadRequirements {
                include_subdomains: false,
                ..
            })
        ));
    }

    #[test]
    fn deserializes() {
        let hsts: Hsts =
            serde_json::from_str(r#"{"max_age": 63072000, "include_subdomains": true}"#).unwrap();
        assert_eq!(hsts, Hsts::two_years());
        assert!(serde_json::from_str::<Hsts>(r#"{"max_age": 1, "maxage": 2}"#).is_err());
    }
}
