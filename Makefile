# xcord — the two set-up commands are `make run` and `make test` (see README.md).

CARGO ?= cargo
ARGS ?=

.PHONY: run build test lint unit

# Builds the web client and the release binary and runs `xcord serve` with its embedded defaults
# (the web client and HTTP/WS on http://127.0.0.1:7880/, media on UDP 7882, keys generated into
# ./xcord-data). Extra flags: make run ARGS="--dev --bind 0.0.0.0:7880"
run: web build
	./target/release/xcord serve $(ARGS)

build:
	$(CARGO) build --release

# Every test: formatting, lints, unit and integration tests (control plane on SQLite and
# PostgreSQL), the web client's unit tests, then the end-to-end suites with the official LiveKit
# SDKs (Python, Node, browser; the browser suite also drives the web client) in a network
# namespace. Installs what it needs.
test: e2e-setup lint unit web-test e2e

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# Unit and integration tests; the control plane's run against SQLite and a throwaway PostgreSQL.
unit:
	tests/with-postgres.sh $(CARGO) test --workspace

include mk/web.mk
include mk/e2e.mk
