-- A third key waits to sign: the standby key, the next key's successor (src/keys/lifecycle.rs).
-- At most one, like the next key. The server generates it at its first start after this.
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_state_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_state_check
    CHECK (state IN ('standby', 'next', 'current', 'retired', 'revoked'));
CREATE UNIQUE INDEX signing_keys_one_standby ON signing_keys (state) WHERE state = 'standby';

-- The key that signed each refresh token, so that revoking a key ends its families.
ALTER TABLE refresh_tokens ADD COLUMN kid TEXT;
