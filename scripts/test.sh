#!/usr/bin/env bash
# README command 2: install whatever is missing, then run the whole test suite.
#   sudo ./scripts/test.sh [pytest args...]
#   sudo ./scripts/test.sh --quick      the pure tests and one real spawn (a few minutes)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_dockerd_if_started EXIT
export JHUB_KIT_REQUIRE_SERVICES=1
ensure_all
if [ "${1:-}" = "--quick" ]; then
    shift
    cd "$KIT_ROOT"
    say "quick run: the tests that need no service, then one real spawn (cold and pooled)"
    python -m pytest -q -m "not docker and not hub and not root" "$@"
    python -m pytest -q tests/test_spawn_smoke.py "$@"
    exit 0
fi
ensure_lvm_vm
ensure_browser
ensure_upstream_tests
ensure_pythons
cd "$KIT_ROOT"
say "running the test suite"
python -m pytest "$@"
