//! The database: SQLite or PostgreSQL, chosen by `--database-url`.
//!
//! One pool serves both the example's own tables (`tenants`, `subscriptions`, with the
//! migrations in `migrations/{sqlite,postgres}`) and the API-key store of
//! `portcullis-api-keys`, which owns and migrates its `portcullis_api_keys` table.
//! Every statement is written once: SQLite accepts PostgreSQL's `$1` placeholders.

use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// How long start-up waits for a connection before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `$body` with `$pool` bound to whichever pool the database has.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// A connection pool on the configured database. Clones share it.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    /// `sqlite://…`
    Sqlite(SqlitePool),
    /// `postgres://…`
    Postgres(PgPool),
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error("`{0}` is neither a sqlite:// nor a postgres:// URL")]
    Scheme(String),
    #[error("cannot open the database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

impl DbError {
    /// Whether the database refused a value rather than failed: PostgreSQL's SQLSTATE
    /// class 22, "data exception" (`22021`: a NUL in text; `22003`: a number out of
    /// range). The value came from a request, so the request is at fault.
    pub(crate) fn is_data_exception(&self) -> bool {
        match self {
            Self::Query(sqlx::Error::Database(error)) => {
                error.code().is_some_and(|code| code.starts_with("22"))
            }
            _ => false,
        }
    }
}

/// A tenant as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Tenant {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) plan: String,
    pub(crate) subscription_status: String,
    pub(crate) stripe_customer_id: Option<String>,
    pub(crate) past_due_since: Option<i64>,
    pub(crate) billing_event_at: i64,
    pub(crate) created_at: i64,
}

/// A tenant's billing state after a Stripe event, as [`Db::update_billing`] writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BillingState {
    pub(crate) plan: String,
    pub(crate) subscription_status: String,
    pub(crate) stripe_customer_id: Option<String>,
    pub(crate) past_due_since: Option<i64>,
}

/// A subscription as the last Stripe event described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct SubscriptionRow {
    pub(crate) id: String,
    pub(crate) customer_id: Option<String>,
    pub(crate) price_id: Option<String>,
    pub(crate) plan: String,
    pub(crate) status: String,
    pub(crate) current_period_end: Option<i64>,
}

const TENANT_COLUMNS: &str = "id, name, email, plan, subscription_status, stripe_customer_id, \
     past_due_since, billing_event_at, created_at";

impl Db {
    /// Connects now, so that an unreachable database stops start-up.
    pub(crate) async fn connect(url: &str) -> Result<Self, DbError> {
        let connect_error = |source| DbError::Connect {
            url: without_password(url),
            source,
        };
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect_error)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(connect_error)?;
            Ok(Self::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(connect_error)?;
            // One connection first, for its own error ("connection refused", "database
            // does not exist") rather than the pool's "timed out".
            let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
                .await
                .map_err(|_| connect_error(sqlx::Error::PoolTimedOut))?
                .map_err(connect_error)?;
            let _ = probe.close().await;
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(connect_error)?;
            Ok(Self::Postgres(pool))
        } else {
            Err(DbError::Scheme(without_password(url)))
        }
    }

    /// Creates or upgrades the example's tables (the API-key store migrates its own).
    pub(crate) async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Self::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await,
            Self::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await,
        }
        .map_err(DbError::Migrate)
    }

    /// `sqlite` or `postgres`, for the start-up banner.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }

    /// Closes every connection.
    pub(crate) async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }

    /// Stores a new tenant on the free plan.
    pub(crate) async fn create_tenant(
        &self,
        id: &str,
        name: &str,
        email: &str,
        now: i64,
    ) -> Result<Tenant, DbError> {
        let sql = format!(
            "INSERT INTO tenants (id, name, email, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {TENANT_COLUMNS}"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as::<_, Tenant>(&sql)
                .bind(id)
                .bind(name)
                .bind(email)
                .bind(now)
                .fetch_one(pool)
                .await?
        }))
    }

    /// The tenant with this id.
    pub(crate) async fn tenant(&self, id: &str) -> Result<Option<Tenant>, DbError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        Ok(with_pool!(self, pool => {
            sqlx::query_as::<_, Tenant>(&sql).bind(id).fetch_optional(pool).await?
        }))
    }

    /// The tenant whose Stripe customer this is.
    pub(crate) async fn tenant_by_customer(
        &self,
        customer: &str,
    ) -> Result<Option<Tenant>, DbError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE stripe_customer_id = $1");
        Ok(with_pool!(self, pool => {
            sqlx::query_as::<_, Tenant>(&sql).bind(customer).fetch_optional(pool).await?
        }))
    }

    /// The tenant a known subscription belongs to.
    pub(crate) async fn tenant_by_subscription(
        &self,
        subscription: &str,
    ) -> Result<Option<Tenant>, DbError> {
        let sql = format!(
            "SELECT {} FROM tenants t JOIN subscriptions s ON s.tenant_id = t.id WHERE s.id = $1",
            TENANT_COLUMNS
                .split(", ")
                .map(|column| format!("t.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as::<_, Tenant>(&sql).bind(subscription).fetch_optional(pool).await?
        }))
    }

    /// The tenant's subscriptions, newest change first.
    pub(crate) async fn subscriptions(
        &self,
        tenant: &str,
    ) -> Result<Vec<SubscriptionRow>, DbError> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            String,
            String,
            Option<i64>,
        );
        let sql = "SELECT id, customer_id, price_id, plan, status, current_period_end \
                   FROM subscriptions WHERE tenant_id = $1 ORDER BY updated_at DESC, id";
        let rows: Vec<Row> = with_pool!(self, pool => {
            sqlx::query_as(sql).bind(tenant).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, customer_id, price_id, plan, status, current_period_end)| SubscriptionRow {
                    id,
                    customer_id,
                    price_id,
                    plan,
                    status,
                    current_period_end,
                },
            )
            .collect())
    }

    /// Writes the billing state an event of time `event_at` produced, and the
    /// subscription it described, in one transaction. Does nothing and returns `false`
    /// when the tenant already holds the state of a newer event.
    pub(crate) async fn update_billing(
        &self,
        tenant: &str,
        state: &BillingState,
        subscription: Option<&SubscriptionRow>,
        event_at: i64,
        now: i64,
    ) -> Result<bool, DbError> {
        let update = "UPDATE tenants SET plan = $2, subscription_status = $3, \
                      stripe_customer_id = COALESCE($4, stripe_customer_id), \
                      past_due_since = $5, billing_event_at = $6, updated_at = $7 \
                      WHERE id = $1 AND billing_event_at <= $6";
        let upsert = "INSERT INTO subscriptions \
                      (id, tenant_id, customer_id, price_id, plan, status, current_period_end, updated_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                      ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, \
                      customer_id = COALESCE(excluded.customer_id, subscriptions.customer_id), \
                      price_id = COALESCE(excluded.price_id, subscriptions.price_id), \
                      plan = excluded.plan, status = excluded.status, \
                      current_period_end = COALESCE(excluded.current_period_end, subscriptions.current_period_end), \
                      updated_at = excluded.updated_at";
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(update)
                .bind(tenant)
                .bind(&state.plan)
                .bind(&state.subscription_status)
                .bind(state.stripe_customer_id.as_deref())
                .bind(state.past_due_since)
                .bind(event_at)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 1 {
                if let Some(subscription) = subscription {
                    sqlx::query(upsert)
                        .bind(&subscription.id)
                        .bind(tenant)
                        .bind(subscription.customer_id.as_deref())
                        .bind(subscription.price_id.as_deref())
                        .bind(&subscription.plan)
                        .bind(&subscription.status)
                        .bind(subscription.current_period_end)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
            updated == 1
        }))
    }
}

