"""Tables on the terminal, drawn by rich: one place for the console's settings.

Output to a pipe or a file is plain (no colour codes) and wide enough not to cut cells, so that
`teamlens report > report.txt` keeps every figure.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

from rich import box
from rich.console import Console
from rich.table import Table

PIPE_WIDTH = 200  # columns when stdout is not a terminal


def console() -> Console:
    """A console on stdout: the terminal's width, or PIPE_WIDTH without colour when piped."""
    tty = sys.stdout.isatty()
    return Console(highlight=False, width=None if tty else PIPE_WIDTH, no_color=not tty, soft_wrap=False)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, right: Sequence[str] = (), title: str | None = None
) -> Table:
    """A table with these column headers and rows of text; columns named in `right` are right-aligned."""
    drawn = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", show_edge=False, pad_edge=False)
    for header in headers:
        drawn.add_column(header, justify="right" if header in right else "left", overflow="fold")
    for row in rows:
        drawn.add_row(*row)
    return drawn
