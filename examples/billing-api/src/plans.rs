//! The plans requests are limited by: `plans.toml` (built in), or `--plans FILE`.

use std::path::Path;
use std::sync::Arc;

use http::Request;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::request::{PlanName, RequestHead};
use portcullis_rate_limit::resolver::Plans;

/// The built-in tiers: free, starter, pro, enterprise.
pub(crate) const BUILT_IN: &str = include_str!("../plans.toml");

/// The plans billing needs: `free` for everyone without a paid plan, and one per
/// Stripe price.
pub(crate) const REQUIRED: [&str; 4] = ["free", "starter", "pro", "enterprise"];

/// Why the plans cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlansError {
    #[error("--plans {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--plans {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Loads the plans from `path`, or the built-in ones.
pub(crate) fn load(path: Option<&Path>) -> Result<Plans, PlansError> {
    let (name, text) = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| PlansError::Read {
                path: path.display().to_string(),
                source,
            })?;
            (path.display().to_string(), text)
        }
        None => ("(built in)".to_owned(), BUILT_IN.to_owned()),
    };
    let invalid = |message: String| PlansError::Invalid {
        path: name.clone(),
        message,
    };
    // TOML errors span several lines (they quote the file): keep the first.
    let plans: Plans = toml::from_str(&text).map_err(|error| {
        invalid(
            error
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        )
    })?;
    for required in REQUIRED {
        if named(&plans, required).is_none() {
            return Err(invalid(format!(
                "plan `{required}` is missing; billing needs free, starter, pro and enterprise"
            )));
        }
    }
    Ok(plans)
}

/// The plan named `name`, if `plans` has one.
pub(crate) fn named(plans: &Plans, name: &str) -> Option<Arc<Plan>> {
    let mut request = Request::new(());
    request
        .extensions_mut()
        .insert(PlanName::new(name.to_owned()));
    plans
        .lookup(&RequestHead::new(&request))
        .filter(|plan| plan.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_plans_are_the_tiers_of_the_rate_limiter() {
        let plans = load(None).unwrap();
        for (name, preset) in [
            ("free", Plan::free()),
            ("starter", Plan::starter()),
            ("pro", Plan::pro()),
        ] {
            assert_eq!(*named(&plans, name).unwrap(), preset, "{name}");
        }
        assert_eq!(
            *named(&plans, "enterprise").unwrap(),
            Plan::enterprise(3_000, 1_000_000).unwrap()
        );
    }

    #[test]
    fn a_file_without_a_billing_plan_is_refused_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plans.toml");
        std::fs::write(
            &path,
            "default = \"free\"\n[[plans]]\nname = \"free\"\nquotas = [{ name = \"minute\", limit = 5, window = \"1m\" }]\n",
        )
        .unwrap();
        let error = load(Some(&path)).unwrap_err().to_string();
        assert!(error.contains("`starter` is missing"), "{error}");
        std::fs::write(&path, "default = 3").unwrap();
        let error = load(Some(&path)).unwrap_err().to_string();
        assert_eq!(error.lines().count(), 1, "{error}");
    }
}
