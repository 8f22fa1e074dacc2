-- Timestamps are unix seconds (BIGINT) so both backends share one code path.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
    username       TEXT NOT NULL UNIQUE,
    email          TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash  TEXT NOT NULL,
    is_admin       BOOLEAN NOT NULL DEFAULT FALSE,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    legacy_id      TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY NOT NULL,
    secret_hash               TEXT,
    is_public                 BOOLEAN NOT NULL,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grants                    TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    consent                   BOOLEAN NOT NULL DEFAULT FALSE,
    disabled                  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired', 'revoked')),
    bits           INTEGER NOT NULL,
    public_n       TEXT NOT NULL,
    public_e       TEXT NOT NULL,
    private_sealed BYTEA NOT NULL,
    master_key_id  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    retired_at     BIGINT,
    remove_after   BIGINT,
    revoked_at     BIGINT
);
-- Exactly one current key and at most one next key, enforced by the database.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';

CREATE TABLE refresh_families (
    id          TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    revoked_why TEXT
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

CREATE TABLE refresh_tokens (
    jti_hash         TEXT PRIMARY KEY NOT NULL,
    family_id        TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    issued_at        BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    spent_at         BIGINT,
    successor_hash   TEXT,
    successor_sealed BYTEA
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Access tokens are stateless; this list only serves /introspect and /userinfo (RFC 7009).
CREATE TABLE revoked_access_tokens (
    jti_hash   TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);

-- The built-in client behind the simplejwt-compatible /api/token/ endpoints.
INSERT INTO clients (id, secret_hash, is_public, redirect_uris, post_logout_redirect_uris, grants, scopes, consent, disabled, created_at)
VALUES ('simplejwt', NULL, TRUE, '[]', '[]', 'password refresh_token', 'openid profile email', FALSE, FALSE, 0);

-- The row every key rotation locks (SELECT ... FOR UPDATE) so rotations serialise.
INSERT INTO meta (name, value) VALUES ('key_rotation_lock', '');
