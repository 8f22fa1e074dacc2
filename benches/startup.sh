#!/usr/bin/env bash
# benches/startup.sh [--bin PATH] [--runs N] [--databases "sqlite postgres"] [--interval S]
#
# Start to ready with the signing keys present: for each database, prepares a data set
# (migrations, user bench, and one start that creates the keys), then N times (default 11)
# spawns `gatehouse serve` pinned to core 0 and polls GET /readyz with curl (on core 1) every
# S seconds (default 0.002) until the first 200. Prints, per database, every run's time from
# the spawn to that 200 in ms and their median, and one JSON line per database on stdout.
#
# The time is taken in bash ($EPOCHREALTIME) just before the spawn and just after the curl
# that got the 200 returned, so it includes that curl's own run (a few ms) and up to one
# polling interval plus one failing curl of lateness: read it as an upper bound.
# Needs a release build (cargo build --release) and, for postgres, PostgreSQL on
# 127.0.0.1:5432 (role postgres, trust).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$ROOT/target/release/gatehouse RUNS=11 DATABASES="sqlite postgres" INTERVAL=0.002
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    --databases|--database) DATABASES=$2; shift 2;;
    --interval) INTERVAL=$2; shift 2;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2;;
  esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 1; }
if [ "$(nproc)" -ge 2 ]; then SERVER_CPU=0 POLL_CPU=1; else SERVER_CPU=0 POLL_CPU=0; fi
WORK=$(mktemp -d /tmp/gatehouse-startup.XXXXXX)
PORT=18030 PID="" NAME=gatehouse_startup_$$ PG_CREATED=0
URL=http://127.0.0.1:$PORT/readyz
export GATEHOUSE_BIND=127.0.0.1:$PORT GATEHOUSE_LOG=warn
export PGOPTIONS='-c client_min_messages=warning'
cleanup() {
  [ -n "$PID" ] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; }
  if [ "$PG_CREATED" = 1 ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ready_ms: spawns the server, polls until /readyz answers 200, writes the milliseconds to
# $WORK/ms (not printed: a command substitution would run it in a subshell).
ready_ms() {
  local start end
  start=$EPOCHREALTIME
  taskset -c "$SERVER_CPU" "$BIN" serve >>"$WORK/serve.log" 2>&1 &
  PID=$!
  until taskset -c "$POLL_CPU" curl -fs -o /dev/null --max-time 1 "$URL"; do
    kill -0 "$PID" 2>/dev/null || { echo "gatehouse exited:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
    sleep "$INTERVAL"
  done
  end=$EPOCHREALTIME
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  python3 -c 'import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000, 1))' \
    "$start" "$end" > "$WORK/ms"
}

for db in $DATABASES; do
  export GATEHOUSE_MASTER_KEY_FILE=$WORK/$db.master.key
  if [ "$db" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $NAME"
    PG_CREATED=1
    export GATEHOUSE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$NAME
  else
    export GATEHOUSE_DATABASE_URL=sqlite://$WORK/gatehouse.db
  fi
  echo bench-password-1 | "$BIN" user add bench --password-stdin >/dev/null
  ready_ms  # the first start creates the signing keys; not counted
  times=()
  for _ in $(seq 1 "$RUNS"); do
    ready_ms
    times+=("$(cat "$WORK/ms")")
    sleep 0.3
  done
  echo "$db: ${times[*]} ms" >&2
  python3 -c '
import json, statistics, sys
t = [float(x) for x in sys.argv[3:]]
print(json.dumps({"scenario": "start-to-ready", "database": sys.argv[1], "runs": len(t),
                  "median_ms": round(statistics.median(t), 1), "min_ms": min(t), "max_ms": max(t),
                  "interval_s": float(sys.argv[2])}))' "$db" "$INTERVAL" "${times[@]}"
done
