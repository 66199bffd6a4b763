"""Drop repeated inline scripts from each page.

sphinx-thebe registers its configuration script (``const THEBE_JS_URL = ...``) every time the
environment reads documents, and Jupyter Book's build reads more than once, so pages carry the
same ``const`` twice and the browser reports "Identifier 'THEBE_JS_URL' has already been
declared". Keeping the first copy of each script leaves the page as intended.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _script_key(script: Any) -> tuple[str, str]:
    # Inline scripts come with filename None or "" depending on who added them.
    filename = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return filename, body


def _on_page_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: it is the builder's own list, and handlers after this one (MathJax's) append
    # to that list; a new list would lose their scripts.
    scripts[:] = unique


def setup(app: Sphinx) -> dict[str, Any]:
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _on_page_context, priority=450)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
