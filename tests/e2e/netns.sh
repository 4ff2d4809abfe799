#!/usr/bin/env bash
# Usage: tests/e2e/netns.sh COMMAND [ARGS...]
#
# Runs COMMAND inside a fresh, uniquely named network namespace with:
#   lo up, and a veth pair xv0 (10.99.0.1/24) <-> xv1 (10.99.0.2/24), both inside the namespace.
# The server binds 10.99.0.1 and advertises it as its ICE host candidate; clients in the same
# namespace reach it over the veth pair. Nothing leaves the namespace.
# The namespace is always deleted on exit (normal exit, failure, or INT/TERM/HUP).
# Exit status is COMMAND's (or 128+signal when interrupted).
# The namespace name is exported to COMMAND as XCORD_NETNS.
set -uo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  echo "netns.sh: must run as root (ip netns)" >&2
  exit 2
fi

ns="xcord-e2e-$$-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
child=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$child" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$child" 2>/dev/null
  fi
  # Processes still left inside the namespace (started by our command) keep nothing alive once
  # the namespace is deleted, but end them so they do not linger. Only PIDs in *our* namespace.
  local pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null; sleep 0.5
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  fi
  ip netns del "$ns" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

set -e
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add xv0 type veth peer name xv1
ip -n "$ns" addr add 10.99.0.1/24 dev xv0
ip -n "$ns" addr add 10.99.0.2/24 dev xv1
ip -n "$ns" link set xv0 up
ip -n "$ns" link set xv1 up
set +e

export XCORD_NETNS="$ns"
# Run in the background and wait, so that a signal to this script reaches the trap at once.
ip netns exec "$ns" "$@" &
child=$!
wait "$child"
rc=$?
child=""
exit "$rc"
