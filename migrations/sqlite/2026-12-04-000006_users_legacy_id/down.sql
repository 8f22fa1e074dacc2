DROP INDEX users_legacy_id;
