//! A [`Quota`]: how many requests a key may make per window, and how they are counted.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use portcullis_rate_limit::algorithm::Algorithm;
//! use portcullis_rate_limit::quota::Quota;
//!
//! let minute = Quota::per_minute("minute", 60);
//! let day = Quota::per_day("day", 1_000).with_algorithm(Algorithm::fixed_window());
//! assert_eq!(minute.window(), Duration::from_secs(60));
//! assert_eq!(day.limit(), 1_000);
//!
//! // Quotas load from configuration too.
//! let hour: Quota = toml::from_str(r#"
//!     name = "hour"
//!     limit = 500
//!     window = "1h"
//!     algorithm = "sliding_window"
//! "#).unwrap();
//! assert_eq!(hour.algorithm(), Algorithm::SlidingWindow);
//! ```

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;

use crate::algorithm::{self, Algorithm, Check, QuotaState, WindowAlignment};
use crate::error::ConfigError;

/// `limit` requests per `window` under one name, counted by an [`Algorithm`].
///
/// A request's cost (1 unless weighted) counts against the limit. Build one with a
/// named constructor, then choose the algorithm; [`Plan::new`](crate::plan::Plan::new)
/// validates it.
///
/// ```
/// use portcullis_rate_limit::quota::Quota;
/// let quota = Quota::per_second("burst", 5).with_burst(20);
/// assert_eq!(quota.name(), "burst");
/// assert_eq!(quota.burst(), 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "QuotaConfig")]
pub struct Quota {
    name: Cow<'static, str>,
    limit: u64,
    window: Duration,
    algorithm: Algorithm,
    window_ns: u64,
    interval_ns: u64,
    tolerance_ns: u64,
}

impl Quota {
    /// `limit` requests per `window`, counted with GCRA (burst = limit).
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_rate_limit::quota::Quota;
    /// let quota = Quota::new("ten-seconds", 3, Duration::from_secs(10));
    /// assert_eq!(quota.window(), Duration::from_secs(10));
    /// ```
    pub fn new(name: impl Into<Cow<'static, str>>, limit: u64, window: Duration) -> Self {
        let mut quota = Self {
            name: name.into(),
            limit,
            window,
            algorithm: Algorithm::default(),
            window_ns: 0,
            interval_ns: 0,
            tolerance_ns: 0,
        };
        quota.precompute();
        quota
    }

    /// `limit` requests per second.
    ///
    /// ```
    /// use portcullis_rate_limit::quota::Quota;
    /// assert_eq!(Quota::per_second("second", 5).window().as_secs(), 1);
    /// ```
    pub fn per_second(name: impl Into<Cow<'static, str>>, limit: u64) -> Self {
        Self::new(name, limit, Duration::from_secs(1))
    }

    /// `limit` requests per minute.
    ///
    /// ```
    /// use portcullis_rate_limit::quota::Quota;
    /// assert_eq!(Quota::per_minute("minute", 60).window().as_secs(), 60);
    /// ```
    pub fn per_minute(name: impl Into<Cow<'static, str>>, limit: u64) -> Self {
        Self::new(name, limit, Duration::from_secs(60))
    }

    /// `limit` requests per hour.
    ///
    /// ```
    /// use portcullis_rate_limit::quota::Quota;
    /// assert_eq!(Quota::per_hour("hour", 600).window().as_secs(), 3_600);
    /// ```
    pub fn per_hour(name: impl Into<Cow<'static, str>>, limit: u64) -> Self {
        Self::new(name, limit, Duration::from_secs(3_600))
    }

    /// `limit` requests per day.
    ///
    /// ```
    /// use portcullis_rate_limit::quota::Quota;
    /// assert_eq!(Quota::per_day("day", 1_000).window().as_secs(), 86_400);
    /// ```
    pub fn per_day(name: impl Into<Cow<'static, str>>, limit: u64) -> Self {
        Self::new(name, limit, Duration::from_secs(86_400))
    }

