"""``course check``: a student's public tests through the grading harness, and the hidden count."""

from __future__ import annotations

import json

import nbformat
import pytest
from click.testing import CliRunner

from course_lib.cli import main
from course_lib.grading.runner import load_suite

from .helpers import FIXTURES, edited, solution_answers, write

pytestmark = pytest.mark.slow


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("check")
    out = tmp / "assignments"
    invoke(
        "release",
        "tiny",
        "--solutions",
        str(FIXTURES),
        "--assignments",
        str(out),
        "--dist",
        str(tmp / "dist"),
    )
    return out / "tiny"


def test_check_passes_the_solution_and_announces_the_hidden_tests(released, tmp_path):
    release_nb = nbformat.read(released / "tiny.ipynb", as_version=4)
    notebook = write(edited(release_nb, solution_answers()), released / "mine.ipynb")
    output = invoke("check", str(notebook))
    public = load_suite(FIXTURES / "tiny" / "public_tests.py")
    hidden = load_suite(FIXTURES / "tiny" / "hidden_tests.py")
    for test in public:
        assert f"PASSED {test.name}" in output
    assert f"public tests: {public.total_points:g} / {public.total_points:g} points" in output
    assert f"{len(hidden)} hidden tests worth {hidden.total_points:g} points" in output
    # Nothing of the hidden tests' code reaches the student.
    for line in (FIXTURES / "tiny" / "hidden_tests.py").read_text().splitlines():
        if len(line.strip()) > 30:
            assert line.strip() not in output


def test_check_fails_the_untouched_release_with_plain_messages(released):
    output = invoke("check", str(released / "tiny.ipynb"))
    public = load_suite(FIXTURES / "tiny" / "public_tests.py")
    for test in public:
        assert f"FAILED {test.name}" in output
    assert f"public tests: 0 / {public.total_points:g} points" in output
    manifest = json.loads((released / "manifest.json").read_text())
    assert f"{manifest['hidden_count']} hidden tests" in output
