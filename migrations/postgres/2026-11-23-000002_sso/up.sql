-- Browser single sign-on: sessions, authorization codes, consents, login throttling.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    sid        TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE auth_codes (
    code_hash         TEXT PRIMARY KEY NOT NULL,
    client_id         TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sid               TEXT NOT NULL,
    redirect_uri      TEXT NOT NULL,
    scope             TEXT NOT NULL,
    nonce             TEXT,
    code_challenge    TEXT,
    auth_time         BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    used_at           BIGINT,
    family_id         TEXT,
    access_jti_hash   TEXT,
    access_expires_at BIGINT
);

CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Failed logins per bucket ('user:NAME' or 'addr:IP') in a fixed window, shared by instances.
CREATE TABLE login_throttle (
    bucket       TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    failures     INTEGER NOT NULL
);
