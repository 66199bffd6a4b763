"""The ``course`` entry point: installed as a console script, and its commands."""

import shutil
import subprocess

import torch
from click.testing import CliRunner

from course_lib.cli import main


def test_info_reports_torch_and_devices():
    result = CliRunner().invoke(main, ["info"])
    assert result.exit_code == 0, result.output
    assert torch.__version__ in result.output
    assert ("cuda:0" in result.output) == torch.cuda.is_available()


def test_formats_prints_finfo_values():
    result = CliRunner().invoke(main, ["formats"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert set(lines) == {"float16", "bfloat16", "float32", "float64"}
    assert f"{torch.finfo(torch.bfloat16).eps:.3e}" in lines["bfloat16"]


def test_console_script_is_installed():
    exe = shutil.which("course")
    assert exe is not None, "the 'course' console script is not on PATH; reinstall the package"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert "course" in out.stdout
