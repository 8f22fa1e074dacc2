DROP INDEX refresh_tokens_sealed;
DROP INDEX login_throttle_window;
DROP INDEX sessions_expires;
DROP INDEX auth_codes_expires;
DROP INDEX revoked_access_tokens_expires;
DROP INDEX refresh_families_expires;
