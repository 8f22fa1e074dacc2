ALTER TABLE refresh_families DROP COLUMN amr;
ALTER TABLE refresh_families DROP COLUMN auth_time;
ALTER TABLE auth_codes DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN amr;
