//! What the script is told of each quota, and the quotas it cannot decide exactly:
//! [`UnsupportedQuota`] (see the [module docs](super#limits-of-the-scripts-arithmetic)).

use crate::algorithm::{Algorithm, WindowAlignment};
use crate::quota::Quota;
use crate::store::StoreError;

/// The largest window, tolerance, limit or cost the script computes with exactly.
pub(super) const MAX_EXACT: u64 = 1 << 52;
/// The shortest window the script accepts.
const MIN_WINDOW_NS: u64 = 1_000_000;

/// A quota the Redis script cannot decide exactly (see the
/// [module docs](super#limits-of-the-scripts-arithmetic)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("quota `{quota}` is beyond the Redis store's exact arithmetic: {reason}")]
pub struct UnsupportedQuota {
    quota: String,
    reason: &'static str,
}

impl UnsupportedQuota {
    /// The quota's name.
    pub fn quota(&self) -> &str {
        &self.quota
    }
}

/// The GCRA interval and tolerance of `quota`, if the script computes it exactly.
pub(super) fn exact_parameters(quota: &Quota) -> Result<(u64, u64), StoreError> {
    let unsupported = |reason| {
        StoreError::backend(UnsupportedQuota {
            quota: quota.name().to_owned(),
            reason,
        })
    };
    let window = quota.window_ns();
    if window < MIN_WINDOW_NS {
        return Err(unsupported("its window is shorter than 1 ms"));
    }
    if window >= MAX_EXACT {
        return Err(unsupported(
            "its window is 2^52 ns (about 52 days) or longer",
        ));
    }
    if quota.limit() >= MAX_EXACT {
        return Err(unsupported("its limit is 2^52 or more"));
    }
    let (interval, tolerance) = (quota.interval_ns(), quota.tolerance_ns());
    if matches!(quota.algorithm(), Algorithm::Gcra { .. })
        && (interval >= MAX_EXACT || tolerance >= MAX_EXACT)
    {
        return Err(unsupported(
            "its burst spans 2^52 ns (about 52 days) or more",
        ));
    }
    Ok((interval, tolerance))
}

pub(super) fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Gcra { .. } => "gcra",
        Algorithm::SlidingWindow => "sliding",
        Algorithm::FixedWindow {
            alignment: WindowAlignment::Utc,
        } => "fixed_utc",
        Algorithm::FixedWindow { .. } => "fixed",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn quotas_beyond_exact_arithmetic_are_refused_by_name() {
        let too_short = Quota::new("blink", 10, Duration::from_micros(10));
        let too_long = Quota::new("season", 10, Duration::from_secs(60 * 86_400));
        let fine = Quota::per_day("day", 1_000_000_000);
        for quota in [&too_short, &too_long] {
            let Err(StoreError::Backend { source }) = exact_parameters(quota) else {
                panic!("{} accepted", quota.name());
            };
            let unsupported = source.downcast_ref::<UnsupportedQuota>().unwrap();
            assert_eq!(unsupported.quota(), quota.name());
        }
        assert!(exact_parameters(&fine).is_ok());
    }
}
