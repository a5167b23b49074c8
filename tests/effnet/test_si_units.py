"""effnet.units.si: every count, from 1 to 10^15, in SI units that fit its size (app and command line).

The reference is the SI prefix table (BIPM, SI Brochure 9th ed., Table 7: k 10^3, M 10^6, G 10^9,
T 10^12, P 10^15): parsing a shown text back with it must give the value to within the rounding of
3 significant digits.
"""

from __future__ import annotations

import math
import re

import pytest

from effnet import units

SI = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
SHAPE = re.compile(r"^-?(\d{1,3}(?:\.\d+)?|\d{1,3}(?:,\d{3})+)(?: ([kMGTP]?)(.*))?$")
MAGNITUDES = [mantissa * 10**exponent for exponent in range(16) for mantissa in (1.0, 1.234, 2.5, 4.999, 9.996)]


def parse_si(text: str, unit: str = "") -> float:
    match = SHAPE.match(text)
    assert match, f"{text!r} is not '<1-3 digits>[.digits] <prefix><unit>'"
    number, prefix, rest = match.group(1), match.group(2) or "", match.group(3) or ""
    assert rest == unit, (text, unit)
    value = float(number.replace(",", "")) * SI[prefix]
    return -value if text.startswith("-") else value


def significant_digits(text: str) -> int:
    digits = re.sub(r"\D", "", text.split(" ")[0]).lstrip("0")
    return len(digits)


@pytest.mark.parametrize("value", MAGNITUDES)
def test_si_shows_three_digits_and_a_prefix_from_1_to_1e15(value):
    text = units.si(value)
    assert not re.search(r"\d[eE][+-]?\d", text), text  # never scientific notation
    shown = parse_si(text)
    assert shown == pytest.approx(value, rel=0.005)  # 3 significant digits: within half a unit of the third
    number = text.split(" ")[0]
    assert 1 <= float(number.replace(",", "")) < 1000, text
    assert significant_digits(text) == 3, text


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (5_288_548, "", "5.29 M"),            # B0's parameters (torchvision)
    (2_359_000_000, "", "2.36 G"),        # was "2359.00 M"
    (3.85e12, "", "3.85 T"),              # was "3.85e+03 B"
    (7.7e12, "FLOP", "7.70 TFLOP"),       # was "7.7e+03 GFLOPs"
    (7.82e9, "FLOP/s", "7.82 GFLOP/s"),   # was "0.00782 TFL…"
    (999.7, "", "1.00 k"),                # rounding moves to the next prefix, never "1000"
    (999_999, "", "1.00 M"),
    (1e15, "", "1.00 P"),
    (386_000_000, "", "386 M"),
    (0, "", "0"),
    (-450_000, "", "-450 k"),
])
def test_si_known_values(value, unit, expected):
    assert units.si(value, unit) == expected


def test_not_a_number_is_a_dash():
    assert units.si(math.nan) == units.si(None) == units.si(math.inf) == units.NOT_A_NUMBER


def test_the_command_lines_tables_use_it(capsys):
    """`python -m effnet profile --preset b0`'s parameters cell is the SI text of torchvision's count."""
    from effnet.cli import main

    assert main(["profile", "--preset", "b0"]) == 0
    assert units.si(5_288_548) in capsys.readouterr().out  # torchvision's B0: 5,288,548 parameters
