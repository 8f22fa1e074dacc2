-- How each sign-in was made (src/assurance.rs), so tokens carry auth_time, amr (RFC 8176)
-- and acr: the session remembers its methods ("pwd", or "pwd otp mfa" after a second
-- factor); a code carries them from the session to its tokens, and a refresh family from
-- the sign-in that started it to every access token its refreshes issue. NULL: issued
-- before this migration (read as a password sign-in), or no user (client_credentials).
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE auth_codes ADD COLUMN amr TEXT;
ALTER TABLE refresh_families ADD COLUMN auth_time BIGINT;
ALTER TABLE refresh_families ADD COLUMN amr TEXT;
