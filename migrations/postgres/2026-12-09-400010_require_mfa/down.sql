ALTER TABLE clients DROP COLUMN require_mfa;
ALTER TABLE users DROP COLUMN require_mfa;
