//! A [`Plan`]: the quotas a request must all pass, and the product tiers as presets.
//!
//! A request passes only if **every** quota of its plan allows it; if one denies, none
//! is consumed. [`Plan::check`] is that all-or-nothing decision as a pure function over
//! the plan's states, shared by every store.
//!
//! # Example
//!
//! ```
//! use portcullis_rate_limit::algorithm::QuotaState;
//! use portcullis_rate_limit::plan::Plan;
//!
//! let plan = Plan::free(); // 10 per minute and 100 per day
//! let mut states = [QuotaState::default(); 2];
//! let now = 1_700_000_000_000_000_000;
//! for _ in 0..10 {
//!     assert!(plan.check(&mut states, now, 1).allowed());
//! }
//! let denied = plan.check(&mut states, now, 1);
//! assert!(!denied.allowed());
//! assert_eq!(denied.statuses()[1].remaining(), 90); // the day quota was not touched
//!
//! // Plans load from TOML or JSON.
//! let plan: Plan = toml::from_str(r#"
//!     name = "partner"
//!     quotas = [
//!         { name = "minute", limit = 120, window = "1m" },
//!         { name = "day", limit = 5000, window = "1d", algorithm = "fixed_window" },
//!     ]
//! "#).unwrap();
//! assert_eq!(plan.quotas().len(), 2);
//! ```

use std::borrow::Cow;
use std::hash::Hasher;

use serde::Deserialize;
use siphasher::sip::SipHasher13;
use smallvec::SmallVec;

use crate::algorithm::{Algorithm, Check, QuotaState};
use crate::error::{ConfigError, valid_name};
use crate::outcome::{MAX_QUOTAS, Outcome};
use crate::quota::Quota;

/// A named set of quotas that a request must all pass.
///
/// ```
/// use portcullis_rate_limit::{plan::Plan, quota::Quota};
///
/// let plan = Plan::new("partner", [Quota::per_minute("minute", 120), Quota::per_day("day", 5_000)]).unwrap();
/// assert_eq!(plan.name(), "partner");
/// assert_eq!(plan.quotas()[0].limit(), 120);
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "PlanConfig")]
pub struct Plan {
    name: Cow<'static, str>,
    quotas: Vec<Quota>,
    id: u64,
}

impl PartialEq for Plan {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.quotas == other.quotas
    }
}

impl Eq for Plan {}

