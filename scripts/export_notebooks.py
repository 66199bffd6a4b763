"""Export the site's executed chapters as notebooks for Colab and for download.

    python scripts/export_notebooks.py OUT_DIR

Copies every executed notebook of the built site (``_build/html/_sources/**/*.ipynb``, so build
the site first) into ``OUT_DIR`` with the same paths, and puts one cell at the top that installs
the course's library where it is missing (on Colab). Publish ``OUT_DIR`` as the repository's
``notebooks`` branch: the site's Colab buttons open ``blob/notebooks/<page>.ipynb``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
INSTALL = """# On Colab (or anywhere without the course's library), install it first.
try:
    import course_lib  # noqa: F401
except ImportError:
    %pip install --quiet "course_lib @ git+https://github.com/optimization-for-deep-learning/course"
"""


def export(site_sources: Path, out_dir: Path) -> list[Path]:
    """Copy each executed notebook under ``site_sources`` to ``out_dir`` with an install cell.

    Returns:
        The notebooks written.
    """
    written = []
    for source in sorted(site_sources.rglob("*.ipynb")):
        notebook = nbformat.read(source, as_version=4)
        cell = nbformat.v4.new_code_cell(INSTALL)
        cell.metadata["tags"] = ["colab-setup"]
        notebook.cells.insert(0, cell)
        target = out_dir / source.relative_to(site_sources)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        written.append(target)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    sources = REPO / "_build" / "html" / "_sources"
    if not sources.is_dir():
        print(f"no built site at {sources}: run scripts/build_site.sh first", file=sys.stderr)
        return 1
    written = export(sources, args.out_dir)
    print(f"wrote {len(written)} notebooks to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
