#!/usr/bin/env bash
# benches/two-instances.sh [--bin PATH] [--rounds N] [--duration S] [--harness DIR]
#                          [--setups "direct nginx-1 nginx-2"] [--scenarios "refresh client_credentials"]
#
# Two Gatehouse instances on one PostgreSQL database behind nginx (deploy/nginx.conf, its
# placeholders filled in for loopback as tests/system/stack.rs does), against one instance
# direct and one instance behind the same nginx, in the same sitting, so that the cost of
# the proxy hop shows. Setups:
#   direct   instance A pinned to core 0; wrk on core 1 (as compare.sh)
#   nginx-1  instance A on core 0; nginx (both upstream lines pointing at A, its workers
#            pinned to core 1) and wrk share core 1
#   nginx-2  instance A on core 0, instance B on core 1; nginx and wrk unpinned: everything
#            shares both cores (and PostgreSQL, unpinned in every setup, shares them too)
# Scenarios: refresh and client_credentials at 64 connections (the harness's bench.sh).
# Every round runs every setup (the order alternates between rounds) on the same database.
# Output: bench.sh's JSON lines with "server":"gatehouse", "database":"postgres", "round"
# and "setup" added; wrk's output and the logs in $OUT_DIR (default: a new directory under
# /tmp/gatehouse-bench). compare.sh --two-instances calls it after its rounds.
# Needs: nginx, wrk, curl, python3, psql and PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$ROOT/target/release/gatehouse ROUNDS=3 DURATION=10 HARNESS=""
SETUPS="direct nginx-1 nginx-2" SCENARIOS="refresh client_credentials"
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2;;
    --rounds) ROUNDS=$2; shift 2;;
    --duration) DURATION=$2; shift 2;;
    --harness) HARNESS=$2; shift 2;;
    --setups) SETUPS=$2; shift 2;;
    --scenarios) SCENARIOS=$2; shift 2;;
    *) usage;;
  esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is missing (apt-get install nginx)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then echo "two-instances needs two cores" >&2; exit 1; fi
WORKDIR=${BENCH_WORKDIR:-/tmp/gatehouse-bench}
OUT_DIR=${OUT_DIR:-$WORKDIR/two-instances-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR"
if [ -z "$HARNESS" ]; then
  HARNESS=$OUT_DIR/harness
  rm -rf "$HARNESS"; cp -r "$ROOT/benches/harness" "$HARNESS"
fi

PORT_A=18041 PORT_B=18042 PORT_NGINX=18040
NAME=gatehouse_two_$$
export PGOPTIONS='-c client_min_messages=warning'
export GATEHOUSE_MASTER_KEY_FILE=$OUT_DIR/master.key
export GATEHOUSE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$NAME
# One issuer for every setup (the public address, nginx's), so tokens are alike everywhere.
export GATEHOUSE_ISSUER=http://127.0.0.1:$PORT_NGINX GATEHOUSE_TRUSTED_PROXIES=127.0.0.1
export GATEHOUSE_LOG=warn
PID_A="" PID_B="" PID_NGINX="" PG_CREATED=0

stop_pid() {
  if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi
}
stop_all() {
  stop_pid "$PID_NGINX"; stop_pid "$PID_A"; stop_pid "$PID_B"
  PID_NGINX="" PID_A="" PID_B=""
}
cleanup() {
  stop_all
  if [ "$PG_CREATED" = 1 ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null || true
  fi
}
trap cleanup EXIT

wait_ok() {  # wait_ok URL LOG: until URL answers 200
  for _ in $(seq 1 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "$1 did not answer" >&2; cat "$2" >&2; exit 1
}
# start_instance PORT CPU: sets STARTED to its pid.
start_instance() {
  if curl -fs -o /dev/null "http://127.0.0.1:$1/readyz"; then
    echo "port $1 is already taken by a server" >&2; exit 1
  fi
  GATEHOUSE_BIND=127.0.0.1:$1 taskset -c "$2" "$BIN" serve >>"$OUT_DIR/gatehouse-$1.log" 2>&1 &
  STARTED=$!
  wait_ok "http://127.0.0.1:$1/readyz" "$OUT_DIR/gatehouse-$1.log"
}
# start_nginx UPSTREAM_A UPSTREAM_B CPUS: deploy/nginx.conf for loopback, nginx pinned to CPUS.
start_nginx() {
  local dir=$OUT_DIR/nginx
  rm -rf "$dir"; mkdir -p "$dir/logs"
  sed -e "s/\${LISTEN}/127.0.0.1:$PORT_NGINX/" -e "s/\${GATEHOUSE_A}/$1/" -e "s/\${GATEHOUSE_B}/$2/" \
    "$ROOT/deploy/nginx.conf" > "$dir/nginx.conf"
  if grep -q '\${' "$dir/nginx.conf"; then echo "a placeholder was left in nginx.conf" >&2; exit 1; fi
  # nginx started by root runs its workers as nobody: let them use the prefix.
  chmod -R a+rwX "$dir"
  taskset -c "$3" "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' 2>>"$dir/stderr.log" &
  PID_NGINX=$!
  wait_ok "http://127.0.0.1:$PORT_NGINX/healthz" "$dir/stderr.log"
}

# b ROUND SETUP URL LOAD_CPUS: the scenarios against URL, tagged.
b() {
  local round=$1 setup=$2 url=$3 cpus=$4 scenario
  for scenario in $SCENARIOS; do
    local extra=()
    [ "$scenario" = refresh ] && extra=(--pool-extra 8)
    [ "$scenario" = client_credentials ] && extra=(--path /token --client-id bench-cc --client-secret "$CC_SECRET")
    echo "+ [$setup round $round] bench.sh $scenario $url" >> "$OUT_DIR/wrk.log"
    (cd "$HARNESS" && ./bench.sh "$scenario" "$url" --connections 64 --duration "$DURATION" \
        --cpu "$cpus" "${extra[@]}" 2>>"$OUT_DIR/wrk.log") \
      | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d.update(server="gatehouse", database="postgres", round=int(sys.argv[1]), setup=sys.argv[2]); print(json.dumps(d))' "$round" "$setup"
    sleep 1
  done
}

run_setup() {
  local round=$1 setup=$2
  case $setup in
    direct)
      start_instance $PORT_A 0; PID_A=$STARTED
      b "$round" direct "http://127.0.0.1:$PORT_A" 1;;
    nginx-1)
      start_instance $PORT_A 0; PID_A=$STARTED
      start_nginx "127.0.0.1:$PORT_A" "127.0.0.1:$PORT_A" 1
      b "$round" nginx-1 "http://127.0.0.1:$PORT_NGINX" 1;;
    nginx-2)
      start_instance $PORT_A 0; PID_A=$STARTED
      start_instance $PORT_B 1; PID_B=$STARTED
      start_nginx "127.0.0.1:$PORT_A" "127.0.0.1:$PORT_B" 0,1
      b "$round" nginx-2 "http://127.0.0.1:$PORT_NGINX" 0,1;;
    *) echo "unknown setup $setup" >&2; exit 2;;
  esac
  stop_all
}

psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $NAME" >/dev/null
PG_CREATED=1
echo 'bench-password-1' | "$BIN" user add bench --password-stdin >/dev/null
CC_SECRET=$("$BIN" client add bench-cc --grant client_credentials --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
order=$SETUPS
reversed=$(echo "$SETUPS" | tr ' ' '\n' | tac | tr '\n' ' ')
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then list=$order; else list=$reversed; fi
  for setup in $list; do run_setup "$r" "$setup"; done
done
