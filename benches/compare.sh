#!/usr/bin/env bash
# benches/compare.sh [--rounds N] [--duration S] [--databases "sqlite postgres"] [--no-peers]
#                    [--bin PATH] [--scenarios "LIST"] [--idle S] [--scale] [--two-instances]
#                    [--smoke]
#
# Gatehouse against its peers with the very same requests, using the peer harness
# (PEERS, default ../shared/peers, copied to a writable place because it keeps its state
# under .work/). Each server runs pinned to core 0, wrk to core 1. Every round starts each
# server in turn (the order alternates between rounds), runs its scenarios, stops it;
# Gatehouse runs once per database of --databases (default: both). The medians over rounds
# go into BENCHMARKS.md by hand. Output: JSON lines on stdout, with "server", "database" and
# "round" added; wrk's raw output in $OUT_DIR/wrk.log.
#
# Scenarios: login (16 and 64 connections), refresh, verify, jwks, client_credentials, and
# mixed: a login flood at 16 connections (four times what the one hashing worker can take
# at once) while a second and third wrk (same core) run the JWKS and refresh at 4
# connections each, reporting their p99. Not 64: with the hashing threads at a lower
# priority, logins beside saturating JWKS and refresh runs come at 4-14/s, and 64 queued
# logins of the one benchmark user outwait the login throttle's 10 s queue (429).
# Gatehouse's resident memory is sampled (/proc/PID/status) during every scenario: "rss"
# lines give the peak and the value after it, plus the idle value one minute after the last
# scenario.
# --scenarios restricts Gatehouse's scenarios to LIST (default: all of login-16 login-64
# refresh verify jwks client_credentials mixed); --idle S waits S seconds (default 60; 0 skips)
# after the last scenario before the idle memory line.
# --scale seeds 1,000,000 users and 1,000,000 live refresh records (benches/seed-scale.sh)
# and runs login, refresh and verify again on that database.
#
# --two-instances: after the rounds, benches/two-instances.sh (same rounds and duration):
# refresh and client_credentials on PostgreSQL with one instance direct, one behind nginx
# (deploy/nginx.conf, which then shares wrk's core) and two behind nginx (everything sharing
# both cores); see its header. Needs nginx. Its lines carry "setup"; only with this flag.
#
# --smoke: Gatehouse only, one round of 1 s per scenario, no peers and no ceilings, refresh at
# 8 connections (its setup mints a token per connection by logging in), with the
# harness copy in benches/harness (so only wrk, curl, python3 and, for PostgreSQL,
# psql are needed). .ci/run calls it after the tests, so this script cannot rot.
#
# Needs: a release build (cargo build --release; --smoke falls back to target/debug),
# PostgreSQL on 127.0.0.1:5432 for the postgres runs, and for the full run the harness set up
# (its setup.sh: wrk, nginx, Django/simplejwt, node oidc-provider).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=3 DURATION=10 DATABASES="sqlite postgres" PEERS_ON=1 SMOKE=0 SCALE=0 BIN="" IDLE=60 TWO=0
REFRESH_CONNS=64
ALL_SCENARIOS="login-16 login-64 refresh verify jwks client_credentials mixed"
SCENARIOS=$ALL_SCENARIOS
usage() { sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2;;
    --duration) DURATION=$2; shift 2;;
    --databases|--database) DATABASES=$2; shift 2;;
    --no-peers) PEERS_ON=0; shift;;
    --bin) BIN=$2; shift 2;;
    --scenarios) SCENARIOS=$2; shift 2;;
    --idle) IDLE=$2; shift 2;;
    --scale) SCALE=1; shift;;
    --two-instances) TWO=1; shift;;
    --smoke) SMOKE=1; shift;;
    *) usage;;
  esac
done
if [ "$SMOKE" = 1 ]; then ROUNDS=1 DURATION=1 PEERS_ON=0 SCALE=0 IDLE=0 REFRESH_CONNS=8; fi
for s in $SCENARIOS; do
  case " $ALL_SCENARIOS " in *" $s "*) ;; *) echo "unknown scenario $s" >&2; usage;; esac
done
# wanted SCENARIO: whether Gatehouse runs it.
wanted() { case " $SCENARIOS " in *" $1 "*) return 0;; *) return 1;; esac; }

# One core for the server, the other for wrk; on a single core both share it.
if [ "$(nproc)" -ge 2 ]; then SERVER_CPU=0 LOAD_CPU=1; else SERVER_CPU=0 LOAD_CPU=0; fi

