-- The outbox (src/outbox/): everything Gatehouse sends out, written in the transaction that
-- causes it and delivered by a background task of any instance. `id` orders the messages of
-- one `ordering_key`: a message waits while an earlier one of its key is pending. A claim
-- (`claimed_by`, `claimed_until`) is a lease, so a crashed instance's claim expires.
-- `last_error` never holds a secret; housekeeping deletes finished rows after a while.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,
    destination     TEXT NOT NULL,
    payload         TEXT NOT NULL,
    ordering_key    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'pending',
    claimed_by      TEXT,
    claimed_until   BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT,
    failed_at       BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_ordering ON outbox (ordering_key, id);
