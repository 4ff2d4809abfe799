#!/usr/bin/env bash
# End-to-end tests of the xcord SFU with the official LiveKit client SDKs.
#
# usage: tests/e2e/run.sh [python|node|browser|measure]...     (default: python node browser)
#
# Runs inside a fresh network namespace (tests/e2e/netns.sh): starts
#   $XCORD_BIN media --dev --bind 10.99.0.1:7880 --node-ip 10.99.0.1 --data-dir <tmp>
# waits until GET http://10.99.0.1:7880/ answers 200, runs each suite with an outer timeout,
# stops the server by its PID and exits non-zero if any suite failed (server log is shown then).
# Tests that need other server flags (--no-auto-create, --webhook-url) start extra instances on
# their own ports themselves (python/xcord_server.py, node/xcord-server.mjs; XCORD_BIN is exported),
# stop them by PID and log them to $E2E_OUT/server-<name>-<port>.log.
#
# Environment:
#   XCORD_BIN          server binary (default target/debug/xcord, what `make e2e` builds)
#   E2E_OUT            where logs go (default tests/e2e/out/<timestamp>)
#   E2E_READY_TIMEOUT  seconds to wait for the server (default 30)
#   E2E_SERVER_ARGS    extra arguments for the server
#   E2E_PYTEST_ARGS    extra arguments for pytest (e.g. "-k data")
#   E2E_BROWSER_FILES  the browser suite's test files, relative to node/ (default: all of them)
# Needs root (network namespaces) and tests/e2e/setup.sh run once.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(python node browser)
for s in "${suites[@]}"; do
  case "$s" in
    python|node|browser|measure) ;;
    *) echo "usage: $0 [python|node|browser|measure]..." >&2; exit 2 ;;
  esac
done