/// `url` without the password, for messages.
pub(crate) fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') { ":…" } else { "" };
            format!("{scheme}://{user}{masked}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            without_password("postgres://app:s3cret@db:5432/app"),
            "postgres://app:…@db:5432/app"
        );
        assert_eq!(
            without_password("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(
            without_password("sqlite://billing-api.db"),
            "sqlite://billing-api.db"
        );
        assert_eq!(
            without_password("redis://:pw@localhost:6379"),
            "redis://:…@localhost:6379"
        );
    }

    async fn sqlite() -> Db {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.migrate().await.unwrap();
        db
    }

    #[tokio::test]
    async fn tenants_round_trip_and_older_events_do_not_win() {
        let db = sqlite().await;
        let tenant = db
            .create_tenant("tn_1", "Acme", "ops@acme.test", 100)
            .await
            .unwrap();
        assert_eq!(tenant.plan, "free");
        assert_eq!(tenant.subscription_status, "none");
        assert_eq!(db.tenant("tn_1").await.unwrap(), Some(tenant));

        let pro = BillingState {
            plan: "pro".into(),
            subscription_status: "active".into(),
            stripe_customer_id: Some("cus_1".into()),
            past_due_since: None,
        };
        let subscription = SubscriptionRow {
            id: "sub_1".into(),
            customer_id: Some("cus_1".into()),
            price_id: Some("price_pro".into()),
            plan: "pro".into(),
            status: "active".into(),
            current_period_end: Some(2_000),
        };
        assert!(
            db.update_billing("tn_1", &pro, Some(&subscription), 200, 201)
                .await
                .unwrap()
        );
        let free = BillingState {
            plan: "free".into(),
            subscription_status: "canceled".into(),
            stripe_customer_id: None,
            past_due_since: None,
        };
        assert!(
            !db.update_billing("tn_1", &free, None, 150, 202)
                .await
                .unwrap()
        );
        let tenant = db.tenant("tn_1").await.unwrap().unwrap();
        assert_eq!(tenant.plan, "pro");
        assert_eq!(tenant.stripe_customer_id.as_deref(), Some("cus_1"));
        assert_eq!(
            db.tenant_by_customer("cus_1").await.unwrap().unwrap().id,
            "tn_1"
        );
        assert_eq!(
            db.tenant_by_subscription("sub_1")
                .await
                .unwrap()
                .unwrap()
                .id,
            "tn_1"
        );
        assert_eq!(db.subscriptions("tn_1").await.unwrap(), [subscription]);
    }
}
