-- The user search of the admin lists matches an email prefix too (src/paging.rs); usernames
-- and client ids already have their unique indexes, in the binary (code point) order.
CREATE INDEX users_email ON users (email);
