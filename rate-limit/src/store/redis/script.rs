//! The Lua script and its calls: `EVALSHA`, `EVAL` with the source for a node that
//! lost it, and the reply read as an [`Outcome`].

use std::sync::LazyLock;

use redis::aio::ConnectionLike;
use redis::{Arg, Cmd, ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind};
use smallvec::SmallVec;

use crate::algorithm::{Check, QuotaState};
use crate::outcome::{MAX_QUOTAS, Outcome};
use crate::store::StoreError;

/// The script's source, sent (`EVAL`) only to a node that does not have it yet.
pub(super) const SOURCE: &str = include_str!("script.lua");
pub(super) static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SOURCE));
/// The error code of the script's reply for a state it cannot read.
const MALFORMED: &str = "PORTCULLIS_MALFORMED";

/// The script's reply as an [`Outcome`]: `[allowed, (allowed, remaining, reset,
/// retry_after) per quota]`.
pub(super) fn read_outcome(reply: &[i64], quotas: usize, cost: u64) -> Result<Outcome, StoreError> {
    let malformed = || StoreError::Malformed {
        reason: format!(
            "the rate-limit script answered {} numbers for {quotas} quotas",
            reply.len()
        ),
    };
    if reply.len() != 1 + 4 * quotas || quotas > MAX_QUOTAS {
        return Err(malformed());
    }
    let number = |value: i64| u64::try_from(value).map_err(|_| malformed());
    let checks = reply[1..]
        .chunks_exact(4)
        .map(|status| {
            Ok(Check {
                allowed: status[0] == 1,
                state: QuotaState::default(),
                remaining: number(status[1])?,
                reset: number(status[2])?,
                retry_after: number(status[3])?,
                expires_at: 0,
            })
        })
        .collect::<Result<SmallVec<[Check; MAX_QUOTAS]>, StoreError>>()?;
    let outcome = Outcome::from_checks(&checks, cost);
    if outcome.allowed() != (reply[0] == 1) {
        return Err(malformed());
    }
    Ok(outcome)
}

/// Runs `evalsha`; on a node that lost the script (a restart, a failover, a `SCRIPT
/// FLUSH`: `NOSCRIPT`), runs the same call as `EVAL` with the source, which also caches
/// the script there again. Not `SCRIPT LOAD`: it names no key, so a cluster client sends
/// it to every node, and the check would wait on the slowest node of the cluster, or
/// fail while any of them is unreachable.
pub(super) async fn evaluate<T: FromRedisValue>(
    connection: &mut impl ConnectionLike,
    evalsha: Cmd,
) -> RedisResult<T> {
    match evalsha.query_async(connection).await {
        Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            with_source(&evalsha).query_async(connection).await
        }
        result => result,
    }
}

/// `EVALSHA <sha> <keys and arguments>` as `EVAL <source> <keys and arguments>`.
pub(super) fn with_source(evalsha: &Cmd) -> Cmd {
    let mut eval = redis::cmd("EVAL");
    eval.arg(SOURCE);
    // A script call has plain arguments only (no cursor).
    for arg in evalsha.args_iter().skip(2) {
        if let Arg::Simple(bytes) = arg {
            eval.arg(bytes);
        }
    }
    eval
}

pub(super) fn script_error(error: redis::RedisError) -> StoreError {
    match (error.code(), error.detail()) {
        (Some(MALFORMED), Some(detail)) => StoreError::Malformed {
            reason: detail.to_owned(),
        },
        _ => StoreError::backend(error),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn statuses(reply: &[i64]) -> Result<Outcome, StoreError> {
        read_outcome(reply, 2, 1)
    }

    #[test]
    fn a_denial_reports_the_untouched_quota_before_this_request() {
        let outcome = statuses(&[0, 0, 0, 5, 5, 1, 9, 3, 0]).unwrap();
        assert!(!outcome.allowed());
        assert_eq!(
            outcome.statuses()[0].retry_after(),
            Some(Duration::from_nanos(5))
        );
        // Nothing was consumed, so the day quota still has this request's unit.
        assert_eq!(outcome.statuses()[1].remaining(), 10);
    }

    #[test]
    fn replies_of_the_wrong_shape_are_malformed_not_panics() {
        for reply in [
            &[][..],
            &[1, 1, 2, 3][..],
            &[1, 1, -2, 3, 4, 1, 2, 3, 4][..],
        ] {
            assert!(matches!(statuses(reply), Err(StoreError::Malformed { .. })));
        }
        // The overall verdict must agree with the quotas'.
        assert!(matches!(
            statuses(&[1, 0, 0, 5, 5, 1, 9, 3, 0]),
            Err(StoreError::Malformed { .. })
        ));
    }
}
