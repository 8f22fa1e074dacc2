#!/usr/bin/env bash
# Validates docker-compose.yml against the Compose Specification's JSON schema, as vendored
# by check-jsonschema (PyPI, pinned below: `--builtin-schema vendor.compose-spec`), in a
# private virtualenv. No Docker engine is needed. Also proves the validator is live by
# feeding it a deliberately broken copy, and, when nginx is installed, checks that
# deploy/nginx.conf renders and passes `nginx -t`.
# Exit status: 0 when everything is valid, non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK_JSONSCHEMA_VERSION=0.39.0
venv=${GATEHOUSE_CI_VENV:-target/ci-venv}

if [ "$("$venv/bin/check-jsonschema" --version 2>/dev/null | awk '{print $NF}')" != "$CHECK_JSONSCHEMA_VERSION" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
fi
validate() { "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$@"; }

validate docker-compose.yml

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# An unknown top-level key must be rejected; if it is not, the check above proves nothing.
sed 's/^services:/servicez:/' docker-compose.yml > "$tmp/broken.yml"
if validate "$tmp/broken.yml" >/dev/null 2>&1; then
  echo "validate-compose: a deliberately broken compose file passed validation" >&2
  exit 1
fi

nginx_bin=$(command -v nginx || true)
[ -n "$nginx_bin" ] || { [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx; } || true
if [ -n "$nginx_bin" ]; then
  sed -e 's/\${LISTEN}/127.0.0.1:8080/' \
      -e 's/\${GATEHOUSE_A}/127.0.0.1:8081/' \
      -e 's/\${GATEHOUSE_B}/127.0.0.1:8082/' deploy/nginx.conf > "$tmp/nginx.conf"
  "$nginx_bin" -e stderr -t -q -p "$tmp/" -c "$tmp/nginx.conf"
  echo "deploy/nginx.conf: nginx -t ok"
else
  echo "deploy/nginx.conf: nginx not installed, nginx -t skipped"
fi
