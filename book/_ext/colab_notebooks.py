"""Point the Colab launch button at a notebook.

The chapters are MyST Markdown, and Colab opens only ``.ipynb`` files from GitHub, so the theme's
Colab link (``.../blob/<branch>/<page>.md``) would open nothing. The executed notebooks of the
site are published on a branch of their own (``colab_notebooks_branch``, default ``notebooks``;
``scripts/export_notebooks.py`` writes them, with a first cell that installs the course's
library), and this extension rewrites the Colab link to ``.../blob/<that branch>/<page>.ipynb``.
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx

_COLAB_PATH = re.compile(r"(/github/[^/]+/[^/]+/blob/)[^/]+/(?:\./)?(.+?)\.(?:md|ipynb)$")


def _rewrite_colab_link(button: dict[str, Any], branch: str) -> None:
    url = button.get("url", "")
    if "colab.research.google.com" in url:
        button["url"] = _COLAB_PATH.sub(rf"\g<1>{branch}/\g<2>.ipynb", url)


def _on_page_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            _rewrite_colab_link(button, app.config.colab_notebooks_branch)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("colab_notebooks_branch", "notebooks", "html")
    # After sphinx-book-theme adds its launch buttons (priority 501) and before they are drawn.
    app.connect("html-page-context", _on_page_context, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
