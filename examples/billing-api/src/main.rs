//! The Portcullis example server: a billing-aware JSON API with every Portcullis layer
//! wired in.
//!
//! `cargo run -p billing-api` starts it on `127.0.0.1:8080` with a SQLite file,
//! in-memory rate limits and an audit log file; `--help` lists the flags (each has an
//! environment variable), and the README walks through it. `cargo run -p billing-api
//! -- stripe-trigger …` posts a signed Stripe event to a running server.

mod admin;
mod api;
mod app;
mod billing;
mod config;
mod db;
mod error;
mod keys;
mod page;
mod plans;
mod state;
mod trigger;
mod webhook;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use portcullis_api_keys::invalidation::UsageRecorder;
use portcullis_api_keys::last_used::{BatchConfig, LastUsedBatcher};
use portcullis_api_keys::layer::ApiKeyLayer;
use portcullis_api_keys::lifecycle::KeyLifecycle;
use portcullis_api_keys::revocation::postgres::PgChannel;
use portcullis_api_keys::revocation::redis::RedisChannel;
use portcullis_api_keys::revocation::{RevocationChannel, Subscriber, SubscriberHandle};
use portcullis_api_keys::store::BoxKeyStore;
use portcullis_audit_log::chain::CheckpointSigner;
use portcullis_core::serve::{Server, shutdown_signal};
use portcullis_rate_limit::layer::RateLimitLayer;
use portcullis_rate_limit::store::BoxStore;
use portcullis_rate_limit::store::memory::MemoryStore;
use portcullis_rate_limit::store::negative_cache::NegativeCache;
use portcullis_rate_limit::store::redis::RedisStore;
use portcullis_rate_limit::store::resilient::Resilient;
use portcullis_stripe_webhook::store::BoxStore as WebhookStore;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::admin::AdminToken;
use crate::app::{Edge, Parts};
use crate::billing::{Billing, Prices};
use crate::config::{Cli, Command, Config};
use crate::db::{Db, without_password};
use crate::keys::{TenantPlanStore, key_format, key_hasher};
use crate::state::AppState;

/// How long a rate-limit check may wait for Redis before the request is let through
/// (`x-ratelimit-degraded: fail-open`).
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// How long start-up waits for the key-invalidation subscription.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    // clap prints a one-line error (and a usage hint) and exits with 2 on a bad flag.
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    match cli.command {
        Some(Command::StripeTrigger(args)) => trigger::run(&cli.server, &args).await,
        None => match run(cli.server).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("billing-api: {}", one_line(&error));
                ExitCode::from(2)
            }
        },
    }
}

