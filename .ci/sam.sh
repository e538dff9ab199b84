#!/usr/bin/env bash
# sam.sh installs the AWS SAM CLI and cfn-lint, at pinned versions, into a
# Python virtualenv owned by the project, and runs commands with them.
#
#   .ci/sam.sh [install]       create or update the venv (idempotent)
#   .ci/sam.sh run -- CMD...   install if needed, then run CMD with the venv's
#                              bin/ first on PATH and an offline-friendly
#                              environment (region set, telemetry off)
#   .ci/sam.sh env             print the shell exports that `run` applies
#
# Tools come from PyPI only, never from a hand install: a fresh machine gets
# the same versions as a developer's. The venv lives under
# ${GREENROOM_CACHE:-$HOME/.cache/greenroom}/venv so it survives `make clean`.
set -euo pipefail

# Pinned versions. Bump both together and rerun `make e2e`: aws-sam-cli
# depends on cfn-lint (for `sam validate --lint`), and pip must be able to
# satisfy both pins at once.
SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0

CACHE_DIR=${GREENROOM_CACHE:-$HOME/.cache/greenroom}
VENV=$CACHE_DIR/venv

log() { printf '[sam.sh] %s\n' "$*" >&2; }

# python_bin picks an interpreter that can create a venv with pip.
python_bin() {
  local py
  for py in "${PYTHON:-}" python3 /usr/bin/python3; do
    [[ -n $py ]] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1; then
      printf '%s\n' "$py"
      return 0
    fi
  done
  log "no python3 (>= 3.9) with venv and ensurepip found; on Debian: apt-get install python3-venv"
  return 1
}

# installed reports whether the venv already holds exactly the pinned versions.
installed() {
  [[ -x $VENV/bin/python && -x $VENV/bin/sam && -x $VENV/bin/cfn-lint ]] || return 1
  "$VENV/bin/python" - "$SAM_CLI_VERSION" "$CFN_LINT_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
sys.exit(0 if (version("aws-sam-cli"), version("cfn-lint")) == (sys.argv[1], sys.argv[2]) else 1)
PY
}

install_once() {
  local py
  py=$(python_bin)
  if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
    log "creating venv at $VENV with $py"
    rm -rf "$VENV"
    mkdir -p "$CACHE_DIR"
    "$py" -m venv "$VENV"
  fi
  log "pip install aws-sam-cli==$SAM_CLI_VERSION cfn-lint==$CFN_LINT_VERSION"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet --no-input \
    "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
}

install() {
  if installed; then
    log "aws-sam-cli $SAM_CLI_VERSION and cfn-lint $CFN_LINT_VERSION already in $VENV"
    return 0
  fi
  # One retry: PyPI hiccups should not fail CI, a real conflict still does.
  if ! install_once; then
    log "install failed; retrying once from a fresh venv"
    rm -rf "$VENV"
    sleep 5
    install_once
  fi
  installed || { log "venv does not hold the pinned versions after install"; return 1; }
  log "installed aws-sam-cli $SAM_CLI_VERSION and cfn-lint $CFN_LINT_VERSION in $VENV"
}

# environment: everything SAM needs to validate and build without AWS
# credentials or a configured profile, and without phoning home.
env_exports() {
  cat <<EOV
export PATH="$VENV/bin:\$PATH"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
export SAM_CLI_TELEMETRY=0
EOV
}

cmd=${1:-install}
case $cmd in
  install)
    install
    ;;
  env)
    env_exports
    ;;
  run)
    shift
    [[ ${1:-} == -- ]] && shift
    (($# > 0)) || { log "usage: $0 run -- CMD [ARGS...]"; exit 2; }
    install
    eval "$(env_exports)"
    exec "$@"
    ;;
  *)
    log "usage: $0 [install|env|run -- CMD...]"
    exit 2
    ;;
esac
