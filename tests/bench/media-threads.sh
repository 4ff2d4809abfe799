#!/usr/bin/env bash
# Forwarding cost with N media threads (BENCHMARKS.md, "Media threads, batching and
# allocations"): starts `xcord media` with `--media-threads $THREADS` on loopback, runs
# `xcord loadtest` against it (ROOMS rooms of 1 publisher + SUBS subscribers, audio) and prints
# its report; with STRACE=1 it also attaches `strace -c -f` to the server for STRACE_SECONDS of
# the measurement window and prints the media syscalls and the packets forwarded meanwhile (from
# the server's /metrics).
#
#   THREADS=2 tests/bench/media-threads.sh            # XCORD_BIN defaults to target/release/xcord
#   THREADS=1 STRACE=1 tests/bench/media-threads.sh
#
# Ports: HTTP $PORT (default 17880), UDP $PORT+2…, ICE-TCP off. Stops only the server it started.
set -euo pipefail

XCORD_BIN=${XCORD_BIN:-target/release/xcord}
THREADS=${THREADS:-1}
ROOMS=${ROOMS:-20}
SUBS=${SUBS:-5}
DURATION=${DURATION:-20}
PORT=${PORT:-17880}
STRACE=${STRACE:-0}
STRACE_SECONDS=${STRACE_SECONDS:-8}
STRACE_DELAY=${STRACE_DELAY:-8}
OUT=${OUT:-$(mktemp -d /tmp/xcord-bench.XXXXXX)}

data=$(mktemp -d /tmp/xcord-bench-data.XXXXXX)
"$XCORD_BIN" media --dev --bind "127.0.0.1:$PORT" --udp-port $((PORT + 2)) --tcp-port 0 \
  --no-turn --node-ip 127.0.0.1 --data-dir "$data" --media-threads "$THREADS" \
  >"$OUT/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break
  sleep 0.1
done

metric_out() {
  curl -s "http://127.0.0.1:$PORT/metrics" |
    awk '/^xcord_sfu_packets_total\{direction="out"\}/ { print $2 }'
}

"$XCORD_BIN" loadtest --url "ws://127.0.0.1:$PORT" --server-pid "$server" --rooms "$ROOMS" \
  --room "bench$THREADS" --publishers 1 --subscribers "$SUBS" --duration "$DURATION" \
  --join-rate 40 --quiet >"$OUT/loadtest.txt" 2>"$OUT/loadtest.err" &
loadtest=$!

if [ "$STRACE" = 1 ]; then
  # Everyone has joined and receives by then (120 joins at 40/s); trace part of the window.
  sleep "$STRACE_DELAY"
  before=$(metric_out)
  timeout -s INT "$STRACE_SECONDS" strace -c -f -p "$server" \
    -e trace=sendto,sendmsg,sendmmsg,recvfrom,recvmsg,recvmmsg,epoll_wait 2>"$OUT/strace.txt" || true
  after=$(metric_out)
  echo "datagrams sent by the server while traced: $(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')"
  cat "$OUT/strace.txt"
fi
wait "$loadtest" || echo "loadtest exit status $?"
cat "$OUT/loadtest.txt"
echo "logs in $OUT"
