#!/usr/bin/env bash
# README command 2: install whatever is missing, then run the whole test suite.
#   sudo ./scripts/test.sh [pytest args...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_dockerd_if_started EXIT
export JHUB_KIT_REQUIRE_SERVICES=1
ensure_all
ensure_lvm_vm
ensure_browser
ensure_upstream_tests
ensure_pythons
cd "$KIT_ROOT"
say "running the test suite"
python -m pytest "$@"
