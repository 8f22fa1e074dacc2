ALTER TABLE login_throttle DROP COLUMN pending;
ALTER TABLE clients DROP COLUMN introspect_any;
DROP INDEX refresh_tokens_access;
ALTER TABLE refresh_tokens DROP COLUMN access_jti_hash;
