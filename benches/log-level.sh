#!/usr/bin/env bash
# benches/log-level.sh [--rounds N] [--duration S] [--bin PATH] [--old PATH]
#
# What the request log costs the JWKS (issue 22): Gatehouse on SQLite at the default log level
# (one line per request, to a file, as compare.sh runs it), the same with GATEHOUSE_LOG=warn,
# and nginx serving the very same bytes (the peers' start-nginx-jwks.sh), one after another;
# N rounds (default 3), the order reversed every other round. Each server on core 0, wrk on
# core 1 through the harness's bench.sh (64 connections, S seconds, default 10). JSON lines
# on stdout with "server" and "round" added; the medians go into BENCHMARKS.md by hand.
# --old PATH: an A/B in the same sitting; every round also runs that binary at both levels
# (servers "gatehouse-old-log-default" and "gatehouse-old-log-warn").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=3 DURATION=10 BIN=$ROOT/target/release/gatehouse OLD=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2;;
    --duration) DURATION=$2; shift 2;;
    --bin) BIN=$2; shift 2;;
    --old) OLD=$2; shift 2;;
    *) sed -n '2,/^set -euo/{/^#/p}' "$0" >&2; exit 2;;
  esac
done
[ -x "$BIN" ] || { echo "build first: cargo build --release ($BIN missing)" >&2; exit 1; }
WORK=${BENCH_WORKDIR:-/tmp/gatehouse-bench}/log-level
rm -rf "$WORK"; mkdir -p "$WORK"
cp -r "$ROOT/benches/harness" "$WORK/harness"
cp -r "${PEERS:-$ROOT/../shared/peers}" "$WORK/peers"; chmod -R u+w "$WORK/peers"

PORT=18010 G=http://127.0.0.1:18010 C=http://127.0.0.1:18003
export GATEHOUSE_BIND=127.0.0.1:$PORT GATEHOUSE_DATABASE_URL=sqlite://$WORK/gatehouse.db
export GATEHOUSE_MASTER_KEY_FILE=$WORK/master.key
unset GATEHOUSE_LOG
. "$ROOT/benches/rss.sh"  # cpu_ticks
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; (cd "$WORK/peers" && ./stop-peer.sh nginx-jwks >/dev/null 2>&1) || true' EXIT

# gatehouse LOG [BINARY]: serve with GATEHOUSE_LOG=LOG ("default": unset), logging to a file.
gatehouse() {
  local log=$1 bin=${2:-$BIN} name=${3:-$1}
  # Each binary on its own database: an older one refuses a database a newer one migrated.
  local GATEHOUSE_DATABASE_URL=$GATEHOUSE_DATABASE_URL
  [ "$bin" = "$BIN" ] || GATEHOUSE_DATABASE_URL=sqlite://$WORK/gatehouse-old.db
  if [ "$log" = default ]; then
    taskset -c 0 "$bin" serve >>"$WORK/serve-$name.log" 2>&1 &
  else
    GATEHOUSE_LOG=$log taskset -c 0 "$bin" serve >>"$WORK/serve-$name.log" 2>&1 &
  fi
  PID=$!
  for _ in $(seq 1 150); do curl -fs -o /dev/null "$G/readyz" && return 0; sleep 0.2; done
  echo "gatehouse did not start" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
# load SERVER ROUND URL [PID]: one run; with PID, that process's CPU time during it too
# ("cpu_us_per_request": less sensitive than the rate to other work on the core).
load() {
  local server=$1 round=$2 url=$3 pid=${4:-} t0="" ticks="" out
  [ -n "$pid" ] && t0=$(cpu_ticks "$pid")
  out=$(cd "$WORK/harness" && ./bench.sh jwks "$url" --connections 64 --duration "$DURATION" \
    --cpu 1 2>>"$WORK/wrk.log")
  [ -n "$t0" ] && ticks=$(( $(cpu_ticks "$pid") - t0 ))
  echo "$out" | python3 -c 'import json,os,sys
for l in sys.stdin:
    d = json.loads(l); d.update(server=sys.argv[1], round=int(sys.argv[2]))
    if sys.argv[3]:
        cpu = int(sys.argv[3]) / os.sysconf("SC_CLK_TCK"); d["cpu_s"] = cpu
        if d.get("requests"): d["cpu_us_per_request"] = round(cpu * 1e6 / d["requests"], 2)
    print(json.dumps(d))' "$server" "$round" "$ticks"
}
run() {
  local what=$1 round=$2
  case $what in
    nginx)
      (cd "$WORK/peers" && JWKS_FILE=$WORK/jwks.json CPU=0 ./start-nginx-jwks.sh >&2)
      load nginx-jwks "$round" "$C"
      (cd "$WORK/peers" && ./stop-peer.sh nginx-jwks >&2);;
    old-*) gatehouse "${what#old-}" "$OLD" "$what"
      load "gatehouse-old-log-${what#old-}" "$round" "$G" "$PID"; stop;;
    *) gatehouse "$what"; load "gatehouse-log-$what" "$round" "$G" "$PID"; stop;;
  esac
}

# nginx serves the very bytes Gatehouse serves.
gatehouse warn; curl -fs "$G/.well-known/jwks.json" > "$WORK/jwks.json"; stop
for r in $(seq 1 "$ROUNDS"); do
  if [ -n "$OLD" ]; then
    if [ $((r % 2)) -eq 1 ]; then order="old-default default old-warn warn nginx"
    else order="nginx warn old-warn default old-default"; fi
  elif [ $((r % 2)) -eq 1 ]; then order="default warn nginx"; else order="nginx warn default"; fi
  for what in $order; do run "$what" "$r"; done
done
