# The web client (web/): built into web/dist, which `xcord serve` serves at /.
# Included from the top-level Makefile; self-contained.

.PHONY: web web-setup web-test

WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts \
	web/tsconfig.json web/package.json web/package-lock.json

# Node.js/npm (Debian's when missing) and web/node_modules (npm ci when the lock changed).
web-setup:
	web/setup.sh

# Rebuilds web/dist only when a source changed.
web: web-setup web/dist/index.html

web/dist/index.html: $(WEB_SOURCES)
	cd web && npm run build
	@touch $@

# Unit tests of the web client (vitest).
web-test: web-setup
	cd web && npm test
