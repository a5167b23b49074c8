"""Projector mode at 1280x720 in Chromium: every page, with the sidebar open and collapsed, keeps each
table and chart inside its column (nothing behind a horizontal scroll, nothing cut at the right edge),
no chart title overlaps another, no legend lies on an axis title, and all four page tabs are shown.

Measured on the page itself: the bounding boxes of the drawn DOM (Streamlit's tables, Plotly's SVG),
read only once every chart is drawn and the page has finished its run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_browser import CHROMIUM, ROOT, _idle, _new_page, _poll, chromium, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"),
]
PAGES = {"build": "", "attention": "attention", "learn": "learn", "experiment": "experiment"}
TABS = ("Build & profile", "Attention (Grad-CAM)", "Experiment", "Learn")

# Boxes of what the page draws, in one pass. A box of zero size is not shown (the collapsed sidebar).
MEASURE = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top,
                                                                   bottom: r.bottom, width: r.width, height: r.height}; };
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const name = e => (e.textContent || '').trim().slice(0, 60);
  const main = document.querySelector('[data-testid=stMainBlockContainer]');
  const tables = [...main.querySelectorAll('[data-testid=stTable]')].filter(shown).map(t => {
    const column = t.closest('[data-testid=stColumn]') || main;
    const scroller = [t, ...t.querySelectorAll('*')].find(e => e.scrollWidth > e.clientWidth + 1 &&
                                                          getComputedStyle(e).overflowX !== 'visible');
    return {name: name(t.querySelector('th') || t), box: box(t.querySelector('table') || t), column: box(column),
            scrolls: !!scroller};
  });
  const charts = [...main.querySelectorAll('.js-plotly-plot')].filter(shown).map(c => {
    const svg = c.querySelector('.main-svg');
    const column = c.closest('[data-testid=stColumn]') || main;
    const titles = [...c.querySelectorAll('.gtitle, .gtitle-subtitle, .g-gtitle text, .annotation-text')]
      .filter(shown).map(t => ({name: name(t), box: box(t)}));
    const axisTitles = [...c.querySelectorAll('.g-xtitle text, .g-ytitle text, .g-x2title text, .g-y2title text')]
      .filter(shown).map(t => ({name: name(t), box: box(t)}));
    const legend = c.querySelector('.legend');
    return {name: name(c.querySelector('.gtitle') || c), box: box(svg || c), column: box(column),
            titles: titles, axisTitles: axisTitles, legend: legend && shown(legend) ? box(legend.querySelector('.bg') || legend) : null};
  });
  return {tables: tables, charts: charts};
}"""


def _overlap(a: dict, b: dict, slack: float = 1.0) -> bool:
    return (a["left"] < b["right"] - slack and b["left"] < a["right"] - slack
            and a["top"] < b["bottom"] - slack and b["top"] < a["bottom"] - slack)


def problems(drawn: dict) -> list[str]:
    """Everything that does not fit, in words (empty when the page reads in full)."""
    found = []
    for table in drawn["tables"]:
        if table["scrolls"] or table["box"]["right"] > table["column"]["right"] + 1:
            found.append(f"table {table['name']!r} is wider than its column: {table['box']} in {table['column']}")
    titles = []
    for chart in drawn["charts"]:
        if chart["box"]["right"] > chart["column"]["right"] + 1:
            found.append(f"chart {chart['name']!r} is wider than its column")
        for title in chart["titles"]:
            if title["box"]["right"] > chart["box"]["right"] + 1 or title["box"]["left"] < chart["box"]["left"] - 1:
                found.append(f"chart {chart['name']!r}: title {title['name']!r} is cut at the chart's edge")
        for axis in chart["axisTitles"]:
            if axis["box"]["right"] > chart["box"]["right"] + 1 or axis["box"]["bottom"] > chart["box"]["bottom"] + 1:
                found.append(f"chart {chart['name']!r}: axis title {axis['name']!r} is cut")
            if chart["legend"] and _overlap(axis["box"], chart["legend"]):
                found.append(f"chart {chart['name']!r}: the legend lies on the axis title {axis['name']!r}")
        titles += [(chart["name"], title) for title in chart["titles"]]
    for index, (chart, title) in enumerate(titles):
        for other_chart, other in titles[index + 1:]:
            if _overlap(title["box"], other["box"]):
                found.append(f"title {title['name']!r} ({chart!r}) overlaps {other['name']!r} ({other_chart!r})")
    return found


