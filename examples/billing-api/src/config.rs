//! Command-line flags, each with an environment variable of the same meaning.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The development webhook secret used when none is configured. Anyone who reads this
/// source can sign events with it: set `STRIPE_WEBHOOK_SECRET` in production.
pub(crate) const DEVELOPMENT_WEBHOOK_SECRET: &str = "whsec_billing_api_development_only";

/// The Portcullis example server: a billing-aware JSON API with API keys, plan-based
/// rate limits, Stripe webhooks, an audit log and security headers.
///
/// Run without flags for a local server on 127.0.0.1:8080 backed by a SQLite file.
#[derive(Debug, Parser)]
#[command(name = "billing-api", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) server: Config,

    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// Subcommands; without one, the server runs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Builds a realistic Stripe event, signs it with the configured webhook secret
    /// and posts it to a running server (like `stripe trigger`).
    StripeTrigger(TriggerArgs),
}

/// The server's configuration.
#[derive(Debug, Args)]
pub(crate) struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,

    /// Where tenants, subscriptions and API keys live: `sqlite://FILE` (created and
    /// migrated on first start) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://billing-api.db")]
    pub(crate) database_url: String,

    /// Redis for rate limits, API-key cache invalidation and webhook idempotency, so
    /// that several instances behave as one (`redis://HOST:6379`). Without it those
    /// live in this process (invalidation goes through PostgreSQL LISTEN/NOTIFY when
    /// the database is PostgreSQL).
    #[arg(long, env = "REDIS_URL")]
    pub(crate) redis_url: Option<String>,

    /// Prefix of every Redis key and channel this server uses; instances that share
    /// limits must share it.
    #[arg(long, env = "REDIS_PREFIX", default_value = "billing-api")]
    pub(crate) redis_prefix: String,

    /// Security-header preset for the JSON routes: `api` (default), `strict`, or
    /// `development` (report-only CSP, no HSTS; for http://localhost). The HTML page
    /// always gets `strict` (report-only under `development`).
    #[arg(long, env = "PRESET", value_enum, default_value_t = Preset::Api)]
    pub(crate) preset: Preset,

    /// Bearer token of the `/admin` endpoints: at least 20 characters, random (a
    /// guessable one is refused). Generated and printed at start-up when not given
    /// (then it changes on every start).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub(crate) admin_token: Option<String>,

    /// Stripe webhook signing secrets (`whsec_…`), comma-separated: during a secret
    /// roll, list both. Defaults to a development secret printed at start-up.
    #[arg(
        long,
        env = "STRIPE_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub(crate) stripe_webhook_secret: Option<String>,

    /// Origins allowed to call the API from a browser, comma-separated; a subdomain
    /// wildcard such as `https://*.example.com` is allowed.
    #[arg(long, env = "ALLOWED_ORIGINS", default_value = "")]
    pub(crate) allowed_origins: String,

    /// Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed, as CIDRs,
    /// comma-separated.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub(crate) trusted_proxies: String,

    /// File the audit log is appended to, as JSON lines.
    #[arg(long, env = "AUDIT_LOG", default_value = "billing-api-audit.log")]
    pub(crate) audit_log: PathBuf,

    /// Secret keying the audit log's redaction: secrets in requests become
    /// `hmac-sha256:…` of it, searchable by whoever holds it. Random per run when not
    /// given (hashes then match only within one run).
    #[arg(long, env = "AUDIT_HMAC_SECRET", hide_env_values = true)]
    pub(crate) audit_hmac_secret: Option<String>,

    /// Ed25519 key signing the audit log's checkpoints: a 32-byte seed as 64 hex
    /// digits or in base64 (`openssl rand -hex 32`); the banner prints its public
    /// key, for `portcullis-audit verify --public-key`. Generated per run when not
    /// given: each run's checkpoints then verify against another public key.
    #[arg(long, env = "AUDIT_SIGNING_KEY", hide_env_values = true)]
    pub(crate) audit_signing_key: Option<String>,

    /// A TOML file of plans (tiers and their quotas) replacing the built-in
    /// free / starter / pro / enterprise tiers; see `examples/billing-api/plans.toml`.
    #[arg(long, env = "PLANS_FILE")]
    pub(crate) plans: Option<PathBuf>,

    /// The Stripe price id of the starter plan.
    #[arg(
        long,
        env = "STRIPE_PRICE_STARTER",
        default_value = "price_starter",
        global = true
    )]
    pub(crate) stripe_price_starter: String,

    /// The Stripe price id of the pro plan.
    #[arg(
        long,
        env = "STRIPE_PRICE_PRO",
        default_value = "price_pro",
        global = true
    )]
    pub(crate) stripe_price_pro: String,

    /// The Stripe price id of the enterprise plan.
    #[arg(
        long,
        env = "STRIPE_PRICE_ENTERPRISE",
        default_value = "price_enterprise",
        global = true
    )]
    pub(crate) stripe_price_enterprise: String,

    /// Days a `past_due` tenant keeps its paid plan after the first failed payment;
    /// after that it is limited as `free` until a payment succeeds.
    #[arg(long, env = "PAST_DUE_GRACE_DAYS", default_value_t = 7)]
    pub(crate) past_due_grace_days: u32,

    /// Connections served at once; over it, new connections are closed at once. Keep
    /// it under the file-descriptor limit (`ulimit -n`, often 1,024) minus what the
    /// database pool, Redis and the audit log need.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 512)]
    pub(crate) max_connections: usize,

    /// Seconds a client may take to send a request's headers (slowloris clients are
    /// cut off after it); a new connection gets as long to start its first request.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value_t = 10)]
    pub(crate) header_read_timeout: u64,

    /// Seconds a connection may stay open with no request in flight.
    #[arg(long, env = "IDLE_TIMEOUT", default_value_t = 60)]
    pub(crate) idle_timeout: u64,

    /// Seconds a request body may go without a byte arriving.
    #[arg(long, env = "BODY_READ_TIMEOUT", default_value_t = 30)]
    pub(crate) body_read_timeout: u64,

    /// Seconds shutdown (`SIGTERM`, Ctrl-C) waits for open requests before it drops
    /// them and flushes the audit log and the last key uses; keep it under the
    /// orchestrator's grace period (Kubernetes: 30 s).
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value_t = 20)]
    pub(crate) shutdown_timeout: u64,
}

