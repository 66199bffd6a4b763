#!/usr/bin/env bash
# Build a few chapters on their own, for writing and reviewing them quickly:
#
#   scripts/build_pages.sh book/losses/focal-loss.md [more pages...]
#
# The pages (plus the home page) are built with the site's configuration into
# _build/pages/<name>/html, with their own execution cache, so several people (or several
# terminals) can build different pages at once without touching the full site's build or cache.
# Warnings fail the build as they do for the site; a reference to a page left out also warns.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh" book
cd "$COURSE_ROOT"
[ "$#" -gt 0 ] || { echo "usage: scripts/build_pages.sh PAGE.md [PAGE.md...]" >&2; exit 2; }
name="$(basename "${1%.md}")"
work="$COURSE_ROOT/_build/pages/$name"
mkdir -p "$work"
{
  echo "format: jb-book"
  echo "root: book/index"
  echo "chapters:"
  for page in "$@"; do
    [ -f "$page" ] || { echo "no such page: $page" >&2; exit 2; }
    echo "  - file: ${page%.md}"
  done
  echo "  - file: book/bibliography"
} >"$work/_toc.yml"
# The copy lives elsewhere, so paths the configuration gives relative to itself become absolute.
sed -e "s#^  cache: .jupyter_cache#  cache: $work/.jupyter_cache#" \
  -e "s#: book/_ext#: $COURSE_ROOT/book/_ext#" _config.yml >"$work/_config.yml"
start=$(date +%s)
jupyter-book build . --toc "$work/_toc.yml" --config "$work/_config.yml" --path-output "$work" \
  -W --keep-going
echo "[pages] built in $(( $(date +%s) - start )) s: open $work/_build/html/index.html"
