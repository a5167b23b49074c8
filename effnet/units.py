"""Numbers with SI prefixes: the one place a count (parameters, multiply-adds, bytes, FLOP/s) becomes text.

The command line and the app (app.components.units builds its durations, ratios and binary sizes on
these) show every figure with three significant digits and a prefix chosen by its size (k, M, G, T,
P), never in scientific notation: a projector never shows "3.85e+03 B" or "2359.00 M".
Pure Python: no torch, no Streamlit.
"""

from __future__ import annotations

import math

SI_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))
NOT_A_NUMBER = "–"


def fixed_point(value: float, significant: int = 3) -> str:
    """A non-negative value below 1000 with `significant` digits, fixed-point: 1.00, 21.3, 386."""
    if value == 0:
        return "0"
    decimals = max(0, significant - 1 - math.floor(math.log10(value)))
    return f"{value:.{decimals}f}"


def round_significant(value: float, significant: int = 3) -> float:
    """`value` rounded to `significant` digits, so that 999.7 becomes 1000 and gets the next prefix."""
    if value == 0:
        return 0.0
    return round(value, significant - 1 - math.floor(math.log10(value)))


def _scaled(value: float, prefixes: tuple[tuple[float, str], ...]) -> tuple[float, str]:
    for factor, prefix in prefixes:
        if value >= factor:
            return value / factor, prefix
    return value / prefixes[-1][0], prefixes[-1][1]


def si(value: float | None, unit: str = "", significant: int = 3) -> str:
    """`value` with an SI prefix: 5_288_548 -> '5.29 M', 3.85e12 with unit 'FLOP/s' -> '3.85 TFLOP/s'.

    `unit` is a symbol glued to the prefix (FLOP/s, B); for a word, append it: si(1234) + " images/s".

    Values below 1 keep up to `significant` digits in plain notation (0.5 -> '0.500'); the largest
    prefix is P (10^15), above which the number grows ('1,230 P'). None, NaN and infinity give '–'.
    """
    if value is None or not math.isfinite(value):
        return NOT_A_NUMBER
    sign = "-" if value < 0 else ""
    magnitude = round_significant(abs(value), significant)
    if magnitude >= 1000 * SI_PREFIXES[0][0]:
        text, prefix = f"{magnitude / SI_PREFIXES[0][0]:,.0f}", SI_PREFIXES[0][1]
    elif magnitude >= 1 or magnitude == 0:
        scaled, prefix = _scaled(magnitude, SI_PREFIXES)
        text = fixed_point(round_significant(scaled, significant), significant)
    else:
        text, prefix = fixed_point(magnitude, significant), ""
    space = " " if prefix or unit else ""
    return f"{sign}{text}{space}{prefix}{unit}"
