#!/usr/bin/env bash
# Browser end-to-end tests of the web client against the local runner.
#
#   web/test/run.sh [test files…]      (from anywhere; make e2e calls it)
#
# Installs Debian's chromium when /usr/bin/chromium is missing, runs npm ci
# (cache under ${GREENROOM_CACHE:-$HOME/.cache/greenroom}/npm), builds and
# starts the local runner on a free port with a fresh data dir and admin
# key (two SFU workers and the --debug-hooks route that kills one), runs
# the tests with node --test, and always stops what it started.
#
# Environment:
#   GREENROOM_E2E_SKIP      comma list of assertions to skip: media, breakout
#                           (default none: media runs against the real SFU)
#   GREENROOM_E2E_TIMEOUT   seconds for the browser tests (default 1200: the
#                           suite needs about 3 minutes on two idle cores of
#                           a bare machine, but 9–10 on the nested virtual
#                           machines CI may run on, where a context switch
#                           costs tens of µs)
#   GREENROOM_E2E_BUDGET    seconds for the whole script (default 1380); the
#                           installs are bounded too, so it ends within 23
#                           minutes
#   GREENROOM_E2E_DECODE_MS how long a member may take to decode whom it
#                           should see after each media step (default 5000)
#   GREENROOM_E2E_SEED      seed of the scheduled media test's random order
#   GREENROOM_E2E_LOG_LEVEL the runner's log level (default info)
#   GREENROOM_E2E_KEEP_LOG  copy the runner's log there
#   GREENROOM_E2E_RUNNER    Go package of the runner (default ./infra/local)
#   GREENROOM_SCREENSHOTS   where screenshots go (default web/test/screenshots)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${GREENROOM_CACHE:-$HOME/.cache/greenroom}"
runner_pkg="${GREENROOM_E2E_RUNNER:-./infra/local}"
test_timeout="${GREENROOM_E2E_TIMEOUT:-1200}"
export GREENROOM_SCREENSHOTS="${GREENROOM_SCREENSHOTS:-$here/screenshots}"

budget="${GREENROOM_E2E_BUDGET:-1380}" # seconds for the whole script
tmp="$(mktemp -d -t greenroom-e2e.XXXXXX)"
runner_pid=""
tests_pid=""
cleanup() {
  local rc=$?
  # The tests run in their own process group: Chromium and its helpers
  # go with node, even when node was killed.
  if [[ -n "$tests_pid" ]] && kill -0 -- "-$tests_pid" 2>/dev/null; then
    kill -TERM -- "-$tests_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$tests_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$tests_pid" 2>/dev/null || true
  fi
  if [[ -n "$runner_pid" ]] && kill -0 "$runner_pid" 2>/dev/null; then
    kill -TERM "$runner_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$runner_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$runner_pid" 2>/dev/null || true
    wait "$runner_pid" 2>/dev/null || true
  fi
  if [[ -n ${GREENROOM_E2E_KEEP_LOG:-} && -f "$tmp/runner.log" ]]; then cp "$tmp/runner.log" "$GREENROOM_E2E_KEEP_LOG"; fi
  if [[ $rc -ne 0 && -f "$tmp/runner.log" ]]; then
    # What went wrong on the server is rarely in the last lines: its
    # warnings and errors first (the last 60), then the tail.
    echo "== runner log: warnings and errors (last 60)"
    grep -E 'level=(WARN|ERROR)' "$tmp/runner.log" | tail -n 60 || true
    echo "== runner log (last 40 lines)"; tail -n 40 "$tmp/runner.log" || true
  fi
  rm -rf "$tmp"
  echo "== screenshots: $GREENROOM_SCREENSHOTS"
  exit $rc
}
trap cleanup EXIT INT TERM

retry() { "$@" || { echo "retrying: $*"; sleep 3; "$@"; }; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

echo "== chromium"
if [[ ! -x /usr/bin/chromium ]]; then
  retry as_root timeout 120 apt-get update -q
  retry as_root timeout 240 env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
/usr/bin/chromium --version 2>/dev/null || true

echo "== npm ci"
mkdir -p "$cache/npm"
(cd "$here" && retry timeout 180 npm ci --cache "$cache/npm" --prefer-offline --no-audit --no-fund --loglevel=error)

echo "== build the local runner ($runner_pkg)"
(cd "$repo" && retry timeout 240 go build -o "$tmp/greenroom" "$runner_pkg")

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
  || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
admin_key="e2e-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$tmp/data"
"$tmp/greenroom" --addr "127.0.0.1:$port" --data-dir "$tmp/data" --admin-key "$admin_key" \
  --workers 2 --debug-hooks --log-level "${GREENROOM_E2E_LOG_LEVEL:-info}" >"$tmp/runner.log" 2>&1 &
runner_pid=$!

url=""
for _ in $(seq 1 300); do
  url="$(sed -n 's/^ready \(http[^ ]*\).*/\1/p' "$tmp/runner.log" | head -n1)"
  [[ -n "$url" ]] && break
  kill -0 "$runner_pid" 2>/dev/null || { echo "the runner exited"; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "the runner never printed ready"; exit 1; }
echo "== runner ready at $url"
if ! curl -fsS "$url/" | grep -q 'id="app"'; then
  echo "the runner does not serve the web client at / (mount web.Handler() in infra/local/runner)"; exit 1
fi

echo "== browser tests"
files=("$@")
[[ ${#files[@]} -gt 0 ]] || files=(seed000.test.mjs seed002.test.mjs seed001.test.mjs ui14.test.mjs active14.test.mjs group14.test.mjs cospeaker14.test.mjs cospeaker14-book.test.mjs group14-leave.test.mjs media-primetime.test.mjs media-scheduled.test.mjs)
cd "$here"
left=$(( budget - SECONDS - 20 ))
(( left < test_timeout )) && test_timeout=$left
(( test_timeout < 120 )) && test_timeout=120
echo "== running ${files[*]} (at most ${test_timeout}s)"
GREENROOM_URL="$url" GREENROOM_ADMIN_KEY="$admin_key" \
  setsid timeout --kill-after=20 "$test_timeout" node --test --test-concurrency=1 --test-timeout=240000 "${files[@]}" &
tests_pid=$!
set +e
wait "$tests_pid"
rc=$?
set -e
if (( rc == 124 || rc == 137 )); then echo "== the browser tests took longer than ${test_timeout}s"; fi
exit "$rc"