XCORD_BIN=${XCORD_BIN:-$root/target/debug/xcord}
case "$XCORD_BIN" in /*) ;; *) XCORD_BIN="$root/$XCORD_BIN" ;; esac
export XCORD_BIN

# ---- preconditions (checked before creating anything) ------------------------------------------
if [ -z "${XCORD_NETNS:-}" ]; then
  problems=0
  if [ "$(id -u)" != 0 ]; then
    echo "e2e: must run as root (network namespaces)" >&2; problems=1
  fi
  if [ ! -x "$XCORD_BIN" ]; then
    echo "e2e: server binary not found: $XCORD_BIN (build it with: cargo build --workspace --bins --tests)" >&2; problems=1
  fi
  if [ ! -x "$root/.venv/bin/python" ] || [ ! -d "$here/node/node_modules/livekit-client" ]; then
    echo "e2e: test dependencies missing: run tests/e2e/setup.sh (make e2e-setup)" >&2; problems=1
  fi
  if [[ " ${suites[*]} " == *" browser "* ]] && [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "e2e: chromium missing: run tests/e2e/setup.sh" >&2; problems=1
  fi
  if [[ " ${suites[*]} " == *" browser "* ]] && [ ! -x "${FIREFOX:-/usr/bin/firefox-esr}" ]; then
    echo "e2e: firefox-esr missing: run tests/e2e/setup.sh" >&2; problems=1
  fi
  [ $problems = 0 ] || exit 2
  exec "$here/netns.sh" "$0" "${suites[@]}"
fi

# ---- inside the namespace -----------------------------------------------------------------------
HOST=10.99.0.1
PORT=7880
export LIVEKIT_URL="ws://$HOST:$PORT"
export XCORD_HTTP="http://$HOST:$PORT"
export LIVEKIT_API_KEY=devkey
export LIVEKIT_API_SECRET=secret
export PYTHONUNBUFFERED=1

out=${E2E_OUT:-$root/tests/e2e/out/$(date +%Y%m%d-%H%M%S)-$$}
mkdir -p "$out"
export E2E_OUT="$out"
datadir=$(mktemp -d /tmp/xcord-e2e-data.XXXXXX)
server_log="$out/server.log"
export E2E_SERVER_LOG="$server_log"
server_pid=""

say() { printf '[e2e] %s\n' "$*"; }

show_server_log() {
  echo "---------------- server log (last 150 lines of $server_log) ----------------"
  tail -n 150 "$server_log" 2>/dev/null
  echo "---------------- end of server log ----------------"
}

# Why each failed suite failed, printed last so that it survives a truncated log: node's
# "failing tests" section (each test with its error), pytest's FAILURES and summary.
show_failures() {
  local name log
  for name in "${failed_suites[@]}"; do
    log="$out/$name.log"
    [ -f "$log" ] || continue
    echo "---------------- why suite $name failed (from $log) ----------------"
    case "$name" in
      python|measure)
        # each failed test's name, the failing line and pytest's explanation
        sed -n '/^=\+ FAILURES =\+$/,$p' "$log" | grep -E '^(_{3,} .* _{3,}|>  |E  |FAILED |ERROR )' | head -n 150 ;;
      *)
        sed -n '/^✖ failing tests:/,$p' "$log" | grep -vE '^ *(at |ℹ )' | head -n 120 ;;
    esac
  done
  echo "---------------- end of failures ----------------"
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$server_pid" 2>/dev/null; then
      say "server did not stop within 10 s of SIGTERM; killing it"
      kill -KILL "$server_pid" 2>/dev/null
    fi
  fi
  wait "$server_pid" 2>/dev/null
  server_pid=""
}

suite_pid=""
cleanup() {
  if [ -n "$suite_pid" ]; then
    # the suite's subshell and its direct children (timeout, tee); timeout passes TERM on
    # shellcheck disable=SC2046
    kill -TERM $(pgrep -P "$suite_pid") "$suite_pid" 2>/dev/null
    sleep 1
  fi
  stop_server
  rm -rf "$datadir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

http_status() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

# ---- start the server ---------------------------------------------------------------------------
say "namespace $XCORD_NETNS; logs in $out"
# shellcheck disable=SC2086
NO_COLOR=1 RUST_LOG=${RUST_LOG:-info} "$XCORD_BIN" media --dev --bind "$HOST:$PORT" --node-ip "$HOST" \
  --data-dir "$datadir" ${E2E_SERVER_ARGS:-} >"$server_log" 2>&1 &
server_pid=$!
say "started $XCORD_BIN (pid $server_pid)"

ready_timeout=${E2E_READY_TIMEOUT:-30}
deadline=$((SECONDS + ready_timeout))
ready=0
while [ $SECONDS -lt $deadline ]; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid"; rc=$?; server_pid=""
    say "FAIL: server exited with status $rc before it was ready"
    show_server_log
    exit 1
  fi
  if [ "$(http_status "$XCORD_HTTP/")" = 200 ]; then ready=1; break; fi
  sleep 0.2
done
if [ $ready != 1 ]; then
  say "FAIL: server not ready: GET $XCORD_HTTP/ did not answer 200 within ${ready_timeout}s (last: $(http_status "$XCORD_HTTP/"))"
  show_server_log
  exit 1
fi
say "server ready at $XCORD_HTTP"

# ---- suites -------------------------------------------------------------------------------------
py="$root/.venv/bin/python"
run_suite() {
  local name=$1 limit=$2 dir=$3
  shift 3
  say "==== suite $name (timeout ${limit}s) ===="
  local t0=$SECONDS
  # in the background + wait, so that INT/TERM reach our trap at once
  (cd "$dir" && timeout -k 15 "$limit" "$@" 2>&1 | tee "$out/$name.log"; exit "${PIPESTATUS[0]}") &
  suite_pid=$!
  wait "$suite_pid"
  local rc=$?
  suite_pid=""
  local took=$((SECONDS - t0))
  # test counts from the runner's own summary (pytest: "N passed, M failed"; node: "ℹ pass N")
  local np=0 nf=0 log="$out/$name.log"
  case "$name" in
    python)
      local last
      last=$(grep -E '^=+ .* in [0-9.]+s' "$log" | tail -n 1)
      np=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || true)
      nf=$(( $(grep -oE '[0-9]+ failed' <<<"$last" | grep -oE '[0-9]+' || echo 0) \
           + $(grep -oE '[0-9]+ errors?' <<<"$last" | grep -oE '[0-9]+' || echo 0) )) ;;
    node|browser)
      np=$(grep -E '^ℹ pass [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
      nf=$(( $(grep -E '^ℹ fail [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0) \
           + $(grep -E '^ℹ cancelled [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0) )) ;;
  esac
  np=${np:-0}
  # a failing suite counts at least one failed test, even if it died before reporting any
  if [ "$rc" != 0 ] && [ "$nf" = 0 ]; then nf=1; fi
  tests_passed=$((tests_passed + np)); tests_failed=$((tests_failed + nf))
  local counts="; $np passed"
  [ "$rc" != 0 ] && counts="; $np passed, $nf failed"
  if [ "$name" = measure ]; then counts=""; tests_failed=$((tests_failed - nf)); fi
  [ "$rc" != 0 ] && failed_suites+=("$name")
  if [ "$rc" = 0 ]; then
    results+=("$name: PASS (${took}s$counts)"); passed=$((passed + 1))
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    results+=("$name: FAIL (timed out after ${limit}s)"); failed=$((failed + 1))
  else
    results+=("$name: FAIL (exit $rc, ${took}s$counts)"); failed=$((failed + 1))
  fi
}

results=()
failed_suites=()
passed=0
failed=0
tests_passed=0
tests_failed=0
for s in "${suites[@]}"; do
  case "$s" in
    python)
      # shellcheck disable=SC2086
      run_suite python 1200 "$here/python" "$py" -m pytest -v ${E2E_PYTEST_ARGS:-} test_auth.py test_sfu.py test_roomservice.py test_webhooks.py test_media_plane.py test_loss.py test_shutdown.py test_shutdown_events.py test_control_voice.py test_voice_security.py test_speakers.py test_quality.py test_calls.py test_live.py test_resume.py test_protocol_v1.py test_ice_tcp.py test_openapi_fuzz.py test_security_load.py test_loadtest.py test_metrics.py test_crash_restart.py test_media_node_lost.py ;;
    node)
      run_suite node 300 "$here/node" node --test --test-reporter=spec --test-timeout=150000 rtc-node.test.mjs roomservice.test.mjs webhook.test.mjs protocol-v1.test.mjs ;;
    browser)
      # shellcheck disable=SC2086
      run_suite browser 900 "$here/node" node --test --test-reporter=spec --test-timeout=300000 \
        ${E2E_BROWSER_FILES:-browser/browser.test.mjs browser/webclient.test.mjs browser/calls.test.mjs browser/pip.test.mjs browser/live.test.mjs browser/firefox.test.mjs browser/signal-path.test.mjs browser/protocol-v1.test.mjs browser/mline-reuse.test.mjs browser/tcp-turn.test.mjs browser/red.test.mjs} ;;
    measure)
      run_suite measure 900 "$here/python" "$py" measure_join.py ;;
  esac
  if ! kill -0 "$server_pid" 2>/dev/null; then
    say "server process is gone (crashed or exited during suite $s)"
    results+=("server: FAIL (exited during suite $s)"); failed=$((failed + 1)); tests_failed=$((tests_failed + 1))
    break
  fi
done

stop_server
echo
say "==== summary ===="
for r in "${results[@]}"; do say "$r"; done
if [ $failed -gt 0 ]; then
  show_server_log
  show_failures
  say "logs: $out"
fi
say "suites: $passed passed, $failed failed"
# the closing line counts tests (the measure script is not one)
if [ $((tests_passed + tests_failed)) -gt 0 ]; then
  echo "e2e: $tests_passed passed, $tests_failed failed"
fi
[ $failed = 0 ]
