#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install what one task needs.
#
#   source scripts/setup_env.sh EXTRAS      e.g. "test" or "book"
#
# Safe to run any number of times: the venv is created once, torch is installed only when
# missing, and the package is reinstalled only when pyproject.toml or the extras change.
#
# Environment:
#   COURSE_VENV        where the venv lives (default: .venv in the repository)
#   COURSE_PYTHON      the interpreter that creates it (default: python3)
#   COURSE_TORCH_SPEC  the torch requirement installed first (default: torch==2.13.0, the CPU
#                      wheel on the course machines); "skip" keeps a torch you installed
#                      yourself, e.g. a CUDA build.
set -euo pipefail

course_extras="${1:?usage: source scripts/setup_env.sh EXTRAS}"
COURSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COURSE_VENV="${COURSE_VENV:-$COURSE_ROOT/.venv}"
course_python="${COURSE_PYTHON:-python3}"
course_torch="${COURSE_TORCH_SPEC:-torch==2.13.0}"

if [ ! -x "$COURSE_VENV/bin/python" ]; then
  echo "[setup] creating virtual environment in $COURSE_VENV"
  "$course_python" -m venv "$COURSE_VENV"
fi
# shellcheck disable=SC1091
source "$COURSE_VENV/bin/activate"

# torch first and pinned: the package itself asks for a range (so a user's CUDA build
# satisfies it), and a range with no torch installed would pull several GB of CUDA wheels.
if [ "$course_torch" != "skip" ] && ! python -c "import torch" >/dev/null 2>&1; then
  echo "[setup] installing $course_torch"
  python -m pip install --quiet "$course_torch"
fi

course_stamp="$COURSE_VENV/.course-installed-${course_extras//,/-}-$(sha256sum "$COURSE_ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$course_stamp" ]; then
  echo "[setup] installing course_lib with extras [$course_extras]"
  python -m pip install --quiet -e "$COURSE_ROOT[$course_extras]"
  touch "$course_stamp"
fi
# Debian packages the task needs (a dataset, a browser...), where this machine allows it: as root
# with apt-get. Elsewhere we say what is missing and carry on; the tests that need a package
# report it by name.
course_apt_packages=()
case ",$course_extras," in
  # Fashion-MNIST for the data tests; bubblewrap sandboxes student code when grading; chromium
  # drives the site test as a reader would.
  *,test,*) course_apt_packages+=(dataset-fashion-mnist bubblewrap chromium) ;;
esac
course_missing=()
for pkg in "${course_apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || course_missing+=("$pkg")
done
if [ "${#course_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Debian packages: ${course_missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${course_missing[@]}" >/dev/null
  else
    echo "[setup] note: not installing ${course_missing[*]} (needs root and apt-get); see README.md"
  fi
fi

# The datasets that lie beside a checkout on the course machines (a pre-filled download cache);
# a user's own COURSE_DATA_DIR wins.
if [ -z "${COURSE_DATA_DIR:-}" ] && [ -d "$COURSE_ROOT/../shared/data" ]; then
  COURSE_DATA_DIR="$(cd "$COURSE_ROOT/../shared/data" && pwd)"
  export COURSE_DATA_DIR
fi
export COURSE_ROOT COURSE_VENV
