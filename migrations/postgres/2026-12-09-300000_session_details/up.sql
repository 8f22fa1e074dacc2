-- What a user and an admin see of a session besides its times: when it was last used (moved
-- at most once a minute, by /authorize and the pages that read it), the address and a short
-- description of the browser it signed in from (never the raw User-Agent). NULL for the
-- sessions that started before.
ALTER TABLE sessions ADD COLUMN last_used_at BIGINT;
ALTER TABLE sessions ADD COLUMN address TEXT;
ALTER TABLE sessions ADD COLUMN browser TEXT;
