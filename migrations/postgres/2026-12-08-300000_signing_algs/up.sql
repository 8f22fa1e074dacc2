-- Signing algorithms (issue 26): each key has its algorithm, and each algorithm its own line
-- of current, next and standby keys. RSA keys keep their modulus and exponent in public_n and
-- public_e; curve keys have their JWK coordinates in public_x (and public_y for P-256) and
-- empty public_n and public_e.
ALTER TABLE signing_keys ADD COLUMN alg TEXT NOT NULL DEFAULT 'RS256'
    CHECK (alg IN ('RS256', 'ES256', 'EdDSA'));
ALTER TABLE signing_keys ADD COLUMN public_x TEXT;
ALTER TABLE signing_keys ADD COLUMN public_y TEXT;
DROP INDEX signing_keys_one_current;
DROP INDEX signing_keys_one_next;
DROP INDEX signing_keys_one_standby;
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (alg) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE state = 'next';
CREATE UNIQUE INDEX signing_keys_one_standby ON signing_keys (alg) WHERE state = 'standby';

-- What a client's tokens are signed with: access and refresh tokens (NULL: ACCESS_TOKEN_ALG)
-- and id_tokens (OpenID Connect Dynamic Client Registration's id_token_signed_response_alg).
ALTER TABLE clients ADD COLUMN access_token_alg TEXT
    CHECK (access_token_alg IN ('RS256', 'ES256', 'EdDSA'));
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256'
    CHECK (id_token_alg IN ('RS256', 'ES256', 'EdDSA'));
