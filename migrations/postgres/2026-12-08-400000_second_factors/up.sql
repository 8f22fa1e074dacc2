-- Second factors (src/mfa/). A user's TOTP secret, sealed under the master key like the
-- signing keys (context "totp:<user id>", the key's id beside it); confirmed_at stays NULL
-- until one valid code was entered, and last_step is the last 30-second step accepted, so
-- a code counts once (RFC 6238 §5.2).
CREATE TABLE totp_factors (
    user_id       TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed BYTEA NOT NULL,
    master_key_id TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT
);

-- Recovery codes: ten per user, single-use, only their SHA-256 digests; a new set replaces
-- the old one.
CREATE TABLE recovery_codes (
    code_hash  TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);
