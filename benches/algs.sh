#!/usr/bin/env bash
# benches/algs.sh [--rounds N] [--duration S] [--databases "sqlite postgres"] [--bin PATH]
#
# The signing algorithms against each other in one sitting (issue 26): for each round, for
# each of RS256, ES256 and EdDSA in turn, benches/compare.sh --no-peers --rounds 1 with
# client_credentials, refresh and verify on each database, Gatehouse keeping keys for all
# three (GATEHOUSE_SIGNING_ALGS) and signing access and refresh tokens with the one measured
# (GATEHOUSE_ACCESS_TOKEN_ALG; the benchmark client and simplejwt's choose none). Output:
# compare.sh's JSON lines with "alg" and "alg_round" added; the load average before each run
# on stderr. Medians go into BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 DURATION=10 DATABASES="sqlite postgres" BIN=target/release/gatehouse
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2;;
    --duration) DURATION=$2; shift 2;;
    --databases) DATABASES=$2; shift 2;;
    --bin) BIN=$2; shift 2;;
    *) sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2;;
  esac
done
export GATEHOUSE_SIGNING_ALGS=RS256,ES256,EdDSA
for round in $(seq 1 "$ROUNDS"); do
  for alg in RS256 ES256 EdDSA; do
    echo "round $round $alg: load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    GATEHOUSE_ACCESS_TOKEN_ALG=$alg benches/compare.sh --no-peers --rounds 1 \
      --duration "$DURATION" --databases "$DATABASES" --bin "$BIN" --idle 0 \
      --scenarios "client_credentials refresh verify" |
      sed -u "s/^{/{\"alg\":\"$alg\",\"alg_round\":$round,/"
  done
done
