-- portcullis-api-keys, SQLite: one row per key, never the key itself.
--
-- Times are microseconds since the Unix epoch (SQLite's 64-bit INTEGER); the hash is
-- its algorithm (`sha256`, `hmac-sha256.<pepper version>`) and its 32-byte digest,
-- unique together; scopes are space-separated; metadata is a JSON object as text.
-- Text compares in byte order (SQLite's BINARY collation), as listing needs.
-- Idempotent, so it may also be run by hand or copied into your own migrations.

CREATE TABLE IF NOT EXISTS portcullis_api_keys (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant         TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    hash_algorithm TEXT    NOT NULL,
    hash_digest    BLOB    NOT NULL,
    masked         TEXT    NOT NULL,
    scopes         TEXT    NOT NULL,
    plan           TEXT,
    metadata       TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    revoked_at     INTEGER,
    last_used_at   INTEGER
) STRICT;

-- The verification lookup: one key by its hash.
CREATE UNIQUE INDEX IF NOT EXISTS portcullis_api_keys_hash_key
    ON portcullis_api_keys (hash_algorithm, hash_digest);

-- A tenant's keys in listing order.
CREATE INDEX IF NOT EXISTS portcullis_api_keys_tenant_idx
    ON portcullis_api_keys (tenant, created_at, id);
