#!/usr/bin/env bash
# Installs what building the web client needs: Node.js and npm (Debian's, when missing: as root,
# or through sudo), then web/node_modules from package-lock.json (npm ci, only when the lock
# changed). Idempotent, no prompts; fast when all is present.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '[web-setup] %s\n' "$*"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -n)
  else
    log "nodejs and npm are missing and we are not root: apt-get install nodejs npm first"; exit 1
  fi
  log "apt-get install nodejs npm"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  log "node $(node --version) is too old (need >= 18)"; exit 1
fi

stamp="$here/node_modules/.xcord-lock"
if ! cmp -s "$here/package-lock.json" "$stamp"; then
  log "npm ci in web/"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$stamp"
fi
