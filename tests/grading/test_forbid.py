"""The static check for forbidden names, and the runtime block."""

from __future__ import annotations

import subprocess
import sys

import pytest

from course_lib.grading.forbid import find_forbidden

FORBID = ["torch.optim.SGD", "course_lib.optim.*"]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\nopt = torch.optim.SGD([], lr=1)",
        "from torch import optim\nclass A(optim.SGD): pass",
        "from torch.optim import SGD",
        "from torch.optim.sgd import SGD as S",
        "import torch.optim.sgd",
        "getattr(torch.optim, 'SGD')",
        "import course_lib.optim",
        "from course_lib.optim import Adam",
        "from course_lib import optim\noptim.Adam",
    ],
)
def test_finds_forbidden_uses(source: str) -> None:
    assert find_forbidden(source, FORBID)


def test_clean_code_passes() -> None:
    src = "import torch\nclass MySGD(torch.optim.Optimizer):\n    '''Like SGD.'''\n"
    assert find_forbidden(src, FORBID) == []


def test_runtime_block() -> None:
    code = (
        "from course_lib.grading.forbid import block, ForbiddenError\n"
        "block(['torch.optim.SGD'])\n"
        "import torch\n"
        "for make in (lambda: torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1),\n"
        "             lambda: type('X', (torch.optim.SGD,), {})):\n"
        "    try:\n        make(); print('ALLOWED')\n"
        "    except ForbiddenError:\n        print('blocked')\n"
        "from torch.optim.sgd import SGD\n"
        "try:\n    SGD([], lr=1); print('ALLOWED')\nexcept ForbiddenError:\n    print('blocked')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["blocked"] * 3, out.stderr
