-- A client declared in CLIENTS_FILE: the file owns it, so the admin API, the console and the
-- CLI's one-client commands refuse to change it.
ALTER TABLE clients ADD COLUMN managed BOOLEAN NOT NULL DEFAULT FALSE;
