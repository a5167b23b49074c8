"""The Latency panel on a machine without a GPU, in Chromium: a predicted figure on a chosen GPU with its
parts, and the recorded H200 runs of the same network, each labelled as what it is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from test_browser import (CHROMIUM, _choose, _eventually, _idle, _metric, _poll, browser,  # noqa: F401 - fixtures
                          browser_page, server)

ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / ".pytest_cache" / "latency_prediction.png"  # to look at; the README's screenshots are test_browser's
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"),
]


def _recorded_b0() -> dict[tuple[int, str], dict]:
    """B0's H200 runs straight from the committed JSON: per condition, the row with most timed runs."""
    rows: dict[tuple[int, str], dict] = {}
    for name in ("gpu_h200_run1.json", "gpu_h200_fp16_run2.json"):
        for row in json.loads((ROOT / "benchmarks" / "results" / name).read_text())["measurements"]:
            key = (row["batch"], row["dtype"])
            if row["preset"] == "b0" and (key not in rows or row["runs"] >= rows[key]["runs"]):
                rows[key] = row
    return rows


def test_predicted_and_recorded_latency_without_a_gpu(server, browser_page):  # noqa: F811
    page = browser_page
    page.goto(f"{server}/?preset=B0")
    _idle(page, "build")
    # Every figure below is drawn after the page's last button: each read waits until it is there.
    _poll(lambda: page.get_by_text(re.compile(r"^Runs on the CPU")).count() == 1)  # no GPU on this machine
    assert page.locator("[data-testid=stMetricLabel]", has_text="Median latency").count() == 0  # nothing measured yet

    predicted = _poll(lambda: page.locator("[data-testid=stMetricLabel]", has_text="Predicted latency").count()
                      and _metric(page, "Predicted latency"))
    assert re.fullmatch(r"[\d.]+ ms", predicted), predicted
    # the panel's caption (the layer roofline's subtitle carries the same label, without the network)
    _poll(lambda: page.get_by_text("predicted on H200 SXM, calibrated on recorded NVIDIA H200 runs; EfficientNet-B0").count() == 1)
    parts = page.locator(".st-key-chart_latency_parts .js-plotly-plot")
    parts.scroll_into_view_if_needed()
    _poll(lambda: parts.locator(".barlayer .trace").count() == 3)  # launch, memory, compute stacked

    def parts_legend() -> None:
        legend = " ".join(parts.locator(".legendtext").all_text_contents())
        assert "launch" in legend and "memory-bound" in legend and "compute-bound" in legend, legend

    _eventually(parts_legend)
    presets = page.locator(".st-key-chart_latency_presets .js-plotly-plot")

    def presets_legend() -> None:
        names = " ".join(presets.locator(".legendtext").all_text_contents())
        assert "recorded on NVIDIA H200" in names and "predicted on H200 SXM" in names and "(predicted)" in names, names

    _eventually(presets_legend)

    # B0 was recorded: the table names device, software, date, batch, precision, mode, median and spread
    _poll(lambda: page.get_by_text("Recorded on NVIDIA H200", exact=True).count() == 1)
    tables = page.locator(".st-key-latency_recorded [data-testid=stTable]")  # split in parts when too wide
    recorded = _recorded_b0()

    def recorded_table() -> None:
        rows: list[dict] = []
        for table in tables.all():
            header = [cell.strip() for cell in table.locator("thead th").all_inner_texts()]
            part = [dict(zip(header, (cell.strip() for cell in row.locator("th, td").all_inner_texts())))
                    for row in table.locator("tbody tr").all()]
            rows = [{**row, **more} for row, more in zip(rows, part)] if rows else part
        assert len(rows) == len(recorded) == 4, rows
        for (batch, dtype), raw in recorded.items():
            (row,) = [r for r in rows if r["batch"] == str(batch) and r["precision"].startswith(dtype)]
            low, high = raw["spread_ms"]
            assert row["device"] == "NVIDIA H200" and row["mode"] == "eager"
            assert row["median"] == f"{raw['median_ms']:.3g} ms"  # three significant digits, as every duration on screen
            assert row["spread (p10–p90)"] == f"{low:.3g}–{high:.3g} ms"
            assert row["software"] == "torch 2.11.0+cu130, CUDA 13.0" and row["date"] == "2026-11-26"

    _eventually(recorded_table)
    page.locator(".st-key-latency_prediction").screenshot(path=str(SHOT))

    # another GPU: labelled as predicted with the H200's calibration only
    _choose(page, "Predict on GPU", "T4")
    _poll(lambda: page.get_by_text("predicted on T4, calibrated on H200 SXM only").count() == 1)
    _poll(lambda: _metric(page, "Predicted latency") != predicted)
    assert page.locator("[data-testid=stException]").count() == 0
