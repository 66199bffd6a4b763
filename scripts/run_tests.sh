#!/usr/bin/env bash
# Run the whole test suite (and the lint checks) from a fresh clone or an existing checkout.
# Extra arguments go to pytest, e.g. scripts/run_tests.sh -k adam
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh" test,book
cd "$COURSE_ROOT"
echo "[tests] ruff check and ruff format --check"
ruff check .
ruff format --check .
echo "[tests] pytest"
# Two workers fit this course's 2-core machines; torch gets one thread each so they do not fight.
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" python -m pytest -n "${COURSE_TEST_WORKERS:-2}" "$@"
