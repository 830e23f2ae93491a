#!/bin/bash
# bench_response.sh - exec -> containment through the manager (issue 5's goal: p50/p99 <= 1 s).
# Runs tests/integration/test_response_modes.sh with ROUNDS fully-managed rounds: each round
# execs a new binary that a critical rule matches at the manager; the playbook queues
# kill_tree (policy auto), the link sends it, the agent kills the process. The time is from
# the exec to the process gone, measured by the script. Usage: bench_response.sh BUILD_DIR
# [ROUNDS (default 30)]. Needs root (the agent), loopback only.
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${2:-30} exec "$HERE/../tests/integration/test_response_modes.sh" "${1:?build dir}"
