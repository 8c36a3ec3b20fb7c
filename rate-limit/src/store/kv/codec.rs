//! The stored value: encoding this instance's states, decoding any instance's; see
//! the [module docs](super#the-stored-value) for the layout.

use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

use crate::algorithm::QuotaState;
use crate::outcome::MAX_QUOTAS;
use crate::plan::Plan;
use crate::store::StoreError;

/// The format version, the first byte of every value.
const VERSION: u8 = 1;
/// Version, writer id, quota count.
const HEADER_LEN: usize = 1 + 8 + 1;
/// `time`, `count`, `previous`.
const STATE_LEN: usize = 3 * 8;

/// The states of one (key, plan), on the stack for every plan.
pub(super) type States = SmallVec<[QuotaState; MAX_QUOTAS]>;

/// Encodes the states this instance writes; see the [module docs](super#the-stored-value).
pub(super) fn encode(writer: u64, states: &[QuotaState]) -> Bytes {
    let mut value = BytesMut::with_capacity(HEADER_LEN + STATE_LEN * states.len());
    value.put_u8(VERSION);
    value.put_u64_le(writer);
    // Plans hold at most `MAX_QUOTAS` quotas.
    value.put_u8(u8::try_from(states.len()).unwrap_or(u8::MAX));
    for state in states {
        value.put_u64_le(state.time);
        value.put_u64_le(state.count);
        value.put_u64_le(state.previous);
    }
    value.freeze()
}

/// A stored value: its writer and states.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Stored {
    pub(super) writer: u64,
    pub(super) states: States,
}

/// Decodes a stored value of `plan`, refusing anything but the exact format.
pub(super) fn decode(value: &[u8], plan: &Plan) -> Result<Stored, StoreError> {
    let malformed = |reason: String| StoreError::Malformed { reason };
    let Some((&version, rest)) = value.split_first() else {
        return Err(malformed("empty value".into()));
    };
    if version != VERSION {
        return Err(malformed(format!("unknown format version {version}")));
    }
    let Some((writer, rest)) = rest.split_first_chunk::<8>() else {
        return Err(malformed(format!("{} bytes, too short", value.len())));
    };
    let Some((&count, mut rest)) = rest.split_first() else {
        return Err(malformed(format!("{} bytes, too short", value.len())));
    };
    let quotas = plan.quotas().len();
    if usize::from(count) != quotas {
        return Err(malformed(format!(
            "{count} quota states for a plan of {quotas} quotas"
        )));
    }
    if rest.len() != STATE_LEN * quotas {
        return Err(malformed(format!(
            "{} bytes of states, expected {}",
            rest.len(),
            STATE_LEN * quotas
        )));
    }
    let mut states = States::new();
    while let Some((time, tail)) = rest.split_first_chunk::<8>()
        && let Some((count, tail)) = tail.split_first_chunk::<8>()
        && let Some((previous, tail)) = tail.split_first_chunk::<8>()
    {
        states.push(QuotaState {
            time: u64::from_le_bytes(*time),
            count: u64::from_le_bytes(*count),
            previous: u64::from_le_bytes(*previous),
        });
        rest = tail;
    }
    Ok(Stored {
        writer: u64::from_le_bytes(*writer),
        states,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv::fixtures::{NOW, S, state};

    #[test]
    fn values_round_trip_in_the_documented_layout() {
        let plan = Plan::free();
        let states = [state(NOW + 6 * S, 0, 0), state(NOW, 3, 0)];
        let value = encode(0x0102_0304_0506_0708, &states);
        assert_eq!(value.len(), 10 + 2 * 24);
        assert_eq!(value[0], 1);
        assert_eq!(value[1..9], 0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(value[9], 2);
        assert_eq!(value[10..18], (NOW + 6 * S).to_le_bytes());
        assert_eq!(value[42..50], 3u64.to_le_bytes());
        let decoded = decode(&value, &plan).unwrap();
        assert_eq!(decoded.writer, 0x0102_0304_0506_0708);
        assert_eq!(decoded.states[..], states);
    }

    #[test]
    fn malformed_values_are_refused_with_a_reason() {
        let plan = Plan::free();
        let good = encode(7, &[state(1, 2, 3), state(4, 5, 6)]);
        let reason = |value: &[u8]| match decode(value, &plan) {
            Err(StoreError::Malformed { reason }) => reason,
            other => panic!("not refused as malformed: {other:?}"),
        };
        assert_eq!(reason(b""), "empty value");
        let mut other_version = good.to_vec();
        other_version[0] = 2;
        assert_eq!(reason(&other_version), "unknown format version 2");
        assert_eq!(reason(&good[..5]), "5 bytes, too short");
        assert_eq!(reason(&good[..9]), "9 bytes, too short");
        let one_quota = encode(7, &[state(1, 2, 3)]);
        assert_eq!(reason(&one_quota), "1 quota states for a plan of 2 quotas");
        assert_eq!(
            reason(&good[..good.len() - 1]),
            "47 bytes of states, expected 48"
        );
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert_eq!(reason(&trailing), "49 bytes of states, expected 48");
        assert_eq!(reason(b"{\"count\":3}"), "unknown format version 123");
    }
}
