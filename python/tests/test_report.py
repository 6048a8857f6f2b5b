"""The report for the people who decide (`tp.report`), read in a real browser.

The page is built from the bundled quarter (additive-hazard model calibrated by the bundled lift test,
with intervals, and three correlational models) and a media-mix fit of the weekly sample. Chromium
(Debian's `chromium` and `chromium-driver`, driven by selenium) opens it headless; the tests read the
DOM after the page's script ran and check that every number shown is the number of the table it came
from, that nothing is fetched from the network, that no script error is logged, and that sorting
works. A screenshot of each goal's section is written to $TOUCHPOINT_SCREENSHOTS (default: the test's
temporary folder).

`make test` installs the browser when it is missing and sets TOUCHPOINT_REQUIRE_BROWSER=1, so there a
missing browser fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import touchpoint as tp

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
MODEL = "additive_hazard"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    j = tp.Journeys.from_events(
        DATA / "touches.csv",
        DATA / "conversions.csv",
        dims=["actor_group"],
        lookback={"sales": "30d", "tickets_deflected": "7d", "hires": "90d"},
        period=("2026-04-01", "2026-07-01"),
        population=10_000,
    )
    tests = [tp.LiftTest(**row) for row in pl.read_csv(DATA / "lift_tests.csv").iter_rows(named=True)]
    models = [tp.models.AdditiveHazard(lift_tests=tests), "last_touch", "linear"]
    result = tp.attribute(j, models=models, intervals=0.9, resamples=40, progress=False)
    goals = tp.GoalBook.load(DATA / "goals.toml")
    mmm = tp.MMM(date="week", target="tickets_deflected", media=["paid_social"], organic=["care_replies"])
    fit = mmm.fit(DATA / "weekly.csv", chains=2, draws=150, tune=150, progress=False)
    groups = tp.attribute(j, models=["additive_hazard"], by="actor_group", intervals=0.9, resamples=40, progress=False)
    path = tmp_path_factory.mktemp("report") / "report.html"
    rep = tp.report(result, goals, path, mmm={"tickets_deflected": fit}, breakdowns=[groups], title="Q2 2026")
    return {"result": result, "goals": goals, "fit": fit, "report": rep, "path": path, "groups": groups}


def test_the_page_is_self_contained(built: dict[str, Any]) -> None:
    html = built["path"].read_text(encoding="utf-8")
    assert html == built["report"].html
    # Nothing that a browser would fetch: no external script, style sheet, image or font.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html, re.I)
    assert "url(" not in html and "@import" not in html
    # The only URL is the SVG namespace, an identifier that is never fetched.
    urls = set(re.findall(r"https?://[^\"' )<]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}, urls
    # The content security policy forbids any load that is not inline.
    assert "default-src 'none'" in html


def test_options_and_errors(built: dict[str, Any], tmp_path: Path) -> None:
    r, goals = built["result"], built["goals"]
    assert tp.reporting.defaults() == {
        "title": "What our channels added",
        "currency": "$",
        "model": None,
        "period": None,
        "population": None,
        "costs": None,
    }
    with pytest.raises(tp.ParameterError, match="not a model of the attribution"):
        tp.report(r, goals, model="shapley")
    with pytest.raises(tp.ReadError, match="is a folder"):
        tp.report(r, goals, tmp_path)
    with pytest.raises(tp.ReadError, match="does not exist"):
        tp.report(r, goals, tmp_path / "missing" / "r.html")
    assert not (tmp_path / "missing").exists()
    # A correlational model's page says it credits, not adds, and why.
    last = tp.report(r, goals, model="last_touch", currency="EUR").html
    assert "credited to the channels" in last and "Value (EUR)" in last
    assert "does not tell what would have happened anyway" in last


def _browser() -> Any:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("TOUCHPOINT_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)")
        pytest.skip("no chromium/chromedriver (make test installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    from selenium.webdriver.chrome.service import Service

    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


@pytest.fixture(scope="module")
def page(built: dict[str, Any]) -> Any:
    browser = _browser()
    try:
        browser.get(built["path"].as_uri())
        assert browser.execute_script("return document.documentElement.getAttribute('data-ready')") == "1"
        yield browser
    finally:
        browser.quit()


def _cells(browser: Any, table_id: str) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """The header and every row's cells (text and data-value) of a table, as rendered."""
    out = browser.execute_script(
        """
        const t = document.getElementById(arguments[0]);
        const head = Array.from(t.tHead.rows[0].cells).map(c => c.textContent.trim());
        const rows = Array.from(t.tBodies[0].rows).map(r => Array.from(r.cells).map(c => (
            {text: c.textContent.trim(), value: c.getAttribute('data-value')})));
        return [head, rows];
        """,
        table_id,
    )
    return out[0], out[1]


