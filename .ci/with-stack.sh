#!/usr/bin/env bash
# Runs a command with the local Kafka + registry stack up, and with
# CONNTRAIL_REQUIRE_INTEGRATION=1 so tests that need root, BPF, Kafka or the
# registry fail (never skip) when their part is missing. Stops the stack
# afterwards if this script started it.
set -uo pipefail
cd "$(dirname "$0")/.."
started=0
if ! bash stack/stack.sh status >/dev/null 2>&1; then
  bash stack/stack.sh up || { echo "with-stack: the local stack did not come up (see bash stack/stack.sh logs)" >&2; exit 1; }
  started=1
fi
stop_stack() { if [ "$started" -eq 1 ]; then bash stack/stack.sh down >/dev/null 2>&1 || true; fi; }
trap stop_stack EXIT INT TERM
export CONNTRAIL_REQUIRE_INTEGRATION=1
"$@"