impl Config {
    /// The webhook secrets in use, and whether they are the development default.
    pub(crate) fn webhook_secrets(&self) -> (Vec<String>, bool) {
        webhook_secrets(self.stripe_webhook_secret.as_deref())
    }
}

/// The secrets of a comma-separated list, or the development default.
pub(crate) fn webhook_secrets(list: Option<&str>) -> (Vec<String>, bool) {
    let secrets: Vec<String> = list
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
        .map(str::to_owned)
        .collect();
    if secrets.is_empty() {
        (vec![DEVELOPMENT_WEBHOOK_SECRET.to_owned()], true)
    } else {
        (secrets, false)
    }
}

/// The security-header preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Preset {
    /// The HTML-app preset everywhere.
    Strict,
    /// The JSON-API preset on API routes, strict on the page.
    Api,
    /// Report-only CSP, no HSTS: never breaks http://localhost.
    Development,
}

impl Preset {
    /// The preset's name, as `--preset` takes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Api => "api",
            Self::Development => "development",
        }
    }
}

/// `stripe-trigger`: which event, for whom, and where to post it.
#[derive(Debug, Args)]
pub(crate) struct TriggerArgs {
    /// The event type to send.
    #[arg(value_enum)]
    pub(crate) event: TriggerEvent,

    /// The tenant the event is about (its id, from `POST /admin/tenants`).
    #[arg(long)]
    pub(crate) tenant: String,

    /// The plan whose Stripe price the subscription carries.
    #[arg(long, value_enum, default_value_t = TriggerPlan::Pro)]
    pub(crate) plan: TriggerPlan,

    /// The webhook endpoint of a running server.
    #[arg(long, default_value = "http://127.0.0.1:8080/webhooks/stripe")]
    pub(crate) url: String,

    /// The event id (`evt_…`); repeat one to see a duplicate delivery acknowledged
    /// without being applied again. Random by default.
    #[arg(long)]
    pub(crate) event_id: Option<String>,
}

/// The events `stripe-trigger` can build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TriggerEvent {
    /// A completed Checkout Session in subscription mode.
    #[value(name = "checkout.session.completed")]
    CheckoutSessionCompleted,
    /// A new subscription.
    #[value(name = "customer.subscription.created")]
    SubscriptionCreated,
    /// A changed subscription (a new price, say).
    #[value(name = "customer.subscription.updated")]
    SubscriptionUpdated,
    /// A cancelled subscription.
    #[value(name = "customer.subscription.deleted")]
    SubscriptionDeleted,
    /// A renewal whose payment failed.
    #[value(name = "invoice.payment_failed")]
    InvoicePaymentFailed,
    /// A renewal that was paid.
    #[value(name = "invoice.paid")]
    InvoicePaid,
}

impl TriggerEvent {
    /// The Stripe event type.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CheckoutSessionCompleted => "checkout.session.completed",
            Self::SubscriptionCreated => "customer.subscription.created",
            Self::SubscriptionUpdated => "customer.subscription.updated",
            Self::SubscriptionDeleted => "customer.subscription.deleted",
            Self::InvoicePaymentFailed => "invoice.payment_failed",
            Self::InvoicePaid => "invoice.paid",
        }
    }
}

/// The paid plans a trigger can subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TriggerPlan {
    /// `STRIPE_PRICE_STARTER`.
    Starter,
    /// `STRIPE_PRICE_PRO`.
    Pro,
    /// `STRIPE_PRICE_ENTERPRISE`.
    Enterprise,
}
