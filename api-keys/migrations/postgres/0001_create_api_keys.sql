-- portcullis-api-keys, PostgreSQL: one row per key, never the key itself.
--
-- Times are microseconds since the Unix epoch (BIGINT); the hash is its algorithm
-- (`sha256`, `hmac-sha256.<pepper version>`) and its 32-byte digest, unique together;
-- scopes are space-separated; metadata is a JSON object. Ids and tenants use the "C"
-- collation: listing orders ids in byte order, whatever the database's locale.
-- The store maps a violation of `portcullis_api_keys_pkey` to a duplicate id and of
-- `portcullis_api_keys_hash_key` to a duplicate hash: keep these names.
-- Idempotent, so it may also be run by hand or copied into your own migrations.

CREATE TABLE IF NOT EXISTS portcullis_api_keys (
    id             TEXT COLLATE "C" NOT NULL,
    tenant         TEXT COLLATE "C" NOT NULL,
    name           TEXT   NOT NULL,
    hash_algorithm TEXT COLLATE "C" NOT NULL,
    hash_digest    BYTEA  NOT NULL,
    masked         TEXT   NOT NULL,
    scopes         TEXT   NOT NULL,
    plan           TEXT,
    metadata       JSONB  NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    revoked_at     BIGINT,
    last_used_at   BIGINT,
    CONSTRAINT portcullis_api_keys_pkey PRIMARY KEY (id),
    -- The verification lookup: one key by its hash.
    CONSTRAINT portcullis_api_keys_hash_key UNIQUE (hash_algorithm, hash_digest)
);

-- A tenant's keys in listing order.
CREATE INDEX IF NOT EXISTS portcullis_api_keys_tenant_idx
    ON portcullis_api_keys (tenant, created_at, id);
