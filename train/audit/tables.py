"""Cell formatting and table layout shared by the report's files (Markdown tables, CSV text).

Why a module of its own: ``report`` and ``report_mixed`` both lay out tables, and the numbers must read the
same in every section and file (an empty cell, never "nan").
"""

from __future__ import annotations

import csv
import io
import math
from typing import Sequence


def pct(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.1%}"


def num(x: float, digits: int = 4) -> str:
    return "" if not math.isfinite(x) else f"{x:.{digits}f}"


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()
