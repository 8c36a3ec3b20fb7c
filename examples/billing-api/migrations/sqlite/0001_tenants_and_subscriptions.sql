-- The example's own tables; the API keys live in `portcullis_api_keys`, which the
-- portcullis-api-keys SQLite store creates and migrates itself.
CREATE TABLE IF NOT EXISTS tenants (
    id                  TEXT    NOT NULL PRIMARY KEY,
    name                TEXT    NOT NULL,
    email               TEXT    NOT NULL,
    -- The plan the tenant pays for (free, starter, pro, enterprise, or a plan of --plans).
    plan                TEXT    NOT NULL DEFAULT 'free',
    -- none, active, trialing, past_due, canceled, unpaid, ...
    subscription_status TEXT    NOT NULL DEFAULT 'none',
    stripe_customer_id  TEXT    UNIQUE,
    -- Unix seconds of the first failed payment while past_due (the grace period's start).
    past_due_since      INTEGER,
    -- `created` of the last Stripe event applied, so an older event never undoes a newer one.
    billing_event_at    INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS subscriptions (
    id                 TEXT    NOT NULL PRIMARY KEY,
    tenant_id          TEXT    NOT NULL REFERENCES tenants (id),
    customer_id        TEXT,
    price_id           TEXT,
    plan               TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    current_period_end INTEGER,
    updated_at         INTEGER NOT NULL
) STRICT;

CREATE INDEX IF NOT EXISTS subscriptions_tenant ON subscriptions (tenant_id);