@pytest.fixture(scope="module")
def projector_browser():
    with running_app() as url, chromium() as launched:
        yield url, launched


# Charts each page draws at least (Build: ① to ④, the roofline, the two latency charts; the Experiment
# page: its three charts, when there are results to show).
LEAST_CHARTS = {"build": 7, "attention": 0, "learn": 0,
                "experiment": 3 if (ROOT / "results" / "experiment" / "results.json").exists() else 0}


def _drawn(page, name: str) -> dict:
    """The page's boxes once its charts are all drawn: at least the page's charts, each with its SVG, the
    same count twice a second apart."""
    def charts_drawn() -> int:
        return page.locator(".js-plotly-plot .main-svg").count()

    def settled() -> bool:
        before = charts_drawn()
        page.wait_for_timeout(1000)
        charts = page.locator(".js-plotly-plot").count()
        return charts >= LEAST_CHARTS[name] and charts_drawn() == before and before >= charts
    _poll(settled)
    return page.evaluate(MEASURE)


@pytest.mark.parametrize("collapsed", [False, True], ids=["sidebar open", "sidebar collapsed"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_table_and_chart_fits_in_projector_mode_at_1280x720(projector_browser, name, collapsed):
    url, browser = projector_browser
    context, page = _new_page(browser, 1280, 720)
    try:
        page.goto(f"{url}/{PAGES[name]}?projector=1")
        _idle(page, name)
        _poll(lambda: page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)") > 20)
        tabs = page.locator("[data-testid=stTopNavLink]")
        _poll(lambda: all(tabs.filter(has_text=tab).count() == 1 for tab in TABS))  # none under "1 more"
        assert page.get_by_text("1 more").count() == 0
        if collapsed:
            width = page.locator("[data-testid=stMain]").bounding_box()["width"]
            page.locator("[data-testid=stSidebar]").hover()
            page.locator("[data-testid=stSidebarCollapseButton] button").click()
            _poll(lambda: page.locator("[data-testid=stMain]").bounding_box()["width"] > width + 200)
            page.wait_for_timeout(1000)  # the charts re-layout to the wider column
        drawn = _drawn(page, name)
        if name == "build":
            assert len(drawn["charts"]) >= LEAST_CHARTS[name] and len(drawn["tables"]) >= 3, drawn  # all was measured
        assert problems(drawn) == []
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        context.close()


def test_the_measure_finds_what_the_teacher_saw():
    """The checks themselves, on boxes like the ones the teacher met: a table past its column, a title
    under another, a legend on the epoch axis."""
    column = {"left": 0, "right": 500, "top": 0, "bottom": 900, "width": 500, "height": 900}
    chart = {"left": 0, "right": 500, "top": 0, "bottom": 400, "width": 500, "height": 400}
    epoch = {"left": 200, "right": 260, "top": 330, "bottom": 350, "width": 60, "height": 20}
    fine = {"tables": [{"name": "Network", "box": dict(column, right=480), "column": column, "scrolls": False}],
            "charts": [{"name": "Training curves", "box": chart, "column": column, "legend": dict(epoch, top=360, bottom=390),
                        "titles": [{"name": "a", "box": dict(epoch, top=0, bottom=20)}], "axisTitles": [{"name": "epoch", "box": epoch}]}]}
    assert problems(fine) == []
    cut = {"tables": [{"name": "Network", "box": dict(column, right=620), "column": column, "scrolls": True}], "charts": []}
    assert len(problems(cut)) == 1
    on_axis = {"tables": [], "charts": [dict(fine["charts"][0], legend=dict(epoch, top=340))]}
    assert "legend lies on the axis title" in problems(on_axis)[0]
    two = {"tables": [], "charts": [dict(fine["charts"][0], titles=[{"name": "training loss", "box": dict(epoch, top=0, bottom=20)},
                                                                    {"name": "held-out", "box": dict(epoch, left=250, right=330, top=5, bottom=25)}])]}
    assert "overlaps" in problems(two)[0]
