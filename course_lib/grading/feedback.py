"""Per-student HTML feedback: each test's name, points, pass/fail and the plain message.

Built only from result records (test names, descriptions, messages) and the gradebook's manual
scores: no test code, no solution code, no notebook source ever goes in.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4rem;text-align:left;
vertical-align:top}.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}
.msg{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.9em}
"""


def render(result: dict[str, Any], manual: list[dict[str, Any]] | None = None) -> str:
    """The feedback page of one submission."""
    e = html.escape
    rows = []
    for t in result["tests"]:
        ok = t["status"] == "passed"
        rows.append(
            "<tr>"
            f"<td>{e(t['name'])}</td><td>{e(t['description'])}</td>"
            f"<td>{'hidden' if t['hidden'] else 'public'}</td>"
            f"<td>{t['points']:g} / {t['max_points']:g}</td>"
            f"<td class='{'pass' if ok else 'fail'}'>{'passed' if ok else 'failed'}</td>"
            f"<td class='msg'>{e(t['message']) if not ok else ''}</td></tr>"
        )
    notes = "".join(f"<li>{e(n)}</li>" for n in result.get("notes", []))
    manual_rows = ""
    for m in manual or []:
        score = "to be graded by hand" if m["score"] is None else f"{m['score']:g}"
        manual_rows += f"<tr><td>{e(m['name'])}</td><td>{score} / {m['max_score']:g}</td></tr>"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Feedback: {e(result['assignment'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Feedback on {e(result['assignment'])}</h1>",
        f"<p>Student: <b>{e(result['student'])}</b>. Automatic tests: "
        f"<b>{result['score']:g} / {result['max_score']:g}</b> points.</p>",
    ]
    if notes:
        parts.append(f"<h2>About your notebook</h2><ul>{notes}</ul>")
    parts.append(
        "<h2>Tests</h2><table><tr><th>test</th><th>what it checks</th><th>kind</th>"
        f"<th>points</th><th>result</th><th>what went wrong</th></tr>{''.join(rows)}</table>"
    )
    if manual_rows:
        parts.append(
            "<h2>Written answers</h2><table><tr><th>cell</th><th>points</th></tr>"
            f"{manual_rows}</table>"
        )
    parts.append("</body></html>\n")
    return "".join(parts)


def manual_scores(gb: Any, assignment: str, student: str) -> list[dict[str, Any]]:
    """The manually graded cells of a submission, from the gradebook."""
    from nbgrader.api import MissingEntry

    try:
        sub = gb.find_submission(assignment, student)
    except MissingEntry:
        return []
    out = []
    for nb in sub.notebooks:
        for grade in nb.grades:
            if grade.cell.cell_type == "markdown":
                score = grade.manual_score if grade.manual_score is not None else None
                out.append({"name": grade.name, "score": score, "max_score": grade.max_score})
    return out


def write_feedback(course_dir: Path, assignment: str) -> list[Path]:
    """Write ``feedback/<student>/<assignment>/feedback.html`` for every graded submission."""
    from course_lib.grading.gradebook import open_gradebook

    written = []
    root = Path(course_dir) / "autograded"
    with open_gradebook(course_dir) as gb:
        for path in sorted(root.glob(f"*/{assignment}/result.json")):
            result = json.loads(path.read_text(encoding="utf-8"))
            page = render(result, manual_scores(gb, assignment, result["student"]))
            out = Path(course_dir) / "feedback" / result["student"] / assignment / "feedback.html"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(page, encoding="utf-8")
            written.append(out)
    return written
