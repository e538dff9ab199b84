#!/usr/bin/env bash
# e2e.sh is the integration tier (`make e2e`): it installs what it needs and
# runs named steps, each with a header, its time and a summary line at the end.
#
#   .ci/e2e.sh              every step, in order
#   .ci/e2e.sh STEP...      only these steps (e.g. `.ci/e2e.sh sam-build`)
#   .ci/e2e.sh --list       the step names
#
# Install steps stop the run when they fail (nothing after them can pass);
# check steps all run, and the script fails at the end if any of them failed.
# Later issues add steps here (browser tests, API fuzzing): write a step_NAME
# function and list it in STEPS.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

GO=${GO:-go}
export CI=${CI:-}

# The order matters: installs first, then the checks.
STEPS=(
  install-sam           # aws-sam-cli + cfn-lint in the project venv
  install-dynamodb      # DynamoDB Local from Maven Central
  dynamodb-contract     # store contract suite against DynamoDB Local
  crowd                 # 50 and 200 join, then raise hands, at once: embedded, then DynamoDB Local
  sim                   # every capacity scenario (infra/sim) holds the limits: partitions, rush queue, workers
  sam-validate          # sam validate --lint (offline, no credentials)
  cfn-lint              # cfn-lint on every template
  template-check        # every function: build target, env vars the code reads, secrets, AWS actions
  sam-build             # sam build through the Makefile's build-<LogicalId>
  worker-binaries       # bin/sfuworker, bin/turnserver as the Dockerfiles build them; --help exits 0
  api-fuzz              # schemathesis: generated requests against docs/openapi.yaml, no 5xx, schemas hold
  browser               # headless Chromium with fake devices through the web client (web/test/run.sh)
)
# Steps whose failure ends the run at once.
FATAL_STEPS=" install-sam install-dynamodb "

