-- Admin actions and security events: who did what, from where, with what outcome. Never a
-- secret: no password, token, client secret or key material is ever written here.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    actor       TEXT,
    subject     TEXT,
    client_addr TEXT,
    request_id  TEXT,
    detail      TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_kind_at ON audit_log (kind, at);
