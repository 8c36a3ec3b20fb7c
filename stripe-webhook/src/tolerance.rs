//! How far a signature's timestamp may be from the time of verification, both ways.
//!
//! A signed timestamp stops replays: a captured delivery resent tomorrow is refused.
//! Stripe's own libraries allow 300 s into the past and check nothing in the future;
//! [`Tolerance`] checks both directions, with a small allowance for a server whose
//! clock runs behind the sender's.
//!
//! For events taken from a queue later, verify against the time they were *received*
//! ([`StripeVerifier::verify_at`](crate::signature::StripeVerifier::verify_at)), not
//! the time they are processed.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use portcullis_stripe_webhook::tolerance::Tolerance;
//!
//! let tolerance = Tolerance::default();
//! assert_eq!(tolerance.past(), Duration::from_secs(300));
//! assert_eq!(tolerance.future(), Duration::from_secs(30));
//!
//! let strict = Tolerance::new(Duration::from_secs(60)).future_skew(Duration::from_secs(5));
//! assert_eq!(strict.future(), Duration::from_secs(5));
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::error::VerifyError;

/// The accepted age of a signature timestamp: up to [`past`](Self::past) old, up to
/// [`future`](Self::future) ahead.
///
/// Loadable from configuration: `{ "past": { "secs": 300, "nanos": 0 }, … }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(default)]
pub struct Tolerance {
    past: Duration,
    future: Duration,
}

impl Default for Tolerance {
    /// 300 s into the past (Stripe's default), 30 s into the future.
    fn default() -> Self {
        Self {
            past: Duration::from_secs(300),
            future: Duration::from_secs(30),
        }
    }
}

impl Tolerance {
    /// Accepts timestamps up to `past` old, with the default 30 s future allowance.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_stripe_webhook::tolerance::Tolerance;
    /// let tolerance = Tolerance::new(Duration::from_secs(120));
    /// assert_eq!(tolerance.future(), Duration::from_secs(30));
    /// ```
    pub fn new(past: Duration) -> Self {
        Self {
            past,
            ..Self::default()
        }
    }

    /// Sets how far ahead of this server's clock a timestamp may be (clock skew).
    #[must_use]
    pub fn future_skew(mut self, allowance: Duration) -> Self {
        self.future = allowance;
        self
    }

    /// How old a timestamp may be.
    pub fn past(&self) -> Duration {
        self.past
    }

    /// How far in the future a timestamp may be.
    pub fn future(&self) -> Duration {
        self.future
    }

    /// Checks a signed timestamp (Unix seconds) against `now` (Unix seconds).
    ///
    /// ```
    /// use portcullis_stripe_webhook::tolerance::Tolerance;
    /// let tolerance = Tolerance::default();
    /// assert!(tolerance.check(1_700_000_000, 1_700_000_300).is_ok());
    /// assert!(tolerance.check(1_700_000_000, 1_700_000_301).is_err());
    /// assert!(tolerance.check(1_700_000_030, 1_700_000_000).is_ok());
    /// assert!(tolerance.check(1_700_000_031, 1_700_000_000).is_err());
    /// ```
    pub fn check(&self, timestamp: i64, now: i64) -> Result<(), VerifyError> {
        let age = i128::from(now) - i128::from(timestamp);
        if age >= 0 {
            let age = seconds(age);
            if age > self.past {
                return Err(VerifyError::TimestampTooOld {
                    age,
                    tolerance: self.past,
                });
            }
        } else {
            let ahead = seconds(-age);
            if ahead > self.future {
                return Err(VerifyError::TimestampInFuture {
                    ahead,
                    allowance: self.future,
                });
            }
        }
        Ok(())
    }
}

fn seconds(value: i128) -> Duration {
    Duration::from_secs(u64::try_from(value).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_do_not_overflow() {
        let tolerance = Tolerance::default();
        assert!(matches!(
            tolerance.check(i64::MIN, i64::MAX),
            Err(VerifyError::TimestampTooOld { .. })
        ));
        assert!(matches!(
            tolerance.check(i64::MAX, i64::MIN),
            Err(VerifyError::TimestampInFuture { .. })
        ));
    }

    #[test]
    fn deserializes_with_defaults() {
        let tolerance: Tolerance =
            serde_json::from_str(r#"{"past":{"secs":60,"nanos":0}}"#).unwrap();
        assert_eq!(tolerance.past(), Duration::from_secs(60));
        assert_eq!(tolerance.future(), Duration::from_secs(30));
    }
}
