-- Imported users are found by the primary key they had in Django (gatehouse user import):
-- one user per legacy id, and no full scan per imported record.
CREATE UNIQUE INDEX users_legacy_id ON users (legacy_id);