/// Why the server could not start (or stopped).
#[derive(Debug, thiserror::Error)]
enum StartupError {
    #[error("invalid configuration: {0}")]
    Config(#[from] app::AppError),
    #[error("invalid configuration: {0}")]
    Plans(#[from] plans::PlansError),
    #[error("--admin-token: {0}")]
    AdminToken(#[from] admin::WeakAdminToken),
    #[error("--audit-signing-key (AUDIT_SIGNING_KEY): {0}")]
    AuditSigningKey(#[from] portcullis_audit_log::chain::InvalidSigningKey),
    #[error("--audit-log {path}: {source}")]
    Audit {
        path: String,
        #[source]
        source: portcullis_audit_log::ConfigError,
    },
    #[error("--database-url: {0}")]
    Db(#[from] db::DbError),
    #[error("--database-url: cannot prepare the API-key table: {0}")]
    KeyStore(#[source] portcullis_api_keys::store::StoreError),
    #[error("--redis-url: cannot connect to Redis at {url}: {source}")]
    Redis {
        url: String,
        #[source]
        source: portcullis_rate_limit::store::StoreError,
    },
    #[error("--redis-url: cannot connect to Redis at {url} for webhook idempotency: {source}")]
    WebhookRedis {
        url: String,
        #[source]
        source: portcullis_stripe_webhook::store::StoreError,
    },
    #[error("--database-url: cannot prepare the webhook table: {0}")]
    WebhookTable(#[source] portcullis_stripe_webhook::store::StoreError),
    #[error("--stripe-webhook-secret: {0}")]
    WebhookSecret(#[from] portcullis_stripe_webhook::error::ConfigError),
    #[error("cannot subscribe to key invalidations ({channel}): {reason}")]
    Subscribe { channel: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

/// How key changes reach the other instances.
enum Channel {
    Redis(RedisChannel),
    Postgres(PgChannel),
    Local,
}

async fn run(config: Config) -> Result<(), StartupError> {
    // Everything that needs no network first, so a typo fails at once.
    let edge = Edge::new(
        config.preset,
        &config.trusted_proxies,
        &config.allowed_origins,
    )?;
    let plans = plans::load(config.plans.as_deref())?;
    let (admin_token, generated_token) = AdminToken::new(config.admin_token.as_deref())?;
    let (webhook_secrets, development_secret) = config.webhook_secrets();
    let (signer, generated_signing_key) = audit_signer(config.audit_signing_key.as_deref())?;
    let audit_public_key = signer.public_key_hex();
    let (audit, audit_reopen) = app::audit_layer(
        &config.audit_log,
        edge.trusted.clone(),
        config.audit_hmac_secret.as_deref(),
        signer,
    )
    .map_err(|source| StartupError::Audit {
        path: config.audit_log.display().to_string(),
        source,
    })?;

    // The database: the example's tables and the API-key table.
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let key_store: BoxKeyStore = keys::key_store(&db).await.map_err(StartupError::KeyStore)?;
    let prices = Prices {
        starter: config.stripe_price_starter.clone(),
        pro: config.stripe_price_pro.clone(),
        enterprise: config.stripe_price_enterprise.clone(),
    };
    let billing = Billing::new(db.clone(), prices, config.past_due_grace_days);
    let store = TenantPlanStore::new(key_store.clone(), billing.clone());

    // Redis, when configured: rate limits and key invalidations shared by every
    // instance.
    let redis_url = config
        .redis_url
        .as_deref()
        .filter(|url| !url.trim().is_empty());
    let redis_error = |url: &str| {
        let url = without_password(url);
        move |source| StartupError::Redis { url, source }
    };
    let (limits, limits_text) = match redis_url {
        Some(url) => {
            let redis = RedisStore::connect(url)
                .await
                .map_err(redis_error(url))?
                .prefix(format!("{}:rl", config.redis_prefix));
            let store = NegativeCache::new(Resilient::new(redis).timeout(REDIS_TIMEOUT));
            (
                BoxStore::new(store),
                format!("Redis {} (shared by every instance)", without_password(url)),
            )
        }
        None => (
            BoxStore::new(MemoryStore::new()),
            "in memory (this process only)".to_owned(),
        ),
    };
    let rate_limit = RateLimitLayer::multi_tenant()
        .plans(plans)
        .store(limits)
        .degraded_header(true);

    // API keys: verified through a cache that every instance's changes invalidate.
    let batcher = Arc::new(LastUsedBatcher::spawn(key_store, BatchConfig::new()));
    let api_keys = ApiKeyLayer::strict(store.clone(), key_hasher())
        .usage_recorder(batcher.clone() as Arc<dyn UsageRecorder>);
    let cache = api_keys.key_cache().clone();
    let lifecycle =
        KeyLifecycle::new(store, key_format(), key_hasher()).sink(Arc::new(cache.clone()));
    let channel = match (redis_url, &db) {
        (Some(url), _) => Channel::Redis(
            RedisChannel::open(url)
                .map_err(|error| StartupError::Subscribe {
                    channel: format!("Redis {}", without_password(url)),
                    reason: error.to_string(),
                })?
                .name(format!("{}:key-invalidations", config.redis_prefix)),
        ),
        (None, Db::Postgres(pool)) => Channel::Postgres(PgChannel::new(pool.clone())),
        (None, Db::Sqlite(_)) => Channel::Local,
    };
    let (lifecycle, subscriber, invalidation_text) = match channel {
        Channel::Redis(channel) => {
            let text = format!("Redis pub/sub channel {}", channel.channel_name());
            let handle = subscribe(channel.clone(), &cache, &text).await?;
            (lifecycle.channel(channel), Some(handle), text)
        }
        Channel::Postgres(channel) => {
            let text = format!(
                "PostgreSQL LISTEN/NOTIFY channel {}",
                channel.channel_name()
            );
            let handle = subscribe(channel.clone(), &cache, &text).await?;
            (lifecycle.channel(channel), Some(handle), text)
        }
        Channel::Local => (lifecycle, None, "this process only".to_owned()),
    };

    let state = AppState {
        db: db.clone(),
        billing,
        keys: lifecycle,
        admin_token: admin_token.clone(),
    };
    let webhook = webhook::routes(
        &state,
        &webhook_secrets,
        webhook_store(redis_url, &config.redis_prefix, &db).await?,
    )?;
    let audit_handle = audit.handle();
    let app = app::router(Parts {
        edge,
        state,
        api_keys,
        rate_limit,
        audit,
        webhook,
    });

    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartupError::Listen {
                addr: config.listen,
                source,
            })?;
    let addr = listener.local_addr().map_err(StartupError::Serve)?;

    // Registered before the banner says the server is up: a SIGTERM from then on
    // stops it gracefully.
    let shutdown = shutdown_signal();
    banner(&Banner {
        addr,
        config: &config,
        database: db.kind(),
        limits: &limits_text,
        invalidation: &invalidation_text,
        admin_token: &admin_token,
        generated_token,
        webhook_secrets: &webhook_secrets,
        development_secret,
        audit_public_key: &audit_public_key,
        generated_signing_key,
    });
    if generated_signing_key {
        tracing::warn!(
            public_key = %audit_public_key,
            "AUDIT_SIGNING_KEY is not set: the audit checkpoints are signed with a key generated for this run, so the log written before a restart verifies only against the earlier run's public key"
        );
    }

    // logrotate renames the audit file and sends SIGHUP: reopen it, do not die.
    #[cfg(unix)]
    let _reopen = portcullis_audit_log::sink::reopen_on_sighup([audit_reopen])
        .map_err(StartupError::Serve)?;
    #[cfg(not(unix))]
    drop(audit_reopen);
    let stopped = Server::new(config.max_connections)
        .header_read_timeout(Duration::from_secs(config.header_read_timeout))
        .idle_timeout(Duration::from_secs(config.idle_timeout))
        .body_read_timeout(Duration::from_secs(config.body_read_timeout))
        .shutdown_timeout(Duration::from_secs(config.shutdown_timeout))
        .serve(listener, app, shutdown)
        .await;
    tracing::info!(
        finished = stopped.finished,
        dropped = stopped.dropped,
        refused = stopped.refused,
        "stopped serving"
    );

    // Drain: key uses, the subscription, the audit records, the pool.
    if let Err(error) = batcher.shutdown().await {
        tracing::warn!(%error, "could not write the last key uses");
    }
    if let Some(subscriber) = subscriber {
        subscriber.shutdown().await;
    }
    if let Err(error) = audit_handle.shutdown().await {
        tracing::warn!(%error, "could not flush the audit log");
    }
    db.close().await;
    Ok(())
}

/// The audit checkpoints' signing key: from the flag, or generated (`true`).
fn audit_signer(text: Option<&str>) -> Result<(CheckpointSigner, bool), StartupError> {
    match text {
        Some(text) => Ok((CheckpointSigner::parse(text)?, false)),
        None => Ok((CheckpointSigner::generate(), true)),
    }
}

/// Where webhook deliveries are claimed: Redis when configured (shared by every
/// instance), else a table of the database.
async fn webhook_store(
    redis_url: Option<&str>,
    redis_prefix: &str,
    db: &Db,
) -> Result<WebhookStore, StartupError> {
    use portcullis_stripe_webhook::store::{redis::RedisStore, sql::SqlStore};
    const TABLE: &str = "webhook_events";
    Ok(match (redis_url, db) {
        (Some(url), _) => WebhookStore::new(
            RedisStore::connect(url)
                .await
                .map_err(|source| StartupError::WebhookRedis {
                    url: without_password(url),
                    source,
                })?
                .prefix(format!("{redis_prefix}:webhooks")),
        ),
        (None, Db::Sqlite(pool)) => {
            let store = SqlStore::new(pool.clone()).table(TABLE)?;
            store
                .create_table()
                .await
                .map_err(StartupError::WebhookTable)?;
            WebhookStore::new(store)
        }
        (None, Db::Postgres(pool)) => {
            let store = SqlStore::new(pool.clone()).table(TABLE)?;
            store
                .create_table()
                .await
                .map_err(StartupError::WebhookTable)?;
            WebhookStore::new(store)
        }
    })
}

/// Subscribes this instance's key cache to `channel`, and waits until the
/// subscription stands: a key revoked elsewhere must not keep working here.
async fn subscribe<C: RevocationChannel>(
    channel: C,
    cache: &portcullis_api_keys::cache::KeyCache,
    text: &str,
) -> Result<SubscriberHandle, StartupError> {
    let cleared = cache.clone();
    let handle = Subscriber::new(channel)
        .sink(Arc::new(cache.clone()))
        .on_reconnect(move || {
            tracing::warn!("key invalidations may have been missed: clearing the key cache");
            cleared.invalidate_all();
        })
        .spawn();
    match tokio::time::timeout(SUBSCRIBE_TIMEOUT, handle.connected()).await {
        Ok(()) => Ok(handle),
        Err(_) => {
            handle.shutdown().await;
            Err(StartupError::Subscribe {
                channel: text.to_owned(),
                reason: format!("no subscription within {} s", SUBSCRIBE_TIMEOUT.as_secs()),
            })
        }
    }
}

/// What the start-up banner says.
struct Banner<'a> {
    addr: SocketAddr,
    config: &'a Config,
    database: &'static str,
    limits: &'a str,
    invalidation: &'a str,
    admin_token: &'a AdminToken,
    generated_token: bool,
    webhook_secrets: &'a [String],
    development_secret: bool,
    audit_public_key: &'a str,
    generated_signing_key: bool,
}

/// Prints where the server listens, what it runs on, its secrets and what to try.
fn banner(banner: &Banner<'_>) {
    let Banner { addr, config, .. } = banner;
    println!("billing-api listening on http://{addr}");
    println!(
        "  database:          {} {}",
        banner.database,
        without_password(&config.database_url)
    );
    println!("  rate limits:       {}", banner.limits);
    println!("  key invalidation:  {}", banner.invalidation);
    println!(
        "  audit log:         {} (JSON lines, hash-chained, checkpoints signed)",
        config.audit_log.display()
    );
    let origin = if banner.generated_signing_key {
        "generated for this run: set AUDIT_SIGNING_KEY to verify across restarts with one key"
    } else {
        "of --audit-signing-key / AUDIT_SIGNING_KEY"
    };
    println!(
        "  audit public key:  {} ({origin}; check the log with: portcullis-audit verify --public-key {} {}*)",
        banner.audit_public_key,
        banner.audit_public_key,
        config.audit_log.display()
    );
    println!(
        "  security headers:  {} preset on JSON routes, strict on the page",
        config.preset.as_str()
    );
    let token = if banner.generated_token {
        println!(
            "  admin token:       {} (generated for this run; set ADMIN_TOKEN to keep one)",
            banner.admin_token.expose_secret()
        );
        banner.admin_token.expose_secret().to_owned()
    } else {
        println!("  admin token:       (from --admin-token / ADMIN_TOKEN)");
        "$ADMIN_TOKEN".to_owned()
    };
    if banner.development_secret {
        println!(
            "  webhook secret:    {} (DEVELOPMENT DEFAULT: anyone can sign events with it; set STRIPE_WEBHOOK_SECRET in production)",
            banner.webhook_secrets[0]
        );
    } else {
        let masked: Vec<String> = banner
            .webhook_secrets
            .iter()
            .map(|secret| mask(secret))
            .collect();
        println!(
            "  webhook secret:    {} (from --stripe-webhook-secret / STRIPE_WEBHOOK_SECRET)",
            masked.join(", ")
        );
    }
    println!("try:");
    println!(
        "  curl -s -X POST http://{addr}/admin/tenants -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"name\":\"Acme\",\"email\":\"ops@acme.test\"}}'"
    );
    println!(
        "  curl -s -X POST http://{addr}/admin/tenants/TENANT_ID/keys -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"name\":\"laptop\"}}'"
    );
    println!("  curl -i http://{addr}/v1/quote -H 'X-API-Key: API_KEY'");
    println!("then open http://{addr}/ and paste the key to see its quotas.");
}

/// The only prefix a mask shows: Stripe's, which says what the secret is and nothing of
/// it.
const KNOWN_SECRET_PREFIX: &str = "whsec_";
/// A mask shows the last characters only of a secret with at least this many more: a
/// short secret would be mostly shown.
const MASK_MIN_HIDDEN: usize = 8;
const MASK_TAIL: usize = 4;

/// `whsec_…abcd`: the known prefix (when the secret has it) and the last four
/// characters (when at least eight more stay hidden), whatever the input.
fn mask(secret: &str) -> String {
    let head = if secret.starts_with(KNOWN_SECRET_PREFIX) {
        KNOWN_SECRET_PREFIX
    } else {
        ""
    };
    let rest = &secret[head.len()..];
    let length = rest.chars().count();
    let tail: String = if length >= MASK_TAIL + MASK_MIN_HIDDEN {
        rest.chars().skip(length - MASK_TAIL).collect()
    } else {
        String::new()
    };
    format!("{head}…{tail}")
}

/// An error and its causes on one line, each cause once.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::mask;

    /// The part of `masked` that came from the secret: what follows the `…`.
    fn revealed(masked: &str) -> &str {
        masked.split_once('…').map_or(masked, |(_, tail)| tail)
    }

    #[test]
    fn a_secret_without_an_underscore_is_not_printed() {
        let secret = "0123456789abcdefghijklmnopqrstuv";
        let masked = mask(secret);
        assert!(!masked.contains(&secret[..8]), "{masked}");
        assert_eq!(masked, "…stuv");
    }

    #[test]
    fn the_known_prefix_and_the_last_four_are_shown() {
        assert_eq!(mask("whsec_0123456789abcdef"), "whsec_…cdef");
        // A short secret shows no tail: four of six characters would be most of it.
        assert_eq!(mask("whsec_abcdef"), "whsec_…");
        assert_eq!(mask("ab"), "…");
        assert_eq!(mask(""), "…");
    }

    proptest! {
        #[test]
        fn a_mask_reveals_at_most_the_prefix_and_four_characters(secret in any::<String>()) {
            let masked = mask(&secret);
            let (head, _) = masked.split_once('…').expect("every mask has an ellipsis");
            prop_assert!(head.is_empty() || head == "whsec_", "{masked}");
            prop_assert!(secret.starts_with(head));
            let tail = revealed(&masked);
            prop_assert!(tail.chars().count() <= 4, "{masked}");
            prop_assert!(secret.ends_with(tail));
            // At least eight characters of the secret beyond its prefix stay hidden.
            let hidden = secret.chars().count() - head.chars().count() - tail.chars().count();
            prop_assert!(hidden >= 8 || tail.is_empty(), "{masked}");
        }
    }
}
