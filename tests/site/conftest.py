"""Fixtures for testing the built site as a reader sees it: the site, a local server, a browser.

The site is the one in ``_build/html`` (or ``$COURSE_SITE_DIR``). When it is missing or older
than the chapters and the book's configuration, the README's site command builds it first; under
pytest-xdist a file lock makes the workers wait for one build instead of racing.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "_build"
ARTIFACTS = BUILD / "test-artifacts" / "site"


def toc_pages() -> list[str]:
    """Every page of the table of contents, as paths relative to the repository, no suffix."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return pages


def _newest_source_mtime() -> float:
    sources = [REPO / "_toc.yml", REPO / "_config.yml", *(REPO / "book").rglob("*")]
    return max(p.stat().st_mtime for p in sources if p.is_file())


def _site_is_current(site: Path) -> bool:
    index = site / "index.html"
    return index.exists() and index.stat().st_mtime >= _newest_source_mtime()


@pytest.fixture(scope="session")
def site_dir() -> Path:
    """The built site; built (once, whatever the number of xdist workers) when out of date."""
    if "COURSE_SITE_DIR" in os.environ:
        site = Path(os.environ["COURSE_SITE_DIR"])
        if not (site / "index.html").exists():
            pytest.fail(f"COURSE_SITE_DIR={site} has no index.html: build the site first")
        return site
    site = BUILD / "html"
    BUILD.mkdir(exist_ok=True)
    with open(BUILD / ".site-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _site_is_current(site):
            result = subprocess.run(
                [str(REPO / "scripts" / "build_site.sh")],
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                pytest.fail(f"the site does not build:\n{result.stdout[-4000:]}\n{result.stderr}")
            # Sphinx leaves an unchanged index.html alone; mark the site as checked-current.
            (site / "index.html").touch()
    return site


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def site_url(site_dir: Path) -> Iterator[str]:
    """The site served over HTTP on a free localhost port, as a host would serve it."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "no Chromium found: the site test drives a headless Chromium. Install Debian's "
        "`chromium` (scripts/run_tests.sh does so when run as root) or put one on PATH."
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium driven by Playwright (the system browser: nothing is downloaded)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: `pip install -e .[test]` (scripts/run_tests.sh does)")
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium's own sandbox cannot start as root in a container.
        chrome = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield chrome
        chrome.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where the site test keeps its screenshots (kept after the run, for people to look at)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
