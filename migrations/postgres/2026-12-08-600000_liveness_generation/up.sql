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

CREATE FUNCTION bump_liveness_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE liveness_generation SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_liveness_changed AFTER UPDATE OF disabled, id ON users FOR EACH ROW
    WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION bump_liveness_generation();
CREATE TRIGGER users_liveness_deleted AFTER DELETE ON users FOR EACH STATEMENT
    EXECUTE FUNCTION bump_liveness_generation();
CREATE TRIGGER clients_liveness_changed AFTER UPDATE OF disabled, id ON clients FOR EACH ROW
    WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION bump_liveness_generation();
CREATE TRIGGER clients_liveness_deleted AFTER DELETE ON clients FOR EACH STATEMENT
    EXECUTE FUNCTION bump_liveness_generation();
