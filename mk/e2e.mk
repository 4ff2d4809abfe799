# End-to-end tests with the official LiveKit client SDKs (see tests/e2e/README.md).
# Included from the top-level Makefile; self-contained.

.PHONY: e2e-setup e2e

# Installs chromium/firefox-esr/iproute2 if missing, .venv with the Python SDKs, and the Node packages.
e2e-setup:
	tests/e2e/setup.sh

# Builds the web client and the server with the profile and features the unit tests use (dev, and
# `--tests` so that dev-dependency features such as tokio's test-util are the same: after
# `make unit` this build is a no-op, no second build of the dependency tree) and runs all suites
# (python, node, browser) in a network namespace. One suite: make e2e E2E_SUITES=python   (or node, browser, measure)
E2E_SUITES ?=
e2e: web
	cargo build --workspace --bins --tests
	XCORD_BIN=$(CURDIR)/target/debug/xcord tests/e2e/run.sh $(E2E_SUITES)
