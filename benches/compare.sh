#!/usr/bin/env bash
# benches/compare.sh [--rounds N] [--duration S] [--database sqlite|postgres]
#
# Gatehouse against its peers with the very same requests, using the peer harness
# (PEERS, default ../shared/peers, copied to a writable place because it keeps its state
# under .work/). Each server runs pinned to core 0, wrk to core 1. Every round starts each
# server in turn (the order alternates between rounds), runs its scenarios, stops it; the
# medians over rounds go into BENCHMARKS.md by hand. Output: JSON lines on stdout, with a
# "server" and "round" field added; wrk's raw output in $OUT_DIR/wrk.log.
#
# Needs: a release build (cargo build --release), PostgreSQL on 127.0.0.1:5432, and the
# harness set up (its setup.sh: wrk, nginx, Django/simplejwt, node oidc-provider).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=3 DURATION=10 DATABASE=postgres
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2;;
    --duration) DURATION=$2; shift 2;;
    --database) DATABASE=$2; shift 2;;
    *) echo "usage: $0 [--rounds N] [--duration S] [--database sqlite|postgres]" >&2; exit 2;;
  esac
done

PEERS_SRC=${PEERS:-$ROOT/../shared/peers}
WORKDIR=${BENCH_WORKDIR:-/tmp/gatehouse-bench}
mkdir -p "$WORKDIR"
if [ ! -d "$WORKDIR/peers" ]; then cp -r "$PEERS_SRC" "$WORKDIR/peers"; fi
PEERS=$WORKDIR/peers
(cd "$PEERS" && ./setup.sh >&2)
OUT_DIR=$WORKDIR/results-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT_DIR"
BIN=$ROOT/target/release/gatehouse
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }

# Gatehouse's own data: a fresh database, master key, user bench and client bench-cc.
GH=$OUT_DIR/gatehouse
mkdir -p "$GH"
export GATEHOUSE_MASTER_KEY_FILE=$GH/master.key GATEHOUSE_BIND=127.0.0.1:18010 GATEHOUSE_LOG=warn
if [ "$DATABASE" = postgres ]; then
  DBNAME=gatehouse_bench_$$
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $DBNAME" >/dev/null
  export GATEHOUSE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DBNAME
else
  export GATEHOUSE_DATABASE_URL=sqlite://$GH/gatehouse.db
fi
echo 'bench-password-1' | "$BIN" user add bench --password-stdin >/dev/null
CC_SECRET=$("$BIN" client add bench-cc --grant client_credentials --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')

GH_PID=""
start_gatehouse() {
  taskset -c 0 "$BIN" serve >"$GH/serve.log" 2>&1 &
  GH_PID=$!
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null http://127.0.0.1:18010/readyz && return 0
    sleep 0.2
  done
  echo "gatehouse did not start" >&2; cat "$GH/serve.log" >&2; exit 1
}
stop_gatehouse() { kill "$GH_PID" 2>/dev/null || true; wait "$GH_PID" 2>/dev/null || true; GH_PID=""; }
cleanup() {
  [ -n "$GH_PID" ] && stop_gatehouse
  (cd "$PEERS" && for p in simplejwt oidc-provider nginx-jwks; do ./stop-peer.sh $p >/dev/null 2>&1 || true; done)
  if [ "$DATABASE" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" >/dev/null || true
  fi
}
trap cleanup EXIT

# b SERVER ROUND SCENARIO BASE [bench.sh options]: one measurement, tagged.
b() {
  local server=$1 round=$2; shift 2
  echo "+ [$server round $round] bench.sh $*" >> "$OUT_DIR/wrk.log"
  (cd "$PEERS" && ./bench.sh "$@" --duration "$DURATION" 2>>"$OUT_DIR/wrk.log") \
    | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["server"]=sys.argv[1]; d["round"]=int(sys.argv[2]); print(json.dumps(d))' "$server" "$round" \
    | tee -a "$OUT_DIR/results.jsonl"
  sleep 2
}

run_gatehouse() {
  local r=$1 G=http://127.0.0.1:18010
  start_gatehouse
  b gatehouse "$r" login   $G --connections 16
  b gatehouse "$r" login   $G --connections 64
  b gatehouse "$r" refresh $G --connections 64
  b gatehouse "$r" verify  $G --connections 64
  b gatehouse "$r" jwks    $G --connections 64
  b gatehouse "$r" client_credentials $G --path /token --connections 64 \
    --client-id bench-cc --client-secret "$CC_SECRET"
  stop_gatehouse
}
run_simplejwt() {
  local r=$1 A=http://127.0.0.1:18001
  (cd "$PEERS" && CPU=0 ./start-simplejwt.sh >&2)
  b simplejwt "$r" login   $A --connections 16
  b simplejwt "$r" login   $A --connections 64
  b simplejwt "$r" refresh $A --connections 64
  b simplejwt "$r" verify  $A --connections 64
  b simplejwt "$r" jwks    $A --connections 64
  (cd "$PEERS" && ./stop-peer.sh simplejwt >&2)
}
run_oidc_provider() {
  local r=$1 B=http://127.0.0.1:18002
  (cd "$PEERS" && CPU=0 ./start-oidc-provider.sh >&2)
  b oidc-provider "$r" client_credentials $B --path /token --connections 64
  b oidc-provider "$r" jwks $B --path /jwks --connections 64
  (cd "$PEERS" && ./stop-peer.sh oidc-provider >&2)
}
run_nginx() {
  local r=$1 C=http://127.0.0.1:18003
  # nginx serves the very bytes Gatehouse serves.
  start_gatehouse
  curl -fs http://127.0.0.1:18010/.well-known/jwks.json > "$GH/jwks.json"
  stop_gatehouse
  (cd "$PEERS" && JWKS_FILE=$GH/jwks.json CPU=0 ./start-nginx-jwks.sh >&2)
  b nginx-jwks "$r" jwks $C --connections 64
  (cd "$PEERS" && ./stop-peer.sh nginx-jwks >&2)
}

for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then
    run_gatehouse "$r"; run_simplejwt "$r"; run_oidc_provider "$r"; run_nginx "$r"
  else
    run_nginx "$r"; run_oidc_provider "$r"; run_simplejwt "$r"; run_gatehouse "$r"
  fi
done
(cd "$PEERS" && ./ceilings.sh 2>>"$OUT_DIR/wrk.log") | tee -a "$OUT_DIR/results.jsonl"
echo "results: $OUT_DIR/results.jsonl" >&2