    /// Counts with `algorithm`.
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::Algorithm, quota::Quota};
    /// let day = Quota::per_day("day", 100).with_algorithm(Algorithm::fixed_window());
    /// assert_eq!(day.algorithm(), Algorithm::fixed_window());
    /// ```
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self.precompute();
        self
    }

    /// Counts with GCRA, letting `burst` requests pass at once.
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::Algorithm, quota::Quota};
    /// let quota = Quota::per_minute("minute", 60).with_burst(10);
    /// assert_eq!(quota.algorithm(), Algorithm::gcra_with_burst(10));
    /// ```
    #[must_use]
    pub fn with_burst(self, burst: u64) -> Self {
        self.with_algorithm(Algorithm::gcra_with_burst(burst))
    }

    /// This quota with its limit, and its GCRA burst if set, divided by `divisor` and
    /// rounded up, so no quota drops to 0. The share of one process among `divisor`.
    pub(crate) fn scaled_down(&self, divisor: u64) -> Self {
        let divisor = divisor.max(1);
        let mut quota = self.clone();
        quota.limit = self.limit.div_ceil(divisor);
        if let Algorithm::Gcra { burst: Some(burst) } = self.algorithm {
            quota.algorithm = Algorithm::Gcra {
                burst: Some(burst.div_ceil(divisor)),
            };
        }
        quota.precompute();
        quota
    }

    /// The name, used in headers (`RateLimit-Policy: "minute";q=60;w=60`) and problems.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::quota::Quota::per_day("day", 1).name(), "day");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many units of cost a window allows.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::quota::Quota::per_day("day", 100).limit(), 100);
    /// ```
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::quota::Quota::per_hour("hour", 1).window().as_secs(), 3_600);
    /// ```
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The algorithm.
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::Algorithm, quota::Quota};
    /// assert_eq!(Quota::per_hour("hour", 1).algorithm(), Algorithm::gcra());
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// How many requests may pass at once: the GCRA burst, else the limit.
    ///
    /// ```
    /// use portcullis_rate_limit::quota::Quota;
    /// assert_eq!(Quota::per_minute("minute", 60).burst(), 60);
    /// assert_eq!(Quota::per_minute("minute", 60).with_burst(5).burst(), 5);
    /// ```
    pub fn burst(&self) -> u64 {
        match self.algorithm {
            Algorithm::Gcra { burst: Some(burst) } => burst,
            _ => self.limit,
        }
    }

    /// Checks a request of `cost` at `now_ns` (nanoseconds since the Unix epoch) against
    /// this quota's `state`. Pure: every store decides through this function.
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::QuotaState, quota::Quota};
    /// let quota = Quota::per_minute("minute", 2);
    /// let first = quota.check(QuotaState::default(), 0, 1);
    /// let second = quota.check(first.state, 0, 1);
    /// assert!(first.allowed && second.allowed);
    /// assert!(!quota.check(second.state, 0, 1).allowed);
    /// ```
    #[inline]
    pub fn check(&self, state: QuotaState, now_ns: u64, cost: u64) -> Check {
        match self.algorithm {
            Algorithm::Gcra { .. } => {
                algorithm::gcra::check(state, now_ns, cost, self.interval_ns, self.tolerance_ns)
            }
            Algorithm::SlidingWindow => {
                algorithm::sliding_window::check(state, now_ns, cost, self.limit, self.window_ns)
            }
            Algorithm::FixedWindow { alignment } => algorithm::fixed_window::check(
                state,
                now_ns,
                cost,
                self.limit,
                self.window_ns,
                alignment == WindowAlignment::Utc,
            ),
        }
    }

    /// Gives back `cost` units consumed at `consumed_at_ns`, as far as they still count.
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::QuotaState, quota::Quota};
    /// let quota = Quota::per_minute("minute", 1);
    /// let used = quota.check(QuotaState::default(), 0, 1).state;
    /// assert!(!quota.check(used, 0, 1).allowed);
    /// assert!(quota.check(quota.refund(used, 0, 1), 0, 1).allowed);
    /// ```
    pub fn refund(&self, state: QuotaState, consumed_at_ns: u64, cost: u64) -> QuotaState {
        match self.algorithm {
            Algorithm::Gcra { .. } => algorithm::gcra::refund(state, cost, self.interval_ns),
            Algorithm::SlidingWindow => {
                algorithm::sliding_window::refund(state, consumed_at_ns, cost, self.window_ns)
            }
            Algorithm::FixedWindow { alignment } => algorithm::fixed_window::refund(
                state,
                consumed_at_ns,
                cost,
                self.window_ns,
                alignment == WindowAlignment::Utc,
            ),
        }
    }

    /// When `state` stops mattering (ns since the epoch): after this, a store may forget
    /// it without changing any decision.
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::QuotaState, quota::Quota};
    /// let quota = Quota::per_second("second", 1);
    /// let state = quota.check(QuotaState::default(), 0, 1).state;
    /// assert_eq!(quota.expires_at(state), 1_000_000_000);
    /// ```
    pub fn expires_at(&self, state: QuotaState) -> u64 {
        match self.algorithm {
            Algorithm::Gcra { .. } => state.time,
            Algorithm::SlidingWindow => state
                .time
                .saturating_add(self.window_ns)
                .saturating_add(self.window_ns),
            Algorithm::FixedWindow { .. } => state.time.saturating_add(self.window_ns),
        }
    }

    /// The GCRA emission interval in nanoseconds (the window over the limit).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    /// The GCRA tolerance in nanoseconds (the interval times the burst).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn tolerance_ns(&self) -> u64 {
        self.tolerance_ns
    }

    /// The window in whole nanoseconds.
    pub(crate) fn window_ns(&self) -> u64 {
        self.window_ns
    }

    /// Checks the quota's values; called by `Plan::new`.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !crate::error::valid_name(&self.name) {
            return Err(ConfigError::InvalidName {
                name: self.name.to_string(),
            });
        }
        if self.limit == 0 {
            return Err(ConfigError::ZeroLimit {
                quota: self.name.to_string(),
            });
        }
        if self.window_ns == 0 || u64::try_from(self.window.as_nanos()).is_err() {
            return Err(ConfigError::InvalidWindow {
                quota: self.name.to_string(),
            });
        }
        if matches!(self.algorithm, Algorithm::Gcra { burst: Some(0) }) {
            return Err(ConfigError::ZeroBurst {
                quota: self.name.to_string(),
            });
        }
        Ok(())
    }

    fn precompute(&mut self) {
        self.window_ns = portcullis_core::clock::saturating_nanos(self.window);
        self.interval_ns = algorithm::gcra::emission_interval(self.window_ns, self.limit);
        self.tolerance_ns = self.interval_ns.saturating_mul(self.burst());
    }
}

