#!/usr/bin/env bash
# Installs everything the end-to-end harness needs. Idempotent, no prompts; fast when all is present.
#   - Debian packages: iproute2, nftables, chromium, firefox-esr (and python3-venv / nodejs+npm
#     only when missing)
#   - .venv at the repo root with the pinned Python SDKs (tests/e2e/python/requirements.txt)
#   - tests/e2e/node/node_modules from package-lock.json (npm ci)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export DEBIAN_FRONTEND=noninteractive

log() { printf '[e2e-setup] %s\n' "$*"; }

# ---- Debian packages -------------------------------------------------------------------------
missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Firefox ESR for browser/firefox.test.mjs (driven over WebDriver BiDi by puppeteer-core)
dpkg-query -W -f='${Status}' firefox-esr 2>/dev/null | grep -q 'install ok installed' || missing+=(firefox-esr)
if ! command -v python3 >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing packages ${missing[*]} and not root: install them first"; exit 1
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  log "node $(node --version) is too old (need >= 18)"; exit 1
fi

# ---- Python venv -------------------------------------------------------------------------------
req="$here/python/requirements.txt"
venv="$root/.venv"
stamp="$venv/.e2e-requirements"
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
if ! cmp -s "$req" "$stamp"; then
  log "pip install -r tests/e2e/python/requirements.txt"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
else
  log "python packages up to date"
fi

# ---- Node packages -----------------------------------------------------------------------------
nodedir="$here/node"
nstamp="$nodedir/node_modules/.e2e-lock"
if ! cmp -s "$nodedir/package-lock.json" "$nstamp"; then
  log "npm ci in tests/e2e/node"
  (cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$nodedir/package-lock.json" "$nstamp"
else
  log "node packages up to date"
fi

log "ok"
