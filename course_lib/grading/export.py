"""Grade exports from nbgrader's gradebook: plain CSV, Canvas and Gradescope layouts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from course_lib.grading.gradebook import open_gradebook, scores

FORMATS = ("csv", "canvas", "gradescope")


def export(course_dir: Path, assignments: list[str], fmt: str) -> str:
    """The CSV text of ``fmt`` for ``assignments`` (Gradescope: exactly one assignment)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    with open_gradebook(course_dir) as gb:
        rows = {a: scores(gb, a) for a in assignments}
        maxima = {a: gb.find_assignment(a).max_score for a in assignments}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    if fmt == "csv":
        cols = ["student_id", "first_name", "last_name", "email", "assignment"]
        cols += ["auto_score", "manual_score", "score", "max_score", "needs_manual_grade"]
        w.writerow(cols)
        for a in assignments:
            for r in rows[a]:
                w.writerow(
                    [
                        r["student"],
                        r["first_name"],
                        r["last_name"],
                        r["email"],
                        a,
                        f"{r['auto_score']:g}",
                        f"{r['manual_score']:g}",
                        f"{r['score']:g}",
                        f"{r['max_score']:g}",
                        str(r["needs_manual_grade"]).lower(),
                    ]
                )
    elif fmt == "canvas":
        # Canvas's gradebook import: identity columns, then one column per assignment,
        # and a "Points Possible" row under the header.
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *assignments])
        w.writerow(
            ["    Points Possible", "", "", "", "", *(f"{maxima[a]:g}" for a in assignments)]
        )
        identity: dict[str, dict] = {}
        marks: dict[str, dict[str, str]] = {}
        for a in assignments:
            for r in rows[a]:
                identity.setdefault(r["student"], r)
                marks.setdefault(r["student"], {})[a] = f"{r['score']:g}"
        for sid in sorted(identity):
            r = identity[sid]
            name = f"{r['last_name']}, {r['first_name']}".strip(", ") or sid
            row = [name, r["lms_id"] or sid, sid, sid, ""]
            w.writerow(row + [marks[sid].get(a, "") for a in assignments])
    else:
        if len(assignments) != 1:
            raise ValueError("the Gradescope layout holds one assignment: name it")
        w.writerow(["Name", "SID", "Email", "Total Score"])
        for r in rows[assignments[0]]:
            name = f"{r['first_name']} {r['last_name']}".strip() or r["student"]
            w.writerow([name, r["student"], r["email"], f"{r['score']:g}"])
    return out.getvalue()


def write_export(course_dir: Path, assignments: list[str], fmt: str, out: Path) -> Path:
    """Write :func:`export`'s text to ``out``."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(export(course_dir, assignments, fmt), encoding="utf-8")
    return Path(out)