WORK=$(mktemp -d "${TMPDIR:-/tmp}/greenroom-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

sam_run() { bash "$ROOT/.ci/sam.sh" run -- "$@"; }

# templates lists the CloudFormation/SAM templates to lint: the root one and
# any nested templates under infra/.
templates() {
  printf '%s\n' template.yaml
  find infra -type f \( -name '*.yaml' -o -name '*.yml' \) \
    -not -path '*/testdata/*' -not -path '*/node_modules/*' 2>/dev/null |
    xargs -r grep -l -E '^(AWSTemplateFormatVersion|Resources):' | sort
}

step_install-sam() { bash .ci/sam.sh install; }

step_api-fuzz() { bash .ci/api-fuzz.sh; }

step_browser() { bash web/test/run.sh; }

step_install-dynamodb() { bash .ci/dynamodb-local.sh install; }

# The contract tests talk to DynamoDB Local only; the dummy credentials keep
# the SDK from reaching for a developer's real profile.
step_dynamodb-contract() {
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_SESSION_TOKEN= \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_PROFILE= \
    bash .ci/dynamodb-local.sh run -- \
    "$GO" test -race -count=1 -timeout 20m ./shared/store/dynamostore/
}

# The crowds too large for the race detector in `make test`: 50 and 200
# members joining a live session at once, then raising hands at once (one
# queue, in the server's order, for everyone), on the embedded store and
# then on DynamoDB Local through the runner's --store dynamodb. Each member
# writes its own item, so 200 at once conflict with nobody there either.
step_crowd() {
  local tests='^(TestJoinRushKeepsEveryone|TestHandRushKeepsOneQueue)$'
  "$GO" test -count=1 -timeout 15m -run "$tests" ./infra/local/runner/
  GREENROOM_TEST_STORE=dynamodb bash .ci/dynamodb-local.sh run -- \
    "$GO" test -count=1 -timeout 15m -run "$tests" ./infra/local/runner/
}

# The capacity simulation's scenarios, the 500,000-member rushes included
# (make test runs them under -race, so there it runs only the small ones):
# no DynamoDB partition over its limit, no rush queue over 60 s, every room
# placed and back after a failure. Then the tables `make sim` prints.
step_sim() {
  "$GO" test -count=1 -timeout 10m ./infra/sim/...
  "$GO" run ./infra/sim -all infra/sim/scenarios -prices us-east-1
}

step_sam-validate() { sam_run sam validate --lint --template-file template.yaml; }

step_cfn-lint() {
  local files
  mapfile -t files < <(templates)
  echo "linting: ${files[*]}"
  sam_run cfn-lint -- "${files[@]}"
}

# .ci/check_template.py reads template.yaml and the templates it nests: each
# function's build-<LogicalId> target exists and builds ./functions/<dir>,
# every environment variable that code reads is set on the function, each
# secret it reads is one it may GetSecretValue (and no other), every AWS
# action its code can call is allowed by its policy and nothing else is
# (no wildcards, resources scoped), and `sam local start-api` sees no
# WebSocket route.
step_template-check() { sam_run python .ci/check_template.py; }

# sam build runs `make build-<LogicalId>` for every function in the source
# tree (build_in_source), nested stacks included, writing into a scratch
# build dir (a nested function lands in <StackLogicalId>/<LogicalId>/); then
# every function of every template must have a linux/arm64 Go binary named
# bootstrap there.
step_sam-build() {
  local build=$WORK/sam-build
  sam_run sam build --template-file template.yaml --build-in-source \
    --build-dir "$build" --cache-dir "$WORK/sam-cache"
  local fns=() fn f info
  mapfile -t fns < <(sam_run python .ci/check_template.py --functions)
  ((${#fns[@]} > 0)) || { echo "no functions found in the templates"; return 1; }
  for fn in "${fns[@]}"; do
    f=$build/$fn/bootstrap
    [[ -f $f ]] || { echo "sam build produced no bootstrap for $fn (want $f)"; return 1; }
    info=$("$GO" version -m "$f")
    grep -q 'GOOS=linux' <<<"$info" && grep -q 'GOARCH=arm64' <<<"$info" || {
      echo "$f is not a linux/arm64 Go binary:"
      echo "$info"
      return 1
    }
    printf 'built %s (%d bytes)\n' "$fn/bootstrap" "$(stat -c %s "$f")"
  done
  echo "sam build: ${#fns[@]} functions, ${#fns[@]} bootstraps"
}

# The SFU worker and TURN server images build their binary with `make
# worker-binaries` (no Docker engine here, so the images themselves are not
# built): each Dockerfile must do so for its command, be multi-stage, and end
# on a distroless (or scratch) base as a non-root user; the binaries, built
# by that target, must be static and start with --help and exit 0.
step_worker-binaries() {
  local out=$WORK/worker-bin c df info
  make --no-print-directory worker-binaries WORKER_BIN="$out"
  for c in sfuworker turnserver; do
    df=$c/Dockerfile
    [[ -f $df ]] || { echo "$df is missing"; return 1; }
    grep -Eq "make worker-binaries WORKER_CMDS=$c( |$)" "$df" ||
      { echo "$df does not build with 'make worker-binaries WORKER_CMDS=$c'"; return 1; }
    (($(grep -c '^FROM ' "$df") >= 2)) || { echo "$df is not multi-stage"; return 1; }
    tail -n +"$(grep -n '^FROM ' "$df" | tail -1 | cut -d: -f1)" "$df" | grep -Eq '^FROM (gcr\.io/distroless/static[^ ]*:nonroot|scratch)' ||
      { echo "$df: the last stage is not distroless static nonroot or scratch"; return 1; }
    grep -Eq '^USER (nonroot|[1-9][0-9]*)' "$df" || { echo "$df runs as root"; return 1; }
    info=$("$GO" version -m "$out/$c")
    grep -q 'CGO_ENABLED=0' <<<"$info" || { echo "$out/$c is not static (CGO_ENABLED=0)"; return 1; }
    grep -q -- '-trimpath=true' <<<"$info" || { echo "$out/$c was not built with -trimpath"; return 1; }
    timeout 20 "$out/$c" --help >"$WORK/$c.help" 2>&1 || {
      echo "$c --help exited $?:"
      cat "$WORK/$c.help"
      return 1
    }
    printf '%s --help: exit 0, %d flags (%d bytes, static)\n' "$c" "$(grep -c '^  -' "$WORK/$c.help")" "$(stat -c %s "$out/$c")"
  done
}

declare -A RESULT
ORDER=()

# run_step runs one step in a subshell with errexit on, records its result,
# and sets LAST_RC. It is never called in a condition: bash ignores `set -e`
# inside anything run from an `if` or `||`.
LAST_RC=0
run_step() {
  local name=$1 start rc
  start=$SECONDS
  printf '\n==== e2e step: %s ====\n' "$name"
  set +e
  (
    set -e
    "step_$name"
  )
  rc=$?
  set -e
  LAST_RC=$rc
  ORDER+=("$name")
  if ((rc == 0)); then
    RESULT[$name]="ok   ($((SECONDS - start))s)"
  else
    RESULT[$name]="FAIL ($((SECONDS - start))s, exit $rc)"
  fi
  printf '==== e2e step: %s: %s ====\n' "$name" "${RESULT[$name]}"
}

summary() {
  local name passed=0 failed=0
  printf '\n==== e2e summary ====\n'
  for name in "${ORDER[@]}"; do
    printf '  %-20s %s\n' "$name" "${RESULT[$name]}"
    if [[ ${RESULT[$name]} == ok* ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done
  printf 'e2e: %d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
}

main() {
  local selected=() name
  if [[ ${1:-} == --list ]]; then
    printf '%s\n' "${STEPS[@]}"
    return 0
  fi
  if (($# > 0)); then selected=("$@"); else selected=("${STEPS[@]}"); fi
  for name in "${selected[@]}"; do
    declare -F "step_$name" >/dev/null || {
      echo "e2e: unknown step '$name' (steps: ${STEPS[*]})" >&2
      return 2
    }
  done
  for name in "${selected[@]}"; do
    run_step "$name"
    if ((LAST_RC != 0)) && [[ $FATAL_STEPS == *" $name "* ]]; then
      echo "e2e: $name failed; the steps after it cannot run" >&2
      break
    fi
  done
  summary
}

main "$@"
