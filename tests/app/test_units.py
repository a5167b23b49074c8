"""app.components.units: durations, ratios, shares and memory sizes on screen, in units that fit.

The reference is IEC 80000-13's binary prefixes (Ki 2^10, Mi 2^20, Gi 2^30) and the units of time:
parsing a shown text back must give the value to within the rounding of 3 significant digits. The SI
counts (effnet.units.si, which the app shows through this module) are tested in tests/effnet/test_units.py.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.components import units  # noqa: E402

IEC = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}


@pytest.mark.parametrize("milliseconds", [m * 10**e for e in range(-3, 7) for m in (1.0, 2.01, 5.5, 9.999)])
def test_durations_pick_their_unit(milliseconds):
    text = units.duration_ms(milliseconds)
    assert not re.search(r"\d[eE][+-]?\d", text), text
    number, unit = text.split(" ")
    seconds = float(number.replace(",", "")) * {"µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}[unit]
    assert seconds == pytest.approx(milliseconds / 1000, rel=0.005)
    if unit != "min":
        assert 1 <= float(number) < 1000 or (unit == "s" and float(number) < 100), text


def test_duration_examples_from_the_issue():
    assert units.duration_ms(2010) == "2.01 s"  # was "2.01e+03 ms" (batch 32)
    assert units.duration_ms(21.34) == "21.3 ms"
    assert units.duration_ms(0.85) == "850 µs"
    assert units.duration_ms(999.9) == "1.00 s"
    assert units.duration_range_ms(199.2, 297.4) == "199–297 ms"
    assert units.duration_range_ms(1950, 2100) == "1.95–2.10 s"


@pytest.mark.parametrize("count", [m * 2**e for e in range(0, 51, 5) for m in (1.0, 1.5, 3.3)])
def test_binary_bytes_round_trip(count):
    text = units.binary_bytes(count)
    number, unit = text.split(" ")
    assert float(number.replace(",", "")) * IEC[unit] == pytest.approx(count, rel=0.005, abs=0.5)
    assert float(number) < 1024, text


def test_binary_bytes_never_shows_four_digits_of_a_unit():
    assert units.binary_bytes(1023.99 * 2**20) == "1.00 GiB"
    assert units.binary_bytes(12.3 * 2**20) == "12.3 MiB"


@pytest.mark.parametrize(("ratio", "expected"), [(1.0, "×1.00"), (23.44, "×23.4"), (9980.2, "×9,980"), (2.5e7, "×25.0 M")])
def test_times(ratio, expected):
    assert units.times(ratio) == expected


def test_changes_carry_no_sign_when_there_is_none():
    assert units.signed_count(0, "px") == "±0 px"
    assert units.signed_count(16, "px") == "+16 px"
    assert units.signed_count(-2, "blocks") == "-2 blocks"
    assert units.signed_si(0) == "±0"
    assert units.signed_si(1_230_000) == "+1.23 M"


def test_not_a_number_is_a_dash_not_nan():
    for text in (units.si(math.nan), units.duration_ms(math.inf), units.binary_bytes(math.nan), units.times(math.inf)):
        assert text == units.NOT_A_NUMBER
