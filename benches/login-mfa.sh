#!/usr/bin/env bash
# benches/login-mfa.sh [--rounds N] [--users N] [--bin PATH]
#
# What a second factor costs a sign-in (issue 24): Gatehouse on SQLite (server on core 0),
# N users with an authenticator app and N without (default 64 each). Each round, in
# alternating order: every plain user signs in once through POST /api/token/, and every
# user with an app signs in once through POST /api/token/ (401 mfa_required) then POST
# /api/token/mfa/ with the current code (pyotp), 8 at a time from core 1. A code is spent
# once per user, so each round waits for a fresh 30 s step. JSON lines on stdout (per round
# and kind: sign-ins, seconds, sign-ins/s, p50/p99 ms per sign-in, the server's CPU ms per
# sign-in, which the password hash dominates); medians go into BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=3 USERS=64 BIN=$ROOT/target/release/gatehouse
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2;;
    --users) USERS=$2; shift 2;;
    --bin) BIN=$2; shift 2;;
    *) sed -n '2,/^set -euo/{/^#/p}' "$0" >&2; exit 2;;
  esac
done
[ -x "$BIN" ] || { echo "build first: cargo build --release ($BIN missing)" >&2; exit 1; }
PY=$ROOT/target/downstream-venv/bin/python
[ -x "$PY" ] || { echo "run tests/downstream/install.sh first (pyotp, requests)" >&2; exit 1; }
WORK=${BENCH_WORKDIR:-/tmp/gatehouse-bench}/login-mfa
rm -rf "$WORK"; mkdir -p "$WORK"
PORT=18030
export GATEHOUSE_BIND=127.0.0.1:$PORT GATEHOUSE_DATABASE_URL=sqlite://$WORK/gatehouse.db
export GATEHOUSE_MASTER_KEY_FILE=$WORK/master.key GATEHOUSE_ISSUER=http://127.0.0.1:$PORT
for i in $(seq 1 "$USERS"); do
  echo "bench-password-$i" | "$BIN" user add "plain$i" --password-stdin >/dev/null
  echo "bench-password-$i" | "$BIN" user add "totp$i" --password-stdin >/dev/null
done
taskset -c 0 "$BIN" serve >>"$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.2; done
taskset -c 1 "$PY" "$ROOT/benches/login_mfa.py" "http://127.0.0.1:$PORT" "$USERS" "$ROUNDS" "$PID"
