"""What every signedge command shares: logging set-up and turning errors into one line."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Collection, Sequence

from edge_runtime.errors import SignedgeError

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the description's examples as written."""


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description, formatter_class=HelpFormatter)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    return p


def setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None, prog: str = "signedge") -> int:
    """Run a command; known problems become ``prog: error: ...`` on stderr and a non-zero exit."""
    try:
        return int(main(argv) or 0)
    except SignedgeError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:  # unwritable output folder, full disk, ...
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILED


def print_table(title: str, head: Sequence[str], body: Sequence[Sequence[object]],
                styles: Sequence[str | None] | None = None, left: Collection[str] = (), width: int = 160) -> None:
    """A results table on the terminal: rich when it is installed, plain text otherwise (a device may lack it).

    Every title, header and cell is escaped: they are data, and rich would read ``pip install
    'signedge[mediapipe]'`` as markup and print ``pip install 'signedge'``. Columns named in ``left`` are
    left-aligned, the others (numbers) right-aligned.
    """
    try:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table
    except ImportError:
        print(title)
        for row in [list(head), *body]:
            print(" | ".join(str(cell) for cell in row))
        return
    table = Table(title=escape(title), title_justify="left")
    for name in head:
        table.add_column(escape(name), justify="left" if name in left else "right", overflow="fold")
    for i, row in enumerate(body):
        table.add_row(*(escape(str(cell)) for cell in row), style=styles[i] if styles else None)
    Console(width=max(width, Console().width)).print(table)
