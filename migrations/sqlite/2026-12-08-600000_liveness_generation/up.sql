-- The generation of users' and clients' liveness (src/db/repo/liveness.rs): one row, moved
-- in the same transaction as every change that can end a token's liveness (a user or client
-- disabled, enabled or deleted), by triggers, so no writer can forget it: this instance,
-- another one, the CLI or SQL by hand. The verify path keeps the enabled users and clients
-- it has seen in memory and drops them when it reads a generation other than theirs.
CREATE TABLE liveness_generation (
    id         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO liveness_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER users_liveness_changed AFTER UPDATE OF disabled, id ON users
WHEN OLD.disabled IS NOT NEW.disabled OR OLD.id IS NOT NEW.id
BEGIN
    UPDATE liveness_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER users_liveness_deleted AFTER DELETE ON users
BEGIN
    UPDATE liveness_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER clients_liveness_changed AFTER UPDATE OF disabled, id ON clients
WHEN OLD.disabled IS NOT NEW.disabled OR OLD.id IS NOT NEW.id
BEGIN
    UPDATE liveness_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER clients_liveness_deleted AFTER DELETE ON clients
BEGIN
    UPDATE liveness_generation SET generation = generation + 1 WHERE id = 1;
END;