def _shown(text: str) -> float:
    return float(text.replace(",", ""))


def test_no_network_and_no_script_error(page: Any) -> None:
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    requested = []
    for entry in page.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            requested.append(msg["params"]["request"]["url"])
    assert requested, "the performance log saw no request at all (not even the page)"
    assert all(u.startswith(("file:", "data:", "about:")) for u in requested), requested


def test_every_number_shown_is_its_value_rounded(page: Any) -> None:
    ids = page.execute_script("return Array.from(document.querySelectorAll('table.sortable')).map(t => t.id)")
    assert {"goal-sales", "goal-tickets_deflected", "goal-hires", "roi", "health", "experiments"} <= set(ids)
    checked = 0
    for table_id in ids:
        _, rows = _cells(page, table_id)
        for row in rows:
            for cell in row:
                if cell["value"] is None:
                    continue
                shown, value = cell["text"], float(cell["value"])
                decimals = len(shown.split(".")[1]) if "." in shown else 0
                assert abs(_shown(shown) - value) <= 0.5 * 10**-decimals + 1e-9, (table_id, shown, value)
                checked += 1
    assert checked > 200


def test_goal_tables_show_the_attribution_and_its_valuation(page: Any, built: dict[str, Any]) -> None:
    r, goals = built["result"], built["goals"]
    credit = r.to_polars().filter(pl.col("model") == MODEL)
    valued = tp.contribution(r, goals).to_polars().filter(pl.col("model") == MODEL)
    for kpi in ("sales", "tickets_deflected", "hires"):
        head, rows = _cells(page, f"goal-{kpi}")
        assert head[0] == "Player" and head[1].startswith("Added (")
        shown = {row[0]["text"]: row for row in rows}
        want = credit.filter(pl.col("kpi") == kpi)
        assert set(shown) == set(want["channel"].to_list())
        for c in want.iter_rows(named=True):
            row = shown[c["channel"]]
            assert float(row[1]["value"]) == pytest.approx(c["conversions"], rel=1e-12, abs=1e-12)
            if c["conversions_lower"] is not None:
                assert float(row[2]["value"]) == pytest.approx(c["conversions_lower"], rel=1e-12, abs=1e-12)
                assert float(row[3]["value"]) == pytest.approx(c["conversions_upper"], rel=1e-12, abs=1e-12)
            v = valued.filter((pl.col("kpi") == kpi) & (pl.col("channel") == c["channel"])).row(0, named=True)
            assert float(row[4]["value"]) == pytest.approx(v["value"], rel=1e-12, abs=1e-9)
        # The shares of added are over the players, the baseline has none; they add to 100%.
        players = [row for name, row in shown.items() if name != "(baseline)"]
        assert sum(float(row[7]["value"]) for row in players) == pytest.approx(100.0)
        assert shown["(baseline)"][7]["value"] is None
    # The ROI table is the valuation's summary: (value - cost) / cost.
    summary = tp.contribution(r, goals).summary().filter(pl.col("model") == MODEL)
    _, rows = _cells(page, "roi")
    for row in rows:
        s = summary.filter(pl.col("channel") == row[0]["text"]).row(0, named=True)
        assert float(row[1]["value"]) == pytest.approx(s["value"], rel=1e-12)
        if s["roi"] is not None:
            assert float(row[5]["value"]) == pytest.approx(s["roi"], rel=1e-12)


