-- The admin lists are read a page at a time in username / client id order, after a cursor and
-- within a prefix's range (src/paging.rs). Those comparisons must be by code point, as on
-- SQLite: under a language collation (en_US…) a prefix's strings are not one range of the
-- index. Changing a column's collation rebuilds its indexes, not the table.
ALTER TABLE users ALTER COLUMN username TYPE TEXT COLLATE "C";
ALTER TABLE users ALTER COLUMN email TYPE TEXT COLLATE "C";
ALTER TABLE clients ALTER COLUMN id TYPE TEXT COLLATE "C";
-- The user search matches an email prefix too.
CREATE INDEX users_email ON users (email);
