#!/usr/bin/env bash
# Build the course site (Jupyter Book 1) into _build/html, executing every chapter.
# Unchanged chapters come from the execution cache, so a second run is quick.
# Extra arguments go to `jupyter-book build`, e.g. scripts/build_site.sh --all
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh" book
cd "$COURSE_ROOT"
# -W: a warning (a failing cell, a broken reference) fails the build; readers never see a traceback.
jupyter-book build . -W --keep-going "$@"
echo "[site] open $COURSE_ROOT/_build/html/index.html"
