//! What the KV store's unit tests share: times on a UTC day boundary, and states.

use crate::algorithm::QuotaState;

pub(super) const S: u64 = 1_000_000_000;
pub(super) const MINUTE: u64 = 60 * S;
/// A UTC day boundary.
pub(super) const NOW: u64 = 1_700_006_400 * S;

pub(super) fn state(time: u64, count: u64, previous: u64) -> QuotaState {
    QuotaState {
        time,
        count,
        previous,
    }
}
