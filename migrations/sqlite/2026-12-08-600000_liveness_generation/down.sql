DROP TRIGGER clients_liveness_deleted;
DROP TRIGGER clients_liveness_changed;
DROP TRIGGER users_liveness_deleted;
DROP TRIGGER users_liveness_changed;
DROP TABLE liveness_generation;
