#!/usr/bin/env bash
# benches/seed-scale.sh DATABASE_URL [USERS]
#
# Fills a migrated Gatehouse database for the "scale" benchmark: USERS (default 1,000,000)
# users scale-user-N and, for each, one refresh family with one live refresh record (valid
# for a day). Bulk INSERT … SELECT over a generated series, in one transaction per table, so
# it takes seconds to minutes, not a million argon2 hashes: every user gets the password hash
# of the existing user `bench` (created by benches/compare.sh), i.e. the password
# bench-password-1. Does nothing when the users are already there.
#
# DATABASE_URL: sqlite://PATH (needs the sqlite3 CLI) or postgres://… (needs psql).
set -euo pipefail
URL=${1:?usage: $0 DATABASE_URL [USERS]}
N=${2:-1000000}

case $URL in
  sqlite://*)
    DB=${URL#sqlite://}
    run() { sqlite3 -bail "$DB"; }
    NOW="CAST(strftime('%s','now') AS INTEGER)"
    SERIES="WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $N)"
    FROM_SERIES="FROM s"
    HEX8="printf('%08x', i)" HEX12="printf('%012x', i)" PAD59="printf('%059d', i)"
    FALSE=0
    ;;
  postgres://*|postgresql://*)
    run() { psql -qtA -v ON_ERROR_STOP=1 "$URL"; }
    NOW="CAST(extract(epoch FROM now()) AS BIGINT)"
    SERIES=""
    FROM_SERIES="FROM generate_series(1, $N) AS s(i)"
    HEX8="lpad(to_hex(i), 8, '0')" HEX12="lpad(to_hex(i), 12, '0')" PAD59="lpad(i::text, 59, '0')"
    FALSE=false
    ;;
  *) echo "not a database URL: $URL" >&2; exit 2;;
esac

have=$(echo "SELECT count(*) FROM users WHERE username = 'scale-user-$N';" | run | tr -dc 0-9)
if [ "${have:-0}" != 0 ]; then
  echo "seed-scale: $N users already seeded" >&2
  exit 0
fi
bench=$(echo "SELECT count(*) FROM users WHERE username = 'bench';" | run | tr -dc 0-9)
[ "${bench:-0}" = 1 ] || { echo "seed-scale: create the user bench first (its hash is reused)" >&2; exit 1; }

# A UUID-shaped id per user (the sub of its tokens), unique by N.
UID_EXPR="$HEX8 || '-5ca1-4e00-8000-' || $HEX12"
started=$(date +%s)
run <<SQL
BEGIN;
$SERIES
INSERT INTO users (id, username, email, email_verified, password_hash, is_admin, disabled,
                   legacy_id, created_at, updated_at)
SELECT $UID_EXPR, 'scale-user-' || i, NULL, $FALSE,
       (SELECT password_hash FROM users WHERE username = 'bench'), $FALSE, $FALSE, NULL, $NOW, $NOW
$FROM_SERIES;
COMMIT;
BEGIN;
$SERIES
INSERT INTO refresh_families (id, client_id, user_id, created_at, expires_at)
SELECT 'scale-family-' || i, 'simplejwt', $UID_EXPR, $NOW, $NOW + 30 * 86400
$FROM_SERIES;
COMMIT;
BEGIN;
$SERIES
INSERT INTO refresh_tokens (jti_hash, family_id, issued_at, expires_at, access_jti_hash)
SELECT 'scale' || $PAD59, 'scale-family-' || i, $NOW, $NOW + 86400, 'scale-at' || $PAD59
$FROM_SERIES;
COMMIT;
SQL
case $URL in
  postgres*) echo "ANALYZE users; ANALYZE refresh_families; ANALYZE refresh_tokens;" | run;;
  sqlite*) echo "ANALYZE;" | run;;
esac
echo "seed-scale: $N users, families and refresh records in $(( $(date +%s) - started ))s" >&2
