#!/usr/bin/env bash
# .ci/api-fuzz.sh: property-based fuzzing of the HTTP API against its own
# OpenAPI document (docs/openapi.yaml) with schemathesis. It starts the
# local runner on a free 127.0.0.1 port, signs in a user and an organizer,
# and lets schemathesis generate requests for every route: no response may
# be a 5xx, and every response must match the document. Bounded in time;
# it always stops the runner it started.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GREENROOM_CACHE:-$HOME/.cache/greenroom}
VENV=$CACHE/venv-schemathesis
ST_VERSION=4.32.5
EXAMPLES=${API_FUZZ_EXAMPLES:-40}

install() {
  if [[ -x $VENV/bin/st ]] && "$VENV/bin/pip" show schemathesis 2>/dev/null | grep -q "^Version: $ST_VERSION$"; then
    return 0
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$ST_VERSION"
}
install || { echo "api-fuzz: install failed, retrying once"; sleep 3; install; }

work=$(mktemp -d)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cd "$ROOT"
go build -o "$work/greenroom" ./infra/local
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
"$work/greenroom" --addr "127.0.0.1:$port" --data-dir "$work/data" --admin-key "$admin" >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q '^ready ' "$work/out" && break; sleep 0.1; done
grep -q '^ready ' "$work/out" || { echo "api-fuzz: the runner did not start"; cat "$work/log"; exit 1; }
base="http://127.0.0.1:$port"

token() { python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
user=$(curl -fsS -XPOST "$base/v1/users" -d '{"name":"Fuzz User","device":"web"}' | token)
org=$(curl -fsS -XPOST "$base/v1/organizers" -H "X-Admin-Key: $admin" -d '{"name":"Fuzz Org"}' | token)

status=0
cd "$work" # schemathesis keeps its state in the working directory
for who in user organizer; do
  tok=$user
  [[ $who == organizer ]] && tok=$org
  echo "== schemathesis as $who ($EXAMPLES examples per operation)"
  timeout 300 "$VENV/bin/st" run "$ROOT/docs/openapi.yaml" --url "$base" \
    -H "Authorization: Bearer $tok" -H "X-Admin-Key: $admin" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" --seed 20261123 --workers 1 --request-timeout 10 \
    --suppress-health-check all || status=1
done
if grep -q '"level":"ERROR"\|level=ERROR' "$work/log"; then
  echo "api-fuzz: the runner logged errors:"
  grep 'level=ERROR' "$work/log" | head -20
  status=1
fi
exit $status
