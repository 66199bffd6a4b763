"""Collect submissions into ``<course>/submitted/<student>/<assignment>/<assignment>.ipynb``.

Sources: nbgrader's exchange directory (``inbound/<student>+<assignment>+<time>/``), a folder
of notebooks (``<student>.ipynb`` or ``<student>/.../*.ipynb``), or an LMS zip export (Canvas:
``lastfirst_12345_67890_<file>.ipynb``, ``lastfirst_LATE_...``; Moodle:
``Full Name_12345_assignsubmission_file_/<file>.ipynb``). Every rejected file is reported with
its reason: not a notebook, unparseable JSON, wrong assignment, no student id, or a duplicate
(the newest copy is kept).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
CANVAS = re.compile(r"^(?P<name>[^_/]+)(?:_late)?_(?P<uid>\d+)_(?P<sub>\d+)_(?P<file>.+)$", re.I)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_\w*?_?$")


@dataclass
class Candidate:
    """One file found in the source."""

    origin: str
    student: str | None
    data: bytes
    mtime: float


@dataclass
class CollectReport:
    """What was collected and what was rejected (origin, reason)."""

    accepted: dict[str, str] = field(default_factory=dict)  # student -> origin
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _from_lms_name(parts: list[str]) -> tuple[str | None, str]:
    """Student id from an LMS path (list of path parts); (None, why) if none fits."""
    for _i, part in enumerate(parts[:-1]):
        m = MOODLE.match(part)
        if m:
            return m["uid"], ""
    m = CANVAS.match(parts[-1])
    if m:
        return m["uid"], ""
    if len(parts) >= 2:
        return parts[0], ""
    stem = parts[-1].rsplit(".", 1)[0]
    return stem, ""


def _from_zip(path: Path) -> list[Candidate]:
    out = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir() or "__MACOSX" in info.filename:
                continue
            parts = [p for p in info.filename.split("/") if p]
            student, _ = _from_lms_name(parts)
            mtime = dt.datetime(*info.date_time).timestamp()
            out.append(Candidate(f"{path.name}:{info.filename}", student, zf.read(info), mtime))
    return out


def _from_folder(path: Path) -> list[Candidate]:
    out = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        parts = list(file.relative_to(path).parts)
        if any(p.startswith(".") or p == "__pycache__" for p in parts):
            continue
        student, _ = _from_lms_name(parts)
        out.append(Candidate(str(file), student, file.read_bytes(), file.stat().st_mtime))
    return out


def _from_exchange(inbound: Path, assignment: str) -> list[Candidate]:
    out = []
    for folder in sorted(p for p in inbound.iterdir() if p.is_dir()):
        bits = folder.name.split("+")
        if len(bits) < 3 or bits[1] != assignment:
            continue
        stamp = folder / "timestamp.txt"
        try:
            text = stamp.read_text().strip() if stamp.exists() else bits[2]
            mtime = dt.datetime.fromisoformat(text.replace(" UTC", "")).timestamp()
        except ValueError:
            mtime = folder.stat().st_mtime
        for file in sorted(folder.rglob("*.ipynb")):
            out.append(Candidate(str(file), bits[0], file.read_bytes(), mtime))
    return out


def find_candidates(source: Path, assignment: str) -> list[Candidate]:
    """Every file in ``source`` (a zip, an exchange directory or a folder)."""
    source = Path(source)
    if source.is_file() and zipfile.is_zipfile(source):
        return _from_zip(source)
    for inbound in (source / "inbound", *source.glob("*/inbound")):
        if inbound.is_dir():
            return _from_exchange(inbound, assignment)
    if source.is_dir():
        return _from_folder(source)
    raise FileNotFoundError(f"{source} is not a folder, an exchange directory or a zip file")


def _problem(c: Candidate, assignment: str, grade_ids: set[str], others: set[str]) -> str:
    """Why a candidate is rejected ('' if it is fine)."""
    name = c.origin.rsplit("/", 1)[-1]
    if not name.endswith(".ipynb"):
        return "not a notebook (only .ipynb files are collected)"
    if c.student is None or not STUDENT_ID.match(c.student):
        return f"no usable student id in the file name ({c.student!r})"
    try:
        nb = json.loads(c.data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"unparseable JSON ({err})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return "JSON, but not a notebook (no list of cells)"
    ids = set()
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            ids.add(meta["grade_id"])
    stem = name.rsplit(".", 1)[0]
    if any(stem.endswith(o) for o in others) and not stem.endswith(assignment):
        return f"wrong assignment (file name {name} names another assignment)"
    if ids and not ids & grade_ids:
        return "wrong assignment (none of its cells belong to this assignment's notebook)"
    if not ids:
        return "no nbgrader cells (not this assignment's notebook, or its metadata was deleted)"
    return ""


def _rank(c: Candidate, assignment: str) -> tuple[bool, float]:
    """A file named after the assignment wins, then the newest."""
    return c.origin.endswith(f"{assignment}.ipynb"), c.mtime


def collect(
    assignment: str,
    source: Path,
    course_dir: Path,
    *,
    grade_ids: set[str],
    other_assignments: set[str] = frozenset(),  # type: ignore[assignment]
) -> CollectReport:
    """Copy every valid submission of ``assignment`` found in ``source`` into the course dir."""
    report = CollectReport()
    best: dict[str, Candidate] = {}
    for c in find_candidates(source, assignment):
        why = _problem(c, assignment, grade_ids, set(other_assignments) - {assignment})
        if why:
            report.rejected.append((c.origin, why))
            continue
        assert c.student is not None
        kept = best.get(c.student)
        if kept is None or _rank(c, assignment) > _rank(kept, assignment):
            if kept is not None:
                report.rejected.append(
                    (kept.origin, f"duplicate for student {c.student}: kept the newer {c.origin}")
                )
            best[c.student] = c
        else:
            report.rejected.append(
                (c.origin, f"duplicate for student {c.student}: kept the newer {kept.origin}")
            )
    for student, c in sorted(best.items()):
        dest = Path(course_dir) / "submitted" / student / assignment
        target = dest / f"{assignment}.ipynb"
        if target.exists() and target.read_bytes() == c.data:
            report.unchanged.append(student)
            continue
        dest.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".ipynb.tmp")
        tmp.write_bytes(c.data)
        os.replace(tmp, target)
        stamp = dt.datetime.fromtimestamp(c.mtime, dt.timezone.utc)
        (dest / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f UTC") + "\n")
        report.accepted[student] = c.origin
    return report


def sha256(path: Path) -> str:
    """Content hash of a submission file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
