-- A third key waits to sign: the standby key, the next key's successor (src/keys/lifecycle.rs).
-- At most one, like the next key. The server generates it at its first start after this.
-- SQLite cannot change a CHECK constraint: the table is rebuilt (nothing references it).
CREATE TABLE signing_keys_new (
    kid            TEXT PRIMARY KEY NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('standby', 'next', 'current', 'retired', 'revoked')),
    bits           INTEGER NOT NULL,
    public_n       TEXT NOT NULL,
    public_e       TEXT NOT NULL,
    private_sealed BLOB NOT NULL,
    master_key_id  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    retired_at     BIGINT,
    remove_after   BIGINT,
    revoked_at     BIGINT
);
INSERT INTO signing_keys_new
    SELECT kid, state, bits, public_n, public_e, private_sealed, master_key_id, created_at,
           activated_at, retired_at, remove_after, revoked_at
    FROM signing_keys;
DROP TABLE signing_keys;
ALTER TABLE signing_keys_new RENAME TO signing_keys;
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';
CREATE UNIQUE INDEX signing_keys_one_standby ON signing_keys (state) WHERE state = 'standby';

-- The key that signed each refresh token, so that revoking a key ends its families.
ALTER TABLE refresh_tokens ADD COLUMN kid TEXT;