impl Plan {
    /// A plan of these quotas (1 to [`MAX_QUOTAS`], distinct names).
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, quota::Quota};
    /// assert!(Plan::new("empty", Vec::<Quota>::new()).is_err());
    /// assert!(Plan::new("twice", [Quota::per_minute("m", 1), Quota::per_hour("m", 9)]).is_err());
    /// ```
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        quotas: impl IntoIterator<Item = Quota>,
    ) -> Result<Self, ConfigError> {
        let name = name.into();
        let quotas: Vec<Quota> = quotas.into_iter().collect();
        if !valid_name(&name) {
            return Err(ConfigError::InvalidName {
                name: name.into_owned(),
            });
        }
        if quotas.is_empty() {
            return Err(ConfigError::EmptyPlan {
                plan: name.into_owned(),
            });
        }
        if quotas.len() > MAX_QUOTAS {
            return Err(ConfigError::TooManyQuotas {
                plan: name.into_owned(),
                count: quotas.len(),
                max: MAX_QUOTAS,
            });
        }
        for (index, quota) in quotas.iter().enumerate() {
            quota.validate()?;
            if quotas[..index].iter().any(|q| q.name() == quota.name()) {
                return Err(ConfigError::DuplicateQuota {
                    plan: name.into_owned(),
                    quota: quota.name().to_owned(),
                });
            }
        }
        Ok(Self::from_valid(name, quotas))
    }

    /// The free tier: 10 per minute (GCRA) and 100 per UTC day.
    ///
    /// ```
    /// use portcullis_rate_limit::plan::Plan;
    /// let free = Plan::free();
    /// assert_eq!((free.quotas()[0].limit(), free.quotas()[1].limit()), (10, 100));
    /// ```
    pub fn free() -> Self {
        Self::tier("free", 10, 100)
    }

    /// The starter tier: 60 per minute (GCRA) and 1,000 per UTC day.
    ///
    /// ```
    /// use portcullis_rate_limit::plan::Plan;
    /// assert_eq!(Plan::starter().quotas()[1].limit(), 1_000);
    /// ```
    pub fn starter() -> Self {
        Self::tier("starter", 60, 1_000)
    }

    /// The pro tier: 300 per minute (GCRA) and 10,000 per UTC day.
    ///
    /// ```
    /// use portcullis_rate_limit::plan::Plan;
    /// assert_eq!(Plan::pro().quotas()[0].limit(), 300);
    /// ```
    pub fn pro() -> Self {
        Self::tier("pro", 300, 10_000)
    }

    /// The enterprise tier, with the limits of the customer's contract.
    ///
    /// ```
    /// use portcullis_rate_limit::plan::Plan;
    /// let plan = Plan::enterprise(3_000, 1_000_000).unwrap();
    /// assert_eq!(plan.name(), "enterprise");
    /// assert!(Plan::enterprise(0, 10).is_err());
    /// ```
    pub fn enterprise(per_minute: u64, per_day: u64) -> Result<Self, ConfigError> {
        Self::new("enterprise", tier_quotas(per_minute, per_day))
    }

    fn tier(name: &'static str, per_minute: u64, per_day: u64) -> Self {
        Self::from_valid(
            Cow::Borrowed(name),
            tier_quotas(per_minute, per_day).to_vec(),
        )
    }

    pub(crate) fn from_valid(name: Cow<'static, str>, quotas: Vec<Quota>) -> Self {
        let mut id = SipHasher13::new_with_keys(0x706f_7274_6375_6c6c, 0x6973_2d70_6c61_6e73);
        id.write(name.as_bytes());
        id.write_u8(0xff);
        for quota in &quotas {
            // Limits are left out on purpose: raising a limit keeps the counters.
            id.write(quota.name().as_bytes());
            id.write_u8(0xff);
            id.write(quota.algorithm().name().as_bytes());
            id.write_u64(quota.window_ns());
        }
        Self {
            id: id.finish(),
            name,
            quotas,
        }
    }

    /// This plan with every quota's limit (and GCRA burst) divided by `divisor`,
    /// rounded up so that no quota drops to 0: one process's share when `divisor`
    /// processes enforce the plan each on its own (the store-failure
    /// [`Fallback`](crate::rate_limit::Fallback)). The name, windows and algorithms stay, and
    /// so does the [`id`](Self::id). A `divisor` of 0 counts as 1.
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, quota::Quota};
    ///
    /// let plan = Plan::new("api", [Quota::per_minute("minute", 100), Quota::per_day("day", 5)]).unwrap();
    /// let share = plan.scaled_down(4);
    /// assert_eq!(share.quotas()[0].limit(), 25);
    /// assert_eq!(share.quotas()[1].limit(), 2); // 5 / 4, rounded up
    /// assert_eq!(share.id(), plan.id());
    /// assert_eq!(plan.scaled_down(1_000).quotas()[1].limit(), 1);
    /// ```
    #[must_use]
    pub fn scaled_down(&self, divisor: u64) -> Self {
        Self::from_valid(
            self.name.clone(),
            self.quotas
                .iter()
                .map(|quota| quota.scaled_down(divisor))
                .collect(),
        )
    }

    /// The plan's name.
    ///
    /// ```
    /// assert_eq!(portcullis_rate_limit::plan::Plan::pro().name(), "pro");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The quotas, in the order their states are kept.
    ///
    /// ```
    /// let plan = portcullis_rate_limit::plan::Plan::free();
    /// assert_eq!(plan.quotas()[1].name(), "day");
    /// ```
    pub fn quotas(&self) -> &[Quota] {
        &self.quotas
    }

    /// A stable 64-bit identity of the plan's shape (its name and its quotas' names,
    /// algorithms and windows, not their limits): stores key state by it, so raising a
    /// limit keeps the counters while reshaping a plan starts afresh.
    ///
    /// ```
    /// use portcullis_rate_limit::{plan::Plan, quota::Quota};
    /// let a = Plan::new("p", [Quota::per_minute("m", 10)]).unwrap();
    /// let b = Plan::new("p", [Quota::per_minute("m", 20)]).unwrap();
    /// let c = Plan::new("p", [Quota::per_hour("m", 10)]).unwrap();
    /// assert_eq!(a.id(), b.id());
    /// assert_ne!(a.id(), c.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The all-or-nothing decision for a request of `cost` at `now_ns` (ns since the
    /// Unix epoch): checks every quota against its state in `states` (one per quota, in
    /// order; missing ones count as fresh) and, only when all allow, writes the new
    /// states back.
    ///
    /// When the request is denied, the statuses describe the quotas as they are
    /// (nothing consumed).
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::QuotaState, plan::Plan};
    /// let plan = Plan::free();
    /// let mut states = [QuotaState::default(); 2];
    /// let outcome = plan.check(&mut states, 0, 11);
    /// assert!(!outcome.allowed());
    /// assert_eq!(states, [QuotaState::default(); 2]);
    /// ```
    pub fn check(&self, states: &mut [QuotaState], now_ns: u64, cost: u64) -> Outcome {
        self.check_all(states, now_ns, cost).0
    }

    /// [`check`](Self::check), also returning when the states expire if admitted (0
    /// otherwise).
    pub(crate) fn check_all(
        &self,
        states: &mut [QuotaState],
        now_ns: u64,
        cost: u64,
    ) -> (Outcome, u64) {
        // At most `MAX_QUOTAS` checks, on the stack; no room is cleared beforehand.
        let checks: SmallVec<[Check; MAX_QUOTAS]> = self
            .quotas
            .iter()
            .enumerate()
            .map(|(index, quota)| {
                let state = states.get(index).copied().unwrap_or_default();
                quota.check(state, now_ns, cost)
            })
            .collect();
        let expires_at = commit(&checks, states);
        (Outcome::from_checks(&checks, cost), expires_at)
    }

    /// Gives back `cost` units consumed at `consumed_at_ns` to every quota, as far as
    /// they still count (a refund after the response, e.g. for a 5xx).
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::QuotaState, plan::Plan};
    /// let plan = Plan::free();
    /// let mut states = [QuotaState::default(); 2];
    /// plan.check(&mut states, 0, 10);
    /// plan.refund(&mut states, 0, 10);
    /// assert_eq!(plan.check(&mut states, 0, 10).statuses()[1].remaining(), 90);
    /// ```
    pub fn refund(&self, states: &mut [QuotaState], consumed_at_ns: u64, cost: u64) {
        for (state, quota) in states.iter_mut().zip(&self.quotas) {
            *state = quota.refund(*state, consumed_at_ns, cost);
        }
    }

    /// When these states stop mattering (ns since the epoch): the latest expiry of any
    /// quota. A store may forget the key afterwards.
    ///
    /// ```
    /// use portcullis_rate_limit::{algorithm::QuotaState, plan::Plan, quota::Quota};
    /// let plan = Plan::new("p", [Quota::per_second("s", 1)]).unwrap();
    /// let mut states = [QuotaState::default()];
    /// plan.check(&mut states, 0, 1);
    /// assert_eq!(plan.expires_at(&states), 1_000_000_000);
    /// ```
    pub fn expires_at(&self, states: &[QuotaState]) -> u64 {
        states
            .iter()
            .zip(&self.quotas)
            .map(|(state, quota)| quota.expires_at(*state))
            .max()
            .unwrap_or(0)
    }
}

