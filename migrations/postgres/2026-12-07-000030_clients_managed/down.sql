ALTER TABLE clients DROP COLUMN managed;
