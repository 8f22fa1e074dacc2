ALTER TABLE refresh_tokens DROP COLUMN kid;
DELETE FROM signing_keys WHERE state = 'standby';
CREATE TABLE signing_keys_old (
    kid            TEXT PRIMARY KEY NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired', 'revoked')),
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
INSERT INTO signing_keys_old
    SELECT kid, state, bits, public_n, public_e, private_sealed, master_key_id, created_at,
           activated_at, retired_at, remove_after, revoked_at
    FROM signing_keys;
DROP TABLE signing_keys;
ALTER TABLE signing_keys_old RENAME TO signing_keys;
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';
