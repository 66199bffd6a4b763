"""Names an assignment forbids (e.g. ``torch.optim.SGD``): a static check and a runtime block.

Static (trusted side): :func:`find_forbidden` walks the AST of the answer source and reports
``torch.optim.SGD``, ``optim.SGD``, ``from torch.optim import SGD``, ``import torch.optim.sgd``,
``getattr(torch.optim, "SGD")`` and any use of a forbidden module (``course_lib.optim``).

Runtime (worker side, before student code runs): :func:`block` replaces each forbidden class or
function with a stub that raises when it is called, instantiated or subclassed, in its package
and in the submodule that defines it; a forbidden module (``"course_lib.optim.*"``) cannot be
imported. Neither check is complete against a determined student (see the grading README).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import sys
from typing import Any


class ForbiddenError(RuntimeError):
    """A forbidden name was used."""


def _split(name: str) -> tuple[str, str | None]:
    """``"torch.optim.SGD"`` -> ``("torch.optim", "SGD")``; ``"x.y.*"`` -> ``("x.y", None)``."""
    if name.endswith(".*"):
        return name[:-2], None
    module, _, attr = name.rpartition(".")
    return module, attr


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def find_forbidden(source: str, forbid: list[str] | tuple[str, ...]) -> list[str]:
    """Plain-words descriptions of every use of a forbidden name in ``source`` (empty if none).

    Code that does not parse is reported by the caller elsewhere; here it yields no findings.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    attrs = {a for m, a in map(_split, forbid) if a}
    modules = {m for m, a in map(_split, forbid) if a is None}
    parents = {m for m, a in map(_split, forbid) if a}
    found: list[str] = []

    def hit(node: ast.AST, what: str) -> None:
        found.append(f"line {getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            full = [f"{node.module}.{a.name}" for a in node.names]
            if any(f == m or f.startswith(m + ".") for f in full for m in modules):
                hit(node, f"imports a module this assignment forbids from {node.module}")
            elif any(node.module == m or node.module.startswith(m + ".") for m in modules):
                hit(node, f"imports from {node.module}, which this assignment forbids")
            elif any(node.module == p or node.module.startswith(p + ".") for p in parents):
                for alias in node.names:
                    if alias.name in attrs or alias.name == "*":
                        hit(node, f"imports {alias.name} from {node.module}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(alias.name == m or alias.name.startswith(m + ".") for m in modules):
                    hit(node, f"imports {alias.name}, which this assignment forbids")
                elif any(alias.name.startswith(p + ".") for p in parents) and (
                    alias.name.rpartition(".")[2] in {a.lower() for a in attrs}
                ):
                    hit(node, f"imports {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in attrs:
            hit(node, f"uses {_dotted(node) or node.attr}")
        elif isinstance(node, ast.Attribute) and modules:
            dotted = _dotted(node)
            if dotted and any(dotted == m or dotted.startswith(m + ".") for m in modules):
                hit(node, f"uses {dotted}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "__import__")
        ):
            for arg in node.args:
                is_text = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                if is_text and (
                    arg.value in attrs or any(arg.value.startswith(m) for m in modules)
                ):
                    hit(node, f"looks up {arg.value!r} dynamically")
    return list(dict.fromkeys(found))


def _stub(qualname: str) -> type:
    message = f"{qualname} is not allowed in this assignment: write it yourself"

    class Forbidden:
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            raise ForbiddenError(message)

        def __init_subclass__(cls, **kwargs: Any) -> None:
            raise ForbiddenError(message)

        def __getattr__(self, name: str) -> Any:
            raise ForbiddenError(message)

    Forbidden.__name__ = Forbidden.__qualname__ = qualname.rpartition(".")[2]
    return Forbidden


def block(forbid: list[str] | tuple[str, ...]) -> list[str]:
    """Make every forbidden name unusable in this process; returns notes on what was blocked."""
    notes: list[str] = []
    for name in forbid:
        module_name, attr = _split(name)
        if attr is None:
            for key in [
                k for k in sys.modules if k == module_name or k.startswith(module_name + ".")
            ]:
                sys.modules[key] = None  # type: ignore[assignment]  # import now raises
            parent, _, child = module_name.rpartition(".")
            if parent in sys.modules and sys.modules[parent] is not None:
                with contextlib.suppress(AttributeError):
                    delattr(sys.modules[parent], child)
            if module_name not in sys.modules:
                sys.modules[module_name] = None  # type: ignore[assignment]
            notes.append(f"blocked module {module_name}")
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        original = getattr(module, attr, None)
        stub = _stub(name)
        setattr(module, attr, stub)
        defining = getattr(original, "__module__", None)
        home = sys.modules.get(defining) if defining else None
        if home is not None and getattr(home, attr, None) is original:
            setattr(home, attr, stub)
        notes.append(f"blocked {name}")
    return notes
