//! `billing-api stripe-trigger`: a realistic Stripe event, signed and posted.

use std::process::ExitCode;

use crate::config::{Config, TriggerArgs};

/// Builds, signs and posts the event; exit code 0 when the server accepted it.
pub(crate) async fn run(_config: &Config, args: &TriggerArgs) -> ExitCode {
    eprintln!(
        "billing-api stripe-trigger: {} cannot be signed yet: the webhook endpoint is not wired in",
        args.event.as_str()
    );
    ExitCode::from(2)
}