/// A quota as written in configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaConfig {
    name: String,
    limit: u64,
    window: WindowConfig,
    #[serde(default)]
    algorithm: AlgorithmName,
    burst: Option<u64>,
    alignment: Option<WindowAlignment>,
}

#[derive(Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AlgorithmName {
    #[default]
    Gcra,
    SlidingWindow,
    FixedWindow,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WindowConfig {
    Seconds(u64),
    Text(String),
}

impl TryFrom<QuotaConfig> for Quota {
    type Error = ConfigError;

    fn try_from(config: QuotaConfig) -> Result<Self, Self::Error> {
        let window = match config.window {
            WindowConfig::Seconds(seconds) => Duration::from_secs(seconds),
            WindowConfig::Text(text) => parse_window(&text)?,
        };
        let not_applicable = |option, applies_to| ConfigError::OptionNotApplicable {
            quota: config.name.clone(),
            option,
            applies_to,
        };
        let algorithm = match config.algorithm {
            AlgorithmName::Gcra => {
                if config.alignment.is_some() {
                    return Err(not_applicable("alignment", "fixed_window"));
                }
                Algorithm::Gcra {
                    burst: config.burst,
                }
            }
            AlgorithmName::SlidingWindow => {
                if config.burst.is_some() {
                    return Err(not_applicable("burst", "gcra"));
                }
                if config.alignment.is_some() {
                    return Err(not_applicable("alignment", "fixed_window"));
                }
                Algorithm::SlidingWindow
            }
            AlgorithmName::FixedWindow => {
                if config.burst.is_some() {
                    return Err(not_applicable("burst", "gcra"));
                }
                Algorithm::FixedWindow {
                    alignment: config.alignment.unwrap_or_default(),
                }
            }
        };
        let quota = Quota::new(config.name, config.limit, window).with_algorithm(algorithm);
        quota.validate()?;
        Ok(quota)
    }
}

