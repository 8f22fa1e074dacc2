#!/usr/bin/env bash
# Installs the downstream verifiers the integration tests drive as subprocesses, at the
# versions pinned beside this script: Python packages (Django, DRF, simplejwt, PyJWT,
# argon2-cffi, bcrypt) into a virtualenv, and the npm packages jose and openid-client (the
# relying party) into tests/downstream/node_modules. Without them, the tests that need them
# print SKIP (and fail under CI=true).
#
# pip's download cache does not help here (the registry's answers are not cacheable), so
# the virtualenv itself is kept per machine, under ~/.cache/gatehouse, one per version of
# requirements.txt, and linked as target/downstream-venv: a fresh clone on the same machine
# reuses it, and only a changed requirements.txt installs anew.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
cache=${GATEHOUSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse}
want=$(sha256sum requirements.txt | cut -d' ' -f1)
venv=$cache/downstream-venv-${want:0:16}

# The stamp is written last: a venv without it is half made, and is made again.
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null || true)" != "$want" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r requirements.txt
  "$venv/bin/pip" check >/dev/null
  echo "$want" > "$venv/.requirements.sha256"
fi
mkdir -p "$root/target"
ln -sfn "$venv" "$root/target/downstream-venv"

# Node: node_modules is refreshed only when the lockfile changed since it was installed
# (npm's own cache makes a fresh clone's install quick).
lock_stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$lock_stamp" 2>/dev/null || true)" != "$want" ]; then
  npm ci --silent --no-audit --no-fund --prefer-offline
  echo "$want" > "$lock_stamp"
fi
