-- Single logout (src/sso/backchannel/): the clients each session signed in to (with the
-- session's `sid`, which went into their id_tokens), and where a client wants to hear that
-- a session ended. A separate table from `clients` so registration stays optional.
CREATE TABLE session_clients (
    sid        TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    first_at   BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX session_clients_client ON session_clients (client_id);

CREATE TABLE client_logout (
    client_id                       TEXT PRIMARY KEY NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    backchannel_logout_uri          TEXT,
    backchannel_session_required    BOOLEAN NOT NULL DEFAULT FALSE,
    frontchannel_logout_uri         TEXT,
    frontchannel_session_required   BOOLEAN NOT NULL DEFAULT FALSE
);
