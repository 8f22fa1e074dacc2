-- The second step of a sign-in (src/mfa/challenge.rs): after the right password, a user with
-- a second factor gets a single-use, short-lived token (the login page's hidden field, or
-- the JSON exchange's mfa_token), stored only as its SHA-256 digest, bound to the user and
-- to the surface that issued it.
CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    surface    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX mfa_challenges_expires ON mfa_challenges (expires_at);
