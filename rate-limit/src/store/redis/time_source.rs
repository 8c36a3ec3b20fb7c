//! [`TimeSource`]: where a check's time comes from.

/// Where a check's time comes from. See the [module docs](super#whose-clock).
///
/// ```
/// use portcullis_rate_limit::store::redis::TimeSource;
/// assert_eq!(TimeSource::default(), TimeSource::Redis);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeSource {
    /// Redis's `TIME`: one clock for every instance.
    #[default]
    Redis,
    /// The time the layer passes from its clock.
    Caller,
}

impl TimeSource {
    pub(super) fn as_arg(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Caller => "caller",
        }
    }
}