WORKDIR=${BENCH_WORKDIR:-/tmp/gatehouse-bench}
mkdir -p "$WORKDIR"
if [ "$PEERS_ON" = 1 ]; then
  PEERS_SRC=${PEERS:-$ROOT/../shared/peers}
  if [ ! -d "$WORKDIR/peers" ]; then cp -r "$PEERS_SRC" "$WORKDIR/peers"; chmod -R u+w "$WORKDIR/peers"; fi
  PEERS=$WORKDIR/peers
  (cd "$PEERS" && ./setup.sh >&2)
  HARNESS=$PEERS
else
  # The harness's load half, kept in the repository (benches/harness), copied like the peers'.
  rm -rf "$WORKDIR/harness"; cp -r "$ROOT/benches/harness" "$WORKDIR/harness"
  HARNESS=$WORKDIR/harness
fi
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
OUT_DIR=$WORKDIR/results-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT_DIR"
if [ -z "$BIN" ]; then
  BIN=$ROOT/target/release/gatehouse
  if [ "$SMOKE" = 1 ] && [ ! -x "$BIN" ]; then BIN=$ROOT/target/debug/gatehouse; fi
fi
[ -x "$BIN" ] || { echo "build first: cargo build --release ($BIN missing)" >&2; exit 1; }

PORT=18010 G=http://127.0.0.1:18010
export PGOPTIONS='-c client_min_messages=warning'  # no NOTICE from DROP … IF EXISTS
# The default log level (one line per request), as an operator runs it; GATEHOUSE_LOG in the
# caller's environment (e.g. warn) still applies. The log goes to a file per database.
export GATEHOUSE_BIND=127.0.0.1:$PORT
PG_DBS=()
GH_PID="" SAMPLER_PID=""

