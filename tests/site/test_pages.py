"""The built site, read as a reader reads it: in a headless Chromium, page by page.

For every page in the table of contents: it loads over HTTP, the browser console shows no
errors, no request fails, every formula was typeset by MathJax (no raw TeX left), every image
loaded, and every internal link (and its #fragment) resolves. A full-page screenshot of each page
is kept in ``_build/test-artifacts/site``. Search must find the optimizer chapters.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.site.conftest import toc_pages

PAGES = toc_pages()

# MathJax 3 typesets after the load event; wait for it where the page loads it.
_WAIT_FOR_MATHJAX = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
}"""

# Formulas MathJax did not turn into rendered output, and TeX errors it rendered in red.
_UNRENDERED_MATH = """() => {
  const math = [...document.querySelectorAll('span.math, div.math')];
  const raw = math.filter(n => !n.querySelector('mjx-container')).map(n => n.textContent);
  const errors = [...document.querySelectorAll('mjx-merror')].map(n => n.textContent);
  const main = document.querySelector('main') || document.body;
  const prose = main.cloneNode(true);
  prose.querySelectorAll('pre, code, mjx-container, script, style').forEach(n => n.remove());
  return {raw, errors, text: prose.textContent};
}"""

_BROKEN_IMAGES = """() => [...document.images]
  .filter(img => !(img.complete && img.naturalWidth > 0))
  .map(img => img.currentSrc || img.src)"""

_LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"

# Delimiters that only survive into the text when a formula was not parsed as maths.
_RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\frac\{")


def _open(browser, url: str):
    """Load ``url`` in a fresh page, recording console errors and failed requests."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    page.goto(url, wait_until="load")
    page.evaluate(_WAIT_FOR_MATHJAX)
    return page, problems


@cache
def _ids_in(path: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\sid="([^"]+)"', path.read_text(errors="replace")))


def _broken_internal_links(site_dir: Path, site_url: str, hrefs: list[str]) -> list[str]:
    broken = []
    for href in sorted(set(hrefs)):
        if not href.startswith(site_url):
            continue  # external links are not this test's business (no internet in CI)
        parts = urlsplit(href)
        target = site_dir / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{href}: no such file")
        elif (
            parts.fragment
            and target.suffix == ".html"
            and unquote(parts.fragment) not in _ids_in(target)
        ):
            broken.append(f"{href}: no element with id {parts.fragment!r}")
    return broken


def test_every_toc_page_was_built(site_dir):
    missing = [p for p in PAGES if not (site_dir / f"{p}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no HTML: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("page_path", PAGES)
def test_page_reads_cleanly(page_path, site_dir, site_url, browser, artifacts_dir):
    page, problems = _open(browser, f"{site_url}/{page_path}.html")
    try:
        page.screenshot(
            path=str(artifacts_dir / f"{page_path.replace('/', '__')}.png"), full_page=True
        )
        math = page.evaluate(_UNRENDERED_MATH)
        broken_images = page.evaluate(_BROKEN_IMAGES)
        links = page.evaluate(_LINKS)
        title = page.title()
    finally:
        page.close()
    assert title.strip(), "the page has no title"
    assert not problems, "\n".join(problems)
    assert not math["raw"], f"formulas left untypeset: {math['raw'][:5]}"
    assert not math["errors"], f"TeX errors: {math['errors'][:5]}"
    leftover = sorted(set(_RAW_TEX.findall(math["text"])))
    assert not leftover, f"raw TeX in the prose: {leftover}"
    assert not broken_images, f"images that did not load: {broken_images}"
    broken = _broken_internal_links(site_dir, site_url, links)
    assert not broken, "broken internal links:\n" + "\n".join(broken)


@pytest.mark.slow
def test_search_finds_adam(site_url, browser):
    page, problems = _open(browser, f"{site_url}/search.html?q=Adam")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=30_000)
        results = page.eval_on_selector_all(
            "#search-results ul.search li a", "els => els.map(a => a.getAttribute('href'))"
        )
    finally:
        page.close()
    assert not problems, "\n".join(problems)
    assert any("optimizers/" in href for href in results), f"search for Adam found {results}"


@pytest.mark.slow
def test_pages_offer_downloads_and_launch_buttons(site_dir):
    for page_path in PAGES:
        html = (site_dir / f"{page_path}.html").read_text()
        name = Path(page_path).name
        if "bibliography" in page_path:
            continue  # a plain page, not a notebook: nothing to run
        for suffix in (".ipynb", ".md"):
            assert f"_sources/{page_path}{suffix}" in html, f"{page_path}: no {suffix} download"
            assert (site_dir / "_sources" / f"{page_path}{suffix}").is_file(), page_path
        assert "mybinder.org/v2/gh/" in html, f"{page_path}: no Binder launch button"
        assert re.search(rf"colab\.research\.google\.com/github/[^\"]*/{name}\.ipynb", html), (
            f"{page_path}: the Colab button must open a notebook (.ipynb), not the .md source"
        )
