ALTER TABLE refresh_tokens DROP COLUMN kid;
DROP INDEX signing_keys_one_standby;
DELETE FROM signing_keys WHERE state = 'standby';
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_state_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_state_check
    CHECK (state IN ('next', 'current', 'retired', 'revoked'));
