"""``sign-bench``'s terminal tables print every cell as written: cells are data, never rich markup."""

from __future__ import annotations

import pytest

from benchmarks.cli.bench import _print_table


def test_brackets_in_titles_headers_and_cells_are_printed_not_read_as_markup(capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("rich", reason="the console table is plain text without rich")
    _print_table("Pipeline [litert]", ["backend", "note [ms]"],
                 [["mediapipe", "not installed (pip install 'signedge[mediapipe]')"], ["litert", "[bold]x[/bold]"]],
                 styles=["dim", None])
    out = capsys.readouterr().out
    assert "pip install 'signedge[mediapipe]'" in out  # rich alone would print: pip install 'signedge'
    assert "[bold]x[/bold]" in out and "Pipeline [litert]" in out and "note [ms]" in out