/// Deserializes a duration written as a window is: seconds (`60`) or text (`500ms`,
/// `90s`, `1m`, `hour`).
#[cfg_attr(not(feature = "resilient"), allow(dead_code))]
pub(crate) fn deserialize_duration<'de, D>(deserializer: D) -> Result<Duration, D::Error>
where
    D: serde::Deserializer<'de>,
{
    match WindowConfig::deserialize(deserializer)? {
        WindowConfig::Seconds(seconds) => Ok(Duration::from_secs(seconds)),
        WindowConfig::Text(text) => parse_window(&text).map_err(serde::de::Error::custom),
    }
}

/// Parses `60`, `90s`, `500ms`, `1m`, `1h`, `1d`, `minute`, `hour`, `day`.
fn parse_window(text: &str) -> Result<Duration, ConfigError> {
    let invalid = || ConfigError::UnparsableWindow {
        value: text.to_owned(),
    };
    let trimmed = text.trim();
    let named = match trimmed {
        "second" => Some(1),
        "minute" => Some(60),
        "hour" => Some(3_600),
        "day" => Some(86_400),
        "week" => Some(604_800),
        _ => None,
    };
    if let Some(seconds) = named {
        return Ok(Duration::from_secs(seconds));
    }
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds_per_unit = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "ms" => return Ok(Duration::from_millis(number)),
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(seconds_per_unit)
        .map(Duration::from_secs)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_in_every_spelling() {
        for (text, seconds) in [
            ("60", 60),
            ("90s", 90),
            ("1m", 60),
            ("2 min", 120),
            ("1h", 3_600),
            ("1d", 86_400),
            ("day", 86_400),
            ("minute", 60),
        ] {
            assert_eq!(
                parse_window(text).unwrap(),
                Duration::from_secs(seconds),
                "{text}"
            );
        }
        assert_eq!(parse_window("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_window("soon").is_err());
        assert!(parse_window("5 fortnights").is_err());
    }

    #[test]
    fn deserializes_and_validates() {
        let quota: Quota = serde_json::from_str(
            r#"{"name":"day","limit":1000,"window":86400,"algorithm":"fixed_window","alignment":"first_request"}"#,
        )
        .unwrap();
        assert_eq!(
            quota.algorithm(),
            Algorithm::FixedWindow {
                alignment: WindowAlignment::FirstRequest
            }
        );
        let burst: Quota =
            serde_json::from_str(r#"{"name":"m","limit":60,"window":"1m","burst":5}"#).unwrap();
        assert_eq!(burst.burst(), 5);
        for bad in [
            r#"{"name":"m","limit":0,"window":"1m"}"#,
            r#"{"name":"m","limit":1,"window":0}"#,
            r#"{"name":"m","limit":1,"window":"1m","algorithm":"sliding_window","burst":3}"#,
            r#"{"name":"m","limit":1,"window":"1m","alignment":"utc"}"#,
            r#"{"name":"has space","limit":1,"window":"1m"}"#,
            r#"{"name":"m","limit":1,"window":"1m","burst":0}"#,
            r#"{"name":"m","limit":1,"window":"1m","colour":"red"}"#,
        ] {
            assert!(serde_json::from_str::<Quota>(bad).is_err(), "{bad}");
        }
    }
}