/// All or nothing: when every check allowed, writes the new states and returns when
/// they expire; else leaves them and returns 0.
#[inline]
fn commit(checks: &[Check], states: &mut [QuotaState]) -> u64 {
    if !checks.iter().all(|check| check.allowed) {
        return 0;
    }
    for (slot, check) in states.iter_mut().zip(checks) {
        *slot = check.state;
    }
    checks
        .iter()
        .map(|check| check.expires_at)
        .max()
        .unwrap_or(0)
}

fn tier_quotas(per_minute: u64, per_day: u64) -> [Quota; 2] {
    [
        Quota::per_minute("minute", per_minute).with_algorithm(Algorithm::gcra()),
        Quota::per_day("day", per_day).with_algorithm(Algorithm::fixed_window()),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanConfig {
    name: String,
    quotas: Vec<Quota>,
}

impl TryFrom<PlanConfig> for Plan {
    type Error = ConfigError;

    fn try_from(config: PlanConfig) -> Result<Self, Self::Error> {
        Self::new(config.name, config.quotas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn day_quota_untouched_when_minute_denies() {
        let plan = Plan::free();
        let mut states = [QuotaState::default(); 2];
        let now = 20_000 * 86_400 * S;
        for _ in 0..10 {
            assert!(plan.check(&mut states, now, 1).allowed());
        }
        let before = states;
        let denied = plan.check(&mut states, now, 1);
        assert!(!denied.allowed());
        assert_eq!(states, before);
        assert!(!denied.statuses()[0].allowed());
        assert!(denied.statuses()[1].allowed());
        assert_eq!(denied.statuses()[1].remaining(), 90);
    }

    #[test]
    fn minute_quota_untouched_when_day_denies() {
        let plan = Plan::new(
            "p",
            [
                Quota::per_minute("minute", 10),
                Quota::per_day("day", 3).with_algorithm(Algorithm::fixed_window()),
            ],
        )
        .unwrap();
        let mut states = [QuotaState::default(); 2];
        let now = 20_000 * 86_400 * S;
        for _ in 0..3 {
            assert!(plan.check(&mut states, now, 1).allowed());
        }
        let before = states;
        let denied = plan.check(&mut states, now, 1);
        assert!(!denied.allowed());
        assert_eq!(states, before);
        assert_eq!(denied.statuses()[0].remaining(), 7);
        assert!(denied.statuses()[0].allowed());
        assert!(!denied.statuses()[1].allowed());
    }

    #[test]
    fn rejects_too_many_quotas_and_bad_names() {
        let quotas = (0..=MAX_QUOTAS).map(|i| Quota::per_minute(format!("q{i}"), 1));
        assert!(matches!(
            Plan::new("big", quotas),
            Err(ConfigError::TooManyQuotas { .. })
        ));
        assert!(Plan::new("a\"b", [Quota::per_minute("m", 1)]).is_err());
    }

    #[test]
    fn scaled_down_plans_round_up_and_scale_bursts() {
        let plan = Plan::new(
            "p",
            [
                Quota::per_second("second", 10).with_burst(3),
                Quota::per_minute("minute", 7).with_algorithm(Algorithm::sliding_window()),
            ],
        )
        .unwrap();
        let share = plan.scaled_down(3);
        assert_eq!(share.name(), "p");
        assert_eq!(share.quotas()[0].limit(), 4);
        assert_eq!(share.quotas()[0].burst(), 1);
        assert_eq!(share.quotas()[1].limit(), 3);
        assert_eq!(
            share.quotas()[1].algorithm(),
            Algorithm::SlidingWindow,
            "algorithms stay"
        );
        assert_eq!(plan.scaled_down(0), plan);
        assert_eq!(plan.scaled_down(1), plan);
        // The scaled GCRA admits its burst of 1, then one per 250 ms.
        let mut states = [QuotaState::default(); 2];
        assert!(share.check(&mut states, 0, 1).allowed());
        assert!(!share.check(&mut states, 0, 1).allowed());
        assert!(share.check(&mut states, 250_000_000, 1).allowed());
    }

    #[test]
    fn json_plans_load() {
        let plan: Plan = serde_json::from_str(
            r#"{"name":"team","quotas":[{"name":"minute","limit":100,"window":60}]}"#,
        )
        .unwrap();
        assert_eq!(plan.quotas()[0].limit(), 100);
        assert!(serde_json::from_str::<Plan>(r#"{"name":"team","quotas":[]}"#).is_err());
    }
}
