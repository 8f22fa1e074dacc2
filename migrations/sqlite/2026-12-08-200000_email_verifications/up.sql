-- Email verification links (src/accounts/email.rs): the token only as its SHA-256 digest,
-- bound to the address it was sent to, so a link proves only that address. A link ends when
-- it is used, when a newer one is issued for its user (voided), when the user's address
-- changes, or at expires_at; housekeeping deletes it after that.
CREATE TABLE email_verifications (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    voided_at  BIGINT
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);
CREATE INDEX email_verifications_expires ON email_verifications (expires_at);
