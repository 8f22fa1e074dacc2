-- A second factor required by policy (src/sso/step_up.rs): of one user
-- (`gatehouse user require-mfa`), or of everyone who signs in to one client
-- (`client require-mfa`, the admin API, CLIENTS_FILE's require_mfa).
ALTER TABLE users ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
