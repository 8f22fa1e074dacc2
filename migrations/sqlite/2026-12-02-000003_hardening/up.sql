-- The access token issued with each refresh token, so that revoking a family (reuse
-- detection) also refuses its access tokens at /userinfo, /introspect and verify.
ALTER TABLE refresh_tokens ADD COLUMN access_jti_hash TEXT;
CREATE INDEX refresh_tokens_access ON refresh_tokens (access_jti_hash);
-- A resource server registered to introspect tokens issued to other clients (RFC 7662 §4).
ALTER TABLE clients ADD COLUMN introspect_any BOOLEAN NOT NULL DEFAULT 0;
-- Attempts reserved in a failed-login window whose password is still being checked: they
-- count against the limit, so parallel guesses cannot overshoot it.
ALTER TABLE login_throttle ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
