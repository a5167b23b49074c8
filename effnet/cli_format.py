"""Formatting shared by the command line's subcommands: aligned tables, durations, sizes, progress.

Numbers carry units that fit their size (k, M, G from effnet.units.si; ms) and never appear in
scientific notation.
"""

from __future__ import annotations

from typing import Sequence, TextIO

from .units import NOT_A_NUMBER


def table(header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int] = ()) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) if i in left else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(row) for row in rows]


def milliseconds(value: float) -> str:
    """'5.06 ms', '0.0637 ms', '1,899 ms': three significant digits, never scientific notation."""
    return (f"{value:,.0f}" if value >= 100 else f"{value:.3g}" if value >= 1e-3 else "0") + " ms"


def mib(num_bytes: float | None) -> str:
    """'20.5 MiB' (one decimal, as file managers show a download); '–' when the size is not known."""
    return NOT_A_NUMBER if num_bytes is None else f"{num_bytes / 2**20:,.1f} MiB"


class ProgressBar:
    """A one-line bar on a terminal's stderr, for long latency measurements."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream, self.width, self.shown = stream, width, False

    def __call__(self, fraction: float, message: str) -> None:
        filled = int(round(self.width * max(0.0, min(1.0, fraction))))
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {100 * fraction:3.0f}% {message[:40]:<40}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()




class LineProgress:
    """Progress for a log file or a pipe: one line whenever the message's subject changes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.last = stream, ""

    def __call__(self, fraction: float, message: str) -> None:
        key = message.split(":")[0] + message.split(",")[0]
        if key != self.last:
            self.stream.write(f"[{100 * fraction:5.1f}%] {message}\n")
            self.stream.flush()
            self.last = key

    def close(self) -> None:
        pass


class Quiet:
    """No progress at all (a torchrun process other than the first)."""

    def __call__(self, fraction: float, message: str) -> None:
        pass

    def close(self) -> None:
        pass
