"""Numbers with units that fit their size: the one place the app turns a quantity into text.

SI counts come from effnet.units (the command line shows them the same way); durations, ratios,
shares and binary sizes are added here. Every figure on screen goes through these helpers, so a
projector never shows "3.85e+03 B" or "2359.00 M": three significant digits, an SI prefix chosen
by the size (k, M, G, T, P), and never scientific notation. Binary prefixes (KiB, MiB, GiB) are for memory, as operating systems show it.
"""

from __future__ import annotations

import math

from effnet.units import NOT_A_NUMBER, fixed_point, round_significant, si

BINARY_PREFIXES = ((2**50, "PiB"), (2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "B"))


def signed_si(value: float, unit: str = "") -> str:
    """A change with its sign: '+1.23 M', '-450 k', and '±0' for no change."""
    if value == 0:
        return f"±0 {unit}".strip()
    return ("+" if value > 0 else "") + si(value, unit)


def binary_bytes(count: float) -> str:
    """Memory in binary units: 12_900_000 -> '12.3 MiB', 1.3e9 -> '1.21 GiB', 1023.9 MiB -> '1.00 GiB'."""
    if count is None or not math.isfinite(count):
        return NOT_A_NUMBER
    magnitude = abs(count)
    sign = "-" if count < 0 else ""
    if magnitude < 1024:
        return f"{sign}{magnitude:.0f} B"
    for factor, unit in reversed(BINARY_PREFIXES[:-1]):  # KiB first
        rounded = round_significant(magnitude / factor, 3)
        if rounded < 1000 or unit == BINARY_PREFIXES[0][1]:
            break
    if rounded >= 1000:  # beyond PiB
        return f"{sign}{rounded:,.0f} {unit}"
    return f"{sign}{fixed_point(rounded)} {unit}"


def signed_count(change: int, unit: str = "") -> str:
    """A whole-number change: '+16 px', '-2 blocks', '±0 px' (no sign claims a direction it lacks)."""
    if change == 0:
        return f"±0 {unit}".strip()
    return f"{change:+,d} {unit}".strip()


def duration_ms(milliseconds: float) -> str:
    """A duration given in ms, in the unit that fits: '850 µs', '21.3 ms', '2.01 s', '3.50 min'."""
    if milliseconds is None or not math.isfinite(milliseconds):
        return NOT_A_NUMBER
    seconds = round_significant(abs(milliseconds), 3) / 1000
    if seconds < 1e-3:
        value, unit = seconds * 1e6, "µs"
    elif seconds < 1:
        value, unit = seconds * 1e3, "ms"
    elif seconds < 100:
        value, unit = seconds, "s"
    else:
        value, unit = seconds / 60, "min"
    value = round_significant(value, 3)
    if unit == "µs" and value >= 1000:
        value, unit = 1.0, "ms"
    if unit == "ms" and value >= 1000:
        value, unit = 1.0, "s"
    return ("-" if milliseconds < 0 else "") + f"{fixed_point(value) if value < 1000 else f'{value:,.0f}'} {unit}"


def wall_time(seconds: float | None) -> str:
    """A long run's wall-clock time: '42 s', '12.3 min', '3.25 h'; 'not recorded' when missing or zero
    (a run that took no time was not timed)."""
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return "not recorded"
    if seconds < 100:
        return f"{fixed_point(round_significant(seconds, 3))} s"
    if seconds < 100 * 60:
        return f"{fixed_point(round_significant(seconds / 60, 3))} min"
    return f"{fixed_point(round_significant(seconds / 3600, 3)) if seconds < 1000 * 3600 else f'{seconds / 3600:,.0f}'} h"


def duration_range_ms(low: float, high: float) -> str:
    """A spread in one unit, the unit of its upper end: '199–297 ms', '1.95–2.10 s'."""
    upper = duration_ms(high)
    unit = upper.rsplit(" ", 1)[-1]
    factor = {"µs": 1e-3, "ms": 1.0, "s": 1e3, "min": 6e4}[unit]
    return f"{fixed_point(round_significant(low / factor, 3)) if low > 0 else '0'}–{upper}"


def times(ratio: float) -> str:
    """A ratio as a factor: '×1.00', '×23.4', '×9,980'; never '×9980.00' or '×1e+04'."""
    if ratio is None or not math.isfinite(ratio):
        return NOT_A_NUMBER
    if ratio >= 1e6:
        return "×" + si(ratio)
    rounded = round_significant(ratio, 3)
    if rounded >= 1000:
        return f"×{rounded:,.0f}"
    return "×" + fixed_point(rounded)


def percent(share: float) -> str:
    """A share in [0, 1] as '38.2 %' (one decimal; '<0.1 %' for a tiny non-zero share)."""
    if share is None or not math.isfinite(share):
        return NOT_A_NUMBER
    if 0 < share < 0.0005:
        return "<0.1 %"
    return f"{100 * share:.1f} %"


def signed_points(change: float) -> str:
    """A change of a probability in percentage points: '+14.3 pp', '−5.4 pp', '±0 pp' (one decimal)."""
    if change is None or not math.isfinite(change):
        return NOT_A_NUMBER
    points = round(100 * change, 1)
    if points == 0:
        return "±0 pp"
    return f"{'+' if points > 0 else '−'}{abs(points):.1f} pp"