def test_the_summary_sentence_and_total_interval(page: Any, built: dict[str, Any]) -> None:
    r = built["result"]
    text = page.find_element("id", "summary").text
    added = (
        r.to_polars()
        .filter(
            (pl.col("model") == MODEL) & (pl.col("kpi") == "tickets_deflected") & (pl.col("channel") != "(baseline)")
        )["conversions"]
        .sum()
    )
    m = re.search(r"Service, tickets deflected: the channels added ([\d,.]+) tickets \(([\d,.]+)–([\d,.]+)\)", text)
    assert m, text
    assert _shown(m.group(1)) == pytest.approx(added, abs=0.5)
    lo, hi = _shown(m.group(2)), _shown(m.group(3))
    # The total's interval is of the sum over resamples: narrower than the sum of the players' intervals.
    rows = r.to_polars().filter(
        (pl.col("model") == MODEL) & (pl.col("kpi") == "tickets_deflected") & (pl.col("channel") != "(baseline)")
    )
    assert lo <= added <= hi
    assert hi - lo < rows["conversions_upper"].sum() - rows["conversions_lower"].sum()
    # The goal's sentence names the players whose effect the intervals tell apart from none.
    told = set(rows.filter(pl.col("differs_from_zero"))["channel"].to_list())
    sentence = page.find_element("id", "section-tickets_deflected").find_element("tag name", "p").text
    assert 0 < len(told) < rows.height
    m = re.search(r"Clearly adding \(range above 0\): ([^;]+); the other (\d+) ranges include 0\.", sentence)
    assert m, sentence
    assert set(m.group(1).split(", ")) == told and int(m.group(2)) == rows.height - len(told)
    # Where every range is above 0 the sentence says so.
    sales = r.to_polars().filter(
        (pl.col("model") == MODEL) & (pl.col("kpi") == "sales") & (pl.col("channel") != "(baseline)")
    )
    sales_text = page.find_element("id", "section-sales").find_element("tag name", "p").text
    assert sales["differs_from_zero"].all() == ("Every channel's range is above 0." in sales_text), sales_text
    # The sentence's numbers are the valuation's goal totals (ContributionReport.by_goal).
    goal = (
        tp.contribution(r, built["goals"])
        .by_goal()
        .filter((pl.col("model") == MODEL) & (pl.col("kpi") == "tickets_deflected"))
        .row(0, named=True)
    )
    assert goal["conversions"] == pytest.approx(added, rel=1e-12)
    assert (lo, hi) == (round(goal["conversions_lower"]), round(goal["conversions_upper"]))
    assert goal["baseline"] == pytest.approx(
        r.to_polars().filter(
            (pl.col("model") == MODEL) & (pl.col("kpi") == "tickets_deflected") & (pl.col("channel") == "(baseline)")
        )["conversions"][0]
    )


def test_breakdown_by_actor_group(page: Any, built: dict[str, Any]) -> None:
    """Each goal is broken down by the other attribution's dimension, valued the same way."""
    valued = tp.contribution(built["groups"], built["goals"]).to_polars().filter(pl.col("model") == MODEL)
    for kpi in ("sales", "tickets_deflected", "hires"):
        head, rows = _cells(page, f"goal-{kpi}-by-actor_group")
        assert head[0] == "Actor group"
        want = valued.filter(pl.col("kpi") == kpi)
        assert {r[0]["text"] for r in rows} == set(want["actor_group"].to_list())
        for row in rows:
            v = want.filter(pl.col("actor_group") == row[0]["text"]).row(0, named=True)
            assert float(row[1]["value"]) == pytest.approx(v["conversions"], rel=1e-12, abs=1e-12)
            assert float(row[4]["value"]) == pytest.approx(v["value"], rel=1e-12, abs=1e-9)
    # The breakdown and the main table credit the same conversions of each goal.
    main = built["result"].to_polars().filter((pl.col("model") == MODEL) & (pl.col("kpi") == "hires"))
    assert valued.filter(pl.col("kpi") == "hires")["conversions"].sum() == pytest.approx(main["conversions"].sum())
    with pytest.raises(tp.ParameterError, match="dimension of its own"):
        tp.report(built["result"], built["goals"], breakdowns=[built["result"]])


def test_sorting_a_column(page: Any) -> None:
    header = page.find_element("css selector", "#roi th[data-col='1']")
    header.click()
    _, rows = _cells(page, "roi")
    values = [float(row[1]["value"]) for row in rows]
    assert values == sorted(values)
    header.click()
    _, rows = _cells(page, "roi")
    assert [float(row[1]["value"]) for row in rows] == sorted(values, reverse=True)


def test_media_mix_section(page: Any, built: dict[str, Any]) -> None:
    fit = built["fit"]
    _, rows = _cells(page, "mmm-tickets_deflected")
    summary = fit.summary()
    for row in rows:
        s = summary.filter(pl.col("channel") == row[0]["text"]).row(0, named=True)
        assert float(row[2]["value"]) == pytest.approx(s["contribution"], rel=1e-9)
    curves = page.find_elements("css selector", "#mmm-tickets_deflected-section svg.chart")
    assert len(curves) == 2
    warnings = page.find_element("id", "warnings").text
    assert "covers 2023-01-02 to" in warnings and "2026-04-01 to 2026-06-30" in warnings


def test_screenshots_of_each_goal(page: Any, tmp_path: Path) -> None:
    folder = Path(os.environ.get("TOUCHPOINT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    for kpi in ("sales", "tickets_deflected", "hires"):
        section = page.find_element("id", f"section-{kpi}")
        shot = folder / f"report-{kpi}.png"
        assert section.screenshot(str(shot))
        assert shot.stat().st_size > 10_000