# setup_database DB: a fresh database, master key, user bench and client bench-cc; sets
# GH (its directory), CC_SECRET and the GATEHOUSE_* variables for it.
setup_database() {
  local db=$1
  GH=$OUT_DIR/gatehouse-$db
  mkdir -p "$GH"
  export GATEHOUSE_MASTER_KEY_FILE=$GH/master.key
  if [ "$db" = postgres ]; then
    local name=gatehouse_bench_$$
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $name" >/dev/null
    PG_DBS+=("$name")
    export GATEHOUSE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$name
  else
    export GATEHOUSE_DATABASE_URL=sqlite://$GH/gatehouse.db
  fi
  echo 'bench-password-1' | "$BIN" user add bench --password-stdin >/dev/null
  CC_SECRET=$("$BIN" client add bench-cc --grant client_credentials --json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
  echo "$db $GATEHOUSE_DATABASE_URL $GATEHOUSE_MASTER_KEY_FILE $CC_SECRET" > "$GH/env"
}
use_database() {
  local db=$1 url key secret
  read -r _ url key secret < "$OUT_DIR/gatehouse-$db/env"
  GH=$OUT_DIR/gatehouse-$db CC_SECRET=$secret
  export GATEHOUSE_DATABASE_URL=$url GATEHOUSE_MASTER_KEY_FILE=$key
}

start_gatehouse() {
  taskset -c "$SERVER_CPU" "$BIN" serve >>"$GH/serve.log" 2>&1 &
  GH_PID=$!
  for _ in $(seq 1 150); do
    curl -fs -o /dev/null "$G/readyz" && return 0
    sleep 0.2
  done
  echo "gatehouse did not start" >&2; cat "$GH/serve.log" >&2; exit 1
}
stop_gatehouse() { kill "$GH_PID" 2>/dev/null || true; wait "$GH_PID" 2>/dev/null || true; GH_PID=""; }

. "$ROOT/benches/rss.sh"
# rss_line DB ROUND SCENARIO PEAK_KB: one JSON line of memory figures.
# The round is a number, or a label such as "scale" (then quoted).
rss_line() {
  local round=$2
  [[ $round =~ ^[0-9]+$ ]] || round="\"$round\""
  printf '{"server":"gatehouse","database":"%s","round":%s,"scenario":"%s","rss_peak_mb":%s,"rss_after_mb":%s}\n' \
    "$1" "$round" "$3" "$(( ${4:-0} / 1024 ))" "$(( $(rss_kb "$GH_PID") / 1024 ))" | tee -a "$OUT_DIR/results.jsonl"
}

cleanup() {
  [ -n "$SAMPLER_PID" ] && stop_sampler
  [ -n "$GH_PID" ] && stop_gatehouse
  if [ "$PEERS_ON" = 1 ]; then
    (cd "$PEERS" && for p in simplejwt oidc-provider nginx-jwks; do ./stop-peer.sh $p >/dev/null 2>&1 || true; done)
  fi
  for name in "${PG_DBS[@]}"; do
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null || true
  done
}
trap cleanup EXIT

# tag SERVER DATABASE ROUND [CPU_TICKS]: adds the labels to bench.sh's JSON line, and with
# CPU_TICKS the server's CPU time over the run ("cpu_s", "cpu_us_per_request").
tag() {
  python3 -c 'import json,os,sys; d=json.loads(sys.stdin.read()); d["server"]=sys.argv[1]; d["database"]=sys.argv[2]; r=sys.argv[3]; d["round"]=int(r) if r.isdigit() else r
if len(sys.argv) > 4 and sys.argv[4]:
    cpu = int(sys.argv[4]) / os.sysconf("SC_CLK_TCK"); d["cpu_s"] = cpu
    if d.get("requests"): d["cpu_us_per_request"] = round(cpu * 1e6 / d["requests"], 2)
print(json.dumps(d))' "$@"
}
# b SERVER DATABASE ROUND SCENARIO BASE [bench.sh options]: one measurement, tagged; with
# CPU_PID set, the CPU time that process used during it too.
b() {
  local server=$1 db=$2 round=$3 t0="" ticks="" out; shift 3
  echo "+ [$server $db round $round] bench.sh $*" >> "$OUT_DIR/wrk.log"
  [ -n "${CPU_PID:-}" ] && t0=$(cpu_ticks "$CPU_PID")
  out=$(cd "$HARNESS" && ./bench.sh "$@" --duration "$DURATION" --cpu "$LOAD_CPU" 2>>"$OUT_DIR/wrk.log")
  [ -n "$t0" ] && ticks=$(( $(cpu_ticks "$CPU_PID") - t0 ))
  echo "$out" | tag "$server" "$db" "$round" "$ticks" | tee -a "$OUT_DIR/results.jsonl"
  [ "$SMOKE" = 1 ] || sleep 2
}
# gb DATABASE ROUND NAME SCENARIO [options]: a Gatehouse measurement with its memory and
# its CPU time.
gb() {
  local db=$1 round=$2 name=$3; shift 3
  start_sampler "$GH/peak" "$GH_PID"
  CPU_PID=$GH_PID b gatehouse "$db" "$round" "$@"
  stop_sampler
  rss_line "$db" "$round" "$name" "$(cat "$GH/peak")"
}

# mixed DATABASE ROUND: the login flood with JWKS and refresh beside it. The JWKS and refresh
# runs start first (refresh mints its tokens before the flood) and last 4 s longer, so the
# flood falls inside them.
mixed() {
  local db=$1 round=$2 side=$((DURATION + 4)) out=$OUT_DIR/mixed.$$
  start_sampler "$GH/peak" "$GH_PID"
  echo "+ [gatehouse $db round $round] mixed" >> "$OUT_DIR/wrk.log"
  (cd "$HARNESS" && ./bench.sh jwks "$G" --connections 4 --duration "$side" --cpu "$LOAD_CPU" 2>>"$OUT_DIR/wrk.log") > "$out.jwks" &
  local jwks=$!
  (cd "$HARNESS" && ./bench.sh refresh "$G" --connections 4 --pool-extra 4 --duration "$side" --cpu "$LOAD_CPU" 2>>"$OUT_DIR/wrk.log") > "$out.refresh" &
  local refresh=$!
  # The flood starts once the refresh run's wrk is up (its tokens are minted).
  for _ in $(seq 1 300); do pgrep -f 'wrk/refresh.lua' >/dev/null && break; sleep 0.1; done
  (cd "$HARNESS" && ./bench.sh login "$G" --connections 16 --duration "$DURATION" --cpu "$LOAD_CPU" 2>>"$OUT_DIR/wrk.log") > "$out.login"
  wait "$jwks" "$refresh"
  stop_sampler
  for part in login jwks refresh; do
    python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["scenario"]="mixed:"+d["scenario"]; print(json.dumps(d))' < "$out.$part" \
      | tag gatehouse "$db" "$round" | tee -a "$OUT_DIR/results.jsonl"
  done
  rm -f "$out".*
  rss_line "$db" "$round" mixed "$(cat "$GH/peak")"
}

run_gatehouse() {
  local r=$1 db
  for db in $DATABASES; do
    use_database "$db"
    start_gatehouse
    rss_line "$db" "$r" started "$(rss_kb "$GH_PID")"
    wanted login-16 && gb "$db" "$r" login-16 login   $G --connections 16
    wanted login-64 && gb "$db" "$r" login-64 login   $G --connections 64
    wanted refresh  && gb "$db" "$r" refresh  refresh $G --connections "$REFRESH_CONNS"
    wanted verify   && gb "$db" "$r" verify   verify  $G --connections 64
    wanted jwks     && gb "$db" "$r" jwks     jwks    $G --connections 64
    wanted client_credentials && gb "$db" "$r" client_credentials client_credentials $G \
      --path /token --connections 64 --client-id bench-cc --client-secret "$CC_SECRET"
    wanted mixed && mixed "$db" "$r"
    if [ "$IDLE" -gt 0 ]; then
      sleep "$IDLE"
      rss_line "$db" "$r" "idle-${IDLE}s-after" "$(rss_kb "$GH_PID")"
    fi
    stop_gatehouse
  done
}
run_scale() {
  local db
  for db in $DATABASES; do
    use_database "$db"
    "$ROOT/benches/seed-scale.sh" "$GATEHOUSE_DATABASE_URL" >&2
    start_gatehouse
    gb "$db" scale login-64 login $G --connections 64
    gb "$db" scale refresh refresh $G --connections 64
    gb "$db" scale verify verify $G --connections 64
    stop_gatehouse
  done
}
run_simplejwt() {
  local r=$1 A=http://127.0.0.1:18001
  (cd "$PEERS" && CPU=0 ./start-simplejwt.sh >&2)
  b simplejwt postgres "$r" login   $A --connections 16
  b simplejwt postgres "$r" login   $A --connections 64
  b simplejwt postgres "$r" refresh $A --connections 64
  b simplejwt postgres "$r" verify  $A --connections 64
  b simplejwt postgres "$r" jwks    $A --connections 64
  (cd "$PEERS" && ./stop-peer.sh simplejwt >&2)
}
run_oidc_provider() {
  local r=$1 B=http://127.0.0.1:18002
  (cd "$PEERS" && CPU=0 ./start-oidc-provider.sh >&2)
  b oidc-provider memory "$r" client_credentials $B --path /token --connections 64
  b oidc-provider memory "$r" jwks $B --path /jwks --connections 64
  (cd "$PEERS" && ./stop-peer.sh oidc-provider >&2)
}
run_nginx() {
  local r=$1 C=http://127.0.0.1:18003
  # nginx serves the very bytes Gatehouse serves.
  use_database "${DATABASES%% *}"
  start_gatehouse
  curl -fs "$G/.well-known/jwks.json" > "$OUT_DIR/jwks.json"
  stop_gatehouse
  (cd "$PEERS" && JWKS_FILE=$OUT_DIR/jwks.json CPU=0 ./start-nginx-jwks.sh >&2)
  b nginx-jwks file "$r" jwks $C --connections 64
  (cd "$PEERS" && ./stop-peer.sh nginx-jwks >&2)
}
run_peers() {
  [ "$PEERS_ON" = 1 ] || return 0
  if [ "$2" = forward ]; then
    run_simplejwt "$1"; run_oidc_provider "$1"; run_nginx "$1"
  else
    run_nginx "$1"; run_oidc_provider "$1"; run_simplejwt "$1"
  fi
}

for db in $DATABASES; do setup_database "$db"; done
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then
    run_gatehouse "$r"; run_peers "$r" forward
  else
    run_peers "$r" backward; run_gatehouse "$r"
  fi
done
[ "$SCALE" = 1 ] && run_scale
if [ "$TWO" = 1 ]; then
  OUT_DIR=$OUT_DIR/two-instances "$ROOT/benches/two-instances.sh" --bin "$BIN" --rounds "$ROUNDS" \
    --duration "$DURATION" --harness "$HARNESS" | tee -a "$OUT_DIR/results.jsonl"
fi
if [ "$PEERS_ON" = 1 ]; then
  (cd "$PEERS" && ./ceilings.sh --cpu "$SERVER_CPU" 2>>"$OUT_DIR/wrk.log") | tee -a "$OUT_DIR/results.jsonl"
fi

# Every Gatehouse run must have answered: no errors and no non-2xx (a refresh reuse would be one).
python3 - "$OUT_DIR/results.jsonl" <<'EOF'
import json, sys
bad = []
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("server") == "gatehouse" and "rps" in d:
        if d["non2xx"] or d["errors"] or not d["requests"]:
            bad.append(line.strip())
if bad:
    print("failed Gatehouse runs:\n" + "\n".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
echo "results: $OUT_DIR/results.jsonl" >&2
