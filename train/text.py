"""Plain-text pieces of the data commands' output: percentages and aligned tables that survive logs and pipes.

Its own module because library progress lines (``sign-record``'s samples) and
the CLIs' summaries (``sign-extract``) format the same way, and Hangul labels
need their double terminal width counted in one place.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, Sequence


def _width(text: str) -> int:
    """Columns a string takes in a terminal: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain aligned text table (numbers right-aligned) that survives logs and pipes."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(r[i].replace(".", "", 1).replace("%", "").isdigit() for r in cells[1:]) and len(cells) > 1
               for i in range(len(headers))]
    lines = []
    for k, row in enumerate(cells):
        parts = []
        for i, text in enumerate(row):
            pad = " " * (widths[i] - _width(text))
            parts.append(pad + text if numeric[i] and k > 0 else text + pad)
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"
