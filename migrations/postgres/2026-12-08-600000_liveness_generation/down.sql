DROP TRIGGER clients_liveness_deleted ON clients;
DROP TRIGGER clients_liveness_changed ON clients;
DROP TRIGGER users_liveness_deleted ON users;
DROP TRIGGER users_liveness_changed ON users;
DROP FUNCTION bump_liveness_generation();
DROP TABLE liveness_generation;
