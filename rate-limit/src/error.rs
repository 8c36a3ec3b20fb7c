//! Errors of a rate-limit configuration, reported when it is built or loaded.

/// An invalid quota, plan or layer configuration.
///
/// Reported by the constructors that validate ([`Plan::new`](crate::plan::Plan::new))
/// and when a plan is deserialized; never at request time.
///
/// ```
/// use portcullis_rate_limit::{error::ConfigError, plan::Plan, quota::Quota};
///
/// let error = Plan::new("free", [Quota::per_minute("minute", 0)]).unwrap_err();
/// assert!(matches!(error, ConfigError::ZeroLimit { .. }));
/// assert_eq!(error.to_string(), "quota `minute` has a limit of 0: it would refuse every request");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A quota allows nothing.
    #[error("quota `{quota}` has a limit of 0: it would refuse every request")]
    ZeroLimit {
        /// The quota's name.
        quota: String,
    },
    /// A quota's window is empty or longer than the clock can count (584 years).
    #[error("quota `{quota}` needs a window between 1 ns and 584 years")]
    InvalidWindow {
        /// The quota's name.
        quota: String,
    },
    /// A GCRA burst of 0.
    #[error("quota `{quota}` has a burst of 0: it would refuse every request")]
    ZeroBurst {
        /// The quota's name.
        quota: String,
    },
    /// A quota or plan name that cannot be written into a header.
    #[error("invalid name `{name}`: use 1 to 64 characters among letters, digits and `-_.:/`")]
    InvalidName {
        /// The name as written.
        name: String,
    },
    /// Two quotas of one plan share a name.
    #[error("plan `{plan}` has two quotas named `{quota}`")]
    DuplicateQuota {
        /// The plan's name.
        plan: String,
        /// The repeated quota name.
        quota: String,
    },
    /// A plan without quotas.
    #[error("plan `{plan}` has no quota")]
    EmptyPlan {
        /// The plan's name.
        plan: String,
    },
    /// A plan with more quotas than a decision can carry.
    #[error("plan `{plan}` has {count} quotas; at most {max} are supported")]
    TooManyQuotas {
        /// The plan's name.
        plan: String,
        /// How many quotas it has.
        count: usize,
        /// The most a plan may have.
        max: usize,
    },
    /// An option that does not go with the quota's algorithm (a burst on a window).
    #[error("quota `{quota}`: `{option}` only applies to the {applies_to} algorithm")]
    OptionNotApplicable {
        /// The quota's name.
        quota: String,
        /// The option.
        option: &'static str,
        /// The algorithm it belongs to.
        applies_to: &'static str,
    },
    /// A window written in configuration that is not a duration.
    #[error(
        "invalid window `{value}`: write seconds (`60`) or a duration such as `90s`, `1m`, `1h`, `1d`"
    )]
    UnparsableWindow {
        /// The value as written.
        value: String,
    },
    /// A header name that is not a valid HTTP header name.
    #[error("invalid header name `{name}`")]
    InvalidHeaderName {
        /// The name as written.
        name: String,
        /// Why it is invalid.
        #[source]
        source: http::header::InvalidHeaderName,
    },
    /// A plan name that no plan of the configuration has.
    #[error("no plan is named `{plan}`")]
    UnknownPlan {
        /// The name as written.
        plan: String,
    },
    /// The same plan name appears twice in one resolver.
    #[error("two plans are named `{plan}`")]
    DuplicatePlan {
        /// The plan's name.
        plan: String,
    },
}

/// Whether `name` may be written into a header as a structured-field string and used as
/// a configuration key.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
}
