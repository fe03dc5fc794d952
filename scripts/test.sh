#!/usr/bin/env bash
# README command 2: install whatever is missing, then run the whole test suite.
#   sudo ./scripts/test.sh [pytest args...]
#   sudo ./scripts/test.sh --quick      the unit tier and one real spawn, cold and pooled
#   sudo ./scripts/test.sh tests/unit   one tier (tests/unit, tests/integration, tests/system)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_dockerd_if_started EXIT
export JHUB_KIT_REQUIRE_SERVICES=1
ensure_all
if [ "${1:-}" = "--quick" ]; then
    shift
    cd "$KIT_ROOT"
    say "quick run: the unit tier, then one real spawn (cold and pooled)"
    python -m pytest -q tests/unit "$@"
    python -m pytest -q tests/integration/test_spawn_smoke.py "$@"
    exit 0
fi
ensure_lvm_vm
ensure_browser
ensure_upstream_tests
ensure_pythons
cd "$KIT_ROOT"
say "running the test suite"
python -m pytest "$@"
