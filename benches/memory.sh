#!/usr/bin/env bash
# benches/memory.sh [--bin PATH] [--database sqlite|postgres] [--connections N] [--duration S]
#
# Resident memory of Gatehouse through a login burst: the server pinned to core 0 (so one
# HTTP worker and HASH_WORKERS=1 by default), wrk on core 1 POSTing /api/token/ (the
# harness's login scenario, benches/harness) for S seconds (10) at N connections (64).
# VmRSS is sampled from /proc/PID/status every 100 ms. Prints the figures: idle after start,
# the peak, at the end of the burst, and 5, 30 and 60 s after it, with the thread count and,
# at start and 60 s after, the anonymous / file-backed split.
# Environment such as MALLOC_ARENA_MAX passes through to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. "$ROOT/benches/rss.sh"
BIN=$ROOT/target/release/gatehouse DB=postgres CONNS=64 DURATION=10
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2;;
    --database) DB=$2; shift 2;;
    --connections) CONNS=$2; shift 2;;
    --duration) DURATION=$2; shift 2;;
    *) sed -n '2,10p' "$0" >&2; exit 2;;
  esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 1; }
if [ "$(nproc)" -ge 2 ]; then LOAD_CPU=1; else LOAD_CPU=0; fi
WORK=$(mktemp -d /tmp/gatehouse-memory.XXXXXX)
PORT=18020 PID="" SAMPLER_PID="" NAME=gatehouse_memory_$$
export GATEHOUSE_MASTER_KEY_FILE=$WORK/master.key GATEHOUSE_BIND=127.0.0.1:$PORT GATEHOUSE_LOG=warn
export PGOPTIONS='-c client_min_messages=warning'
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  [ -n "$PID" ] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; }
  if [ "$DB" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ "$DB" = postgres ]; then
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $NAME"
  export GATEHOUSE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$NAME
else
  export GATEHOUSE_DATABASE_URL=sqlite://$WORK/gatehouse.db
fi
echo bench-password-1 | "$BIN" user add bench --password-stdin >/dev/null
taskset -c 0 "$BIN" serve > "$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 1 150); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.2; done
sleep 2
mb() { awk "/^$1:/ {print int(\$2 / 1024)}" "/proc/$PID/status"; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$PID/status"; }
# The resident memory's split: anonymous (the heap, stacks) and file-backed (the binary's
# and the libraries' pages, which the kernel can drop and read again).
split() { echo "anon $(mb RssAnon) MB, file $(mb RssFile) MB"; }
echo "idle after start: $(mb VmRSS) MB ($(split)), $(threads) threads"
start_sampler "$WORK/peak" "$PID"
cp -r "$ROOT/benches/harness" "$WORK/harness"
(cd "$WORK/harness" && ./bench.sh login "http://127.0.0.1:$PORT" --connections "$CONNS" \
  --duration "$DURATION" --cpu "$LOAD_CPU" 2>"$WORK/wrk.log")
echo "end of the burst: $(mb VmRSS) MB, $(threads) threads"
sleep 5;  echo "5 s after: $(mb VmRSS) MB"
sleep 25; echo "30 s after: $(mb VmRSS) MB, $(threads) threads"
sleep 30; echo "60 s after: $(mb VmRSS) MB ($(split)), $(threads) threads"
echo "peak (sampled): $(( $(cat "$WORK/peak") / 1024 )) MB; VmHWM: $(mb VmHWM) MB"
