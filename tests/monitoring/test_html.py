"""The HTML monitoring report: one self-contained, script-free page in which every string from
the report is escaped; drift table by severity, one chart per feature and for the prediction,
"not available" (with the reason) for null sections; and, in a real headless Chromium, charts
that actually render (a screenshot with both bar colours in it)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from skewless.monitoring._html import (
    CURRENT_COLOR,
    REFERENCE_COLOR,
    TOP_CATEGORIES,
    render_html,
)

EVIL_NAME = "<script>alert(1)</script>"
EVIL_CATEGORY = '<img src=x onerror="alert(2)">'
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2",
                "h3", "p", "b", "span", "nav", "a", "section", "ul", "li", "code", "table",
                "thead", "tbody", "tr", "th", "td", "div", "article", "footer",
                "svg", "g", "rect", "line", "text"}
SVG_CHILDREN = {"rect", "line"}


# --- a realistic report -------------------------------------------------------------------------

def _numeric(name: str, reference: np.ndarray, current: np.ndarray, *, severity: float,
             flagged: bool = False, reasons: tuple[str, ...] = (), bins: int = 10,
             null_rate: float = 0.01, out_of_range: float = 0.0) -> dict[str, Any]:
    """A numeric feature entry binned like a reference profile: quantile edges, open outer bins."""
    edges = np.unique(np.quantile(reference, np.arange(1, bins) / bins))
    edges = edges[edges > reference.min()]

    def proportions(values: np.ndarray) -> list[float]:
        counts = np.bincount(np.searchsorted(edges, values, side="right"),
                             minlength=len(edges) + 1)
        return (counts / counts.sum()).tolist()

    return {
        "name": name, "kind": "numeric", "flagged": flagged, "drifted": flagged,
        "severity": severity, "reasons": list(reasons),
        "statistics": {"psi": round(severity / 10, 4), "ks": 0.12, "ks_pvalue": 1e-30,
                       "wasserstein": 0.31},
        "reference": {"edges": edges.tolist(), "proportions": proportions(reference)},
        "current": {"proportions": proportions(current)},
        "quality": {"null_rate": null_rate, "reference_null_rate": 0.01,
                    "null_flag": null_rate > 0.05, "out_of_range": out_of_range,
                    "out_of_range_flag": out_of_range > 0.01, "type_changed": False,
                    "dtype": "float64", "reference_dtype": "float64", "missing_column": False},
    }


def _categorical(name: str, reference: dict[str, float], current: dict[str, float], *,
                 severity: float, flagged: bool = False,
                 reasons: tuple[str, ...] = ()) -> dict[str, Any]:
    """A categorical feature entry; categories the reference lacks are reported as unseen."""
    unseen = {key: share for key, share in current.items() if key not in reference}
    return {
        "name": name, "kind": "categorical", "flagged": flagged, "drifted": flagged,
        "severity": severity, "reasons": list(reasons),
        "statistics": {"chi2": 120.5, "chi2_pvalue": 1e-20, "js_distance": 0.12},
        "reference": {"shares": {**reference, "(other)": 0.0}},
        "current": {"shares": current},
        "quality": {"null_rate": 0.2, "reference_null_rate": 0.01, "null_flag": True,
                    "unseen": unseen, "unseen_flag": bool(unseen), "type_changed": False,
                    "missing_column": False},
    }


def make_report(*, extra_numeric: int = 0, seed: int = 7) -> dict[str, Any]:
    """A fraud-model report for one hour: 3 numeric + 2 categorical features (one of each
    flagged), a user-named feature trying to inject a script, prediction, performance, skew and
    alerts — in its JSON form, as the renderer receives it."""
    rng = np.random.default_rng(seed)
    features = [
        _numeric("amount_mean_30d", rng.lognormal(3, 1, 5_000), rng.lognormal(3.4, 1.1, 2_000),
                 severity=3.1, flagged=True, reasons=("mean shifted: wasserstein 0.31 >= 0.1",),
                 out_of_range=0.04),
        _numeric("txn_count_1h", rng.poisson(3, 5_000).astype(float),
                 rng.poisson(3, 2_000).astype(float), severity=0.4),
        _numeric(EVIL_NAME, rng.normal(0, 1, 5_000), rng.normal(0.1, 1, 2_000), severity=1.2,
                 reasons=('reason with "quotes" & <b>markup</b>',)),
        _categorical("merchant_category",
                     {"grocery": 0.4, "fuel": 0.3, "travel": 0.2, "electronics": 0.1},
                     {"grocery": 0.3, "fuel": 0.3, "travel": 0.15, "electronics": 0.05,
                      "gift_cards": 0.1, EVIL_CATEGORY: 0.1},
                     severity=2.0, flagged=True,
                     reasons=("unseen categories: 20% of rows >= 5%",)),
        _categorical("country", {"US": 0.6, "DE": 0.25, "FR": 0.15},
                     {"US": 0.58, "DE": 0.27, "FR": 0.15}, severity=0.1),
    ]
    features += [_numeric(f"extra_{index:02d}", rng.gamma(2, 10, 3_000), rng.gamma(2, 11, 1_000),
                          severity=round(float(rng.uniform(0, 3)), 3), bins=20)
                 for index in range(extra_numeric)]
    prediction = _numeric("prediction", rng.beta(1, 20, 5_000), rng.beta(1.3, 18, 2_000),
                          severity=0.8)
    report = {
        "model": "fraud", "version": 3,
        "window": {"start": "2026-11-22T07:00:00+00:00", "end": "2026-11-22T08:00:00+00:00"},
        "rows": 12_345, "generated_at": "2026-11-22T08:05:13+00:00", "status": "alert",
        "rule": {"small_window": 10_000, "alpha": 0.01, "psi": 0.2, "wasserstein": 0.1},
        "features": features,
        "prediction": prediction,
        "performance": {"labelled_rows": 800, "coverage": 0.65,
                        "metrics": {"auc_roc": 0.91, "log_loss": 0.2, "average_precision": 0.55},
                        "validation": {"auc_roc": 0.95, "log_loss": 0.15,
                                       "average_precision": 0.61}},
        "performance_reason": None,
        "skew": {"sampled": 200, "features": {
            "amount_mean_30d": {"mismatch_rate": 0.0, "mismatches": 0, "examples": []},
            "txn_count_1h": {"mismatch_rate": 0.015, "mismatches": 3, "examples": [
                {"request_id": "req-<7>", "served": 4.0, "offline": 5.0},
                {"request_id": "req-8", "served": 2.0, "offline": 3.0}]},
        }},
        "skew_reason": None,
        "alerts": [{"rule": "drifted_features >= 1", "value": 2, "message": "2 features drifted"},
                   {"rule": "null_rate > 0.05", "value": 0.2,
                    "message": "merchant_category: 20% nulls"}],
    }
    return json.loads(json.dumps(report))  # exactly the JSON form


# --- reading the page back ----------------------------------------------------------------------

class _Page(HTMLParser):
    """Parses the page, checking that tags nest properly, and collects tags, attributes and
    the text of each section (by its id)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: Counter[str] = Counter()
        self.attributes: list[tuple[str, str, str | None]] = []
        self.section_text: dict[str, list[str]] = {}
        self._sections: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes += [(tag, name, value) for name, value in attrs]
        if tag == "section":
            anchor = dict(attrs).get("id") or ""
            self._sections.append((anchor, len(self.stack)))
            self.section_text[anchor] = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in SVG_CHILDREN | VOID, f"unexpected self-closing <{tag}/>"
        self.tags[tag] += 1
        self.attributes += [(tag, name, value) for name, value in attrs]

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> without an open tag"
        assert self.stack[-1] == tag, f"</{tag}> closes {self.stack[-3:]}"
        self.stack.pop()
        if tag == "section":
            self._sections.pop()

    def handle_data(self, data: str) -> None:
        for anchor, _ in self._sections:
            self.section_text[anchor].append(data)

    def text(self, anchor: str) -> str:
        """The section's text, whitespace-normalised, with a space between elements."""
        return " ".join(" ".join(self.section_text[anchor]).split())


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return parser


def drift_table_names(page: str) -> list[str]:
    """Feature names in drift-table order (unescaped back, as a reader sees them)."""
    table = page[page.index('<table id="drift-table"'):]
    table = table[:table.index("</table>")]
    return [html.unescape(cell) for cell in re.findall(r'<a href="#f-\d+">(.*?)</a>', table)]


# --- content ------------------------------------------------------------------------------------

def test_strings_from_the_report_are_escaped_and_the_page_has_no_active_content() -> None:
    page = render_html(make_report())
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;markup&lt;/b&gt;" in page
    parsed = parse(page)
    assert set(parsed.tags) <= ALLOWED_TAGS, set(parsed.tags) - ALLOWED_TAGS
    for tag, name, value in parsed.attributes:
        assert not name.startswith("on"), (tag, name)
        assert name not in ("src", "srcset", "action", "formaction", "xlink:href"), (tag, name)
        if name == "href":
            assert (value or "").startswith("#"), value
    # the user-supplied strings survive as text: the reader sees them verbatim
    assert EVIL_NAME in parsed.text("drift")
    assert EVIL_CATEGORY in parsed.text("quality")


def test_the_page_is_self_contained() -> None:
    page = render_html(make_report())
    lowered = page.lower()
    for needle in ("http:", "https:", "<link", "@import", "url(", "<iframe", "<object"):
        assert needle not in lowered, needle
    assert "default-src 'none'" in page  # the CSP forbids scripts and fetches as well


def test_drift_table_is_sorted_by_severity_descending() -> None:
    report = make_report()
    expected = [f["name"] for f in sorted(report["features"], key=lambda f: -f["severity"])]
    assert drift_table_names(render_html(report)) == expected
    assert expected[0] == "amount_mean_30d"


def test_one_chart_per_feature_and_one_for_the_prediction() -> None:
    report = make_report()
    page = render_html(report)
    assert page.count("<svg") == len(report["features"]) + 1
    parsed = parse(page)
    assert parsed.tags["svg"] == len(report["features"]) + 1
    prediction = page[page.index('id="f-prediction"'):]
    bins = len(report["prediction"]["reference"]["proportions"])
    assert prediction.count("<g><title>") == bins  # one bar group (with a tooltip) per bin


def test_charts_label_bins_by_their_edges_and_have_a_legend_and_axis_titles() -> None:
    report = make_report()
    page = render_html(report)
    card = page[page.index('id="f-1"'):page.index('id="f-2"')]  # amount_mean_30d, top severity
    edges = report["features"][0]["reference"]["edges"]
    assert f"&lt;{edges[0]:.3g}</text>" in card  # first bin open below: "<e0"
    assert f"≥{edges[-1]:.3g}</text>" in card  # last bin open above
    assert "reference</text>" in card
    assert "current</text>" in card
    assert "share of rows</text>" in card
    assert "value bin (reference quantiles)</text>" in card


def test_sections_are_present_with_formatted_numbers() -> None:
    report = make_report()
    parsed = parse(render_html(report))
    for anchor in ("alerts", "drift", "features", "prediction", "quality", "performance", "skew",
                   "rule"):
        assert anchor in parsed.section_text, anchor
    assert "not available" not in " ".join(parsed.text(a) for a in parsed.section_text)
    assert "2 alerts" in parsed.text("alerts")
    assert "2 features drifted" in parsed.text("alerts")
    performance = parsed.text("performance")
    assert "800 labelled rows · label coverage 65%" in performance
    assert "auc_roc 0.91 0.95 −0.04" in performance
    assert "log_loss 0.2 0.15 +0.05" in performance
    quality = parsed.text("quality")
    assert "merchant_category 20% ⚑ 1%" in quality  # nulls now vs reference, flagged
    assert "gift_cards" in quality
    skew = parsed.text("skew")
    assert "200 served requests" in skew
    assert skew.index("txn_count_1h 1.5% (3)") < skew.index("amount_mean_30d 0% (0)")  # worst 1st
    assert "req-<7> 4 5" in skew
    drift = parsed.text("drift")
    assert "KS p 1e-30" in drift
    assert "χ² p 1e-20" in drift
    assert "small_window 10,000" in parsed.text("rule")


def test_null_sections_render_as_not_available_with_their_reason() -> None:
    report = make_report()
    report.update(prediction=None, performance=None,
                  performance_reason="no labels have arrived for this window",
                  skew=None, skew_reason="prediction log <disabled>", alerts=[])
    page = render_html(report)
    parsed = parse(page)
    assert page.count("<svg") == len(report["features"])
    assert ("Performance not available: no labels have arrived for this window."
            in parsed.text("performance"))
    assert "Skew check not available: prediction log <disabled>." in parsed.text("skew")
    assert "&lt;disabled&gt;" in page
    assert "Prediction drift not available (no reason given)." in parsed.text("prediction")
    assert "No alerts fired" in parsed.text("alerts")


def test_a_minimal_or_malformed_report_still_renders() -> None:
    parsed = parse(render_html({}))
    assert "The report has no features." in parsed.text("drift")
    assert "Performance not available" in parsed.text("performance")

    odd = {"features": [
        {"name": "no_distribution", "severity": None},
        {"name": "nan_stats", "kind": "numeric", "severity": "nan",
         "statistics": {"psi": "inf", "ks_pvalue": "nan"},
         "reference": {"edges": [1.0], "proportions": [0.5, 0.5]},
         "current": {"proportions": [1.0]}},  # shorter than the reference
        {"name": "wrong_edges", "kind": "numeric", "severity": 5,
         "reference": {"edges": [1.0, 2.0, 3.0], "proportions": [0.5, 0.5]},
         "current": {"proportions": [0.2, 0.8]}},
        "not a feature",
    ], "prediction": "garbage", "alerts": None, "rule": {"nested": {"a": [1, 2]}}}
    page = render_html(odd)
    parsed = parse(page)
    assert drift_table_names(page) == ["wrong_edges", "nan_stats", "no_distribution"]
    assert "PSI ∞" in parsed.text("drift")
    assert "bin 1</text>" in page  # edges that do not fit the bins: bins numbered instead
    assert "No distribution in the report to chart." in parsed.text("features")
    assert page.count("<svg") == 2
    assert '{"a":[1,2]}' in parsed.text("rule")


def test_categorical_charts_keep_the_top_categories_and_sum_the_rest() -> None:
    shares = {f"cat_{index:02d}": (40 - index) / 820 for index in range(40)}
    report = make_report()
    report["features"] = [_categorical("many", shares, shares, severity=1.0)]
    page = render_html(report)
    chart = page[page.index('<svg class="chart"'):page.index("</svg>")]
    assert chart.count("<g><title>") == TOP_CATEGORIES + 1
    assert "(other): 28 smaller categories" in chart
    assert "cat_00" in chart
    assert "cat_39" not in chart


def test_unseen_categories_are_marked_in_the_chart() -> None:
    page = render_html(make_report())
    assert re.search(r'<text class="x[lr] new"[^>]*>gift_cards</text>', page)
    assert not re.search(r'<text class="x[lr] new"[^>]*>grocery</text>', page)
    assert "gift_cards (not in the reference)" in page


def test_a_25_feature_report_stays_compact() -> None:
    report = make_report(extra_numeric=20)
    page = render_html(report)
    assert len(report["features"]) == 25
    assert page.count("<svg") == 26
    assert len(page.encode()) < 300_000, len(page.encode())


# --- a real browser -----------------------------------------------------------------------------

def _hex_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)


def _chromium() -> str:
    """The chromium binary, or skip (fail with SKEWLESS_REQUIRE_SERVICES=1) when absent."""
    binary = shutil.which("chromium")
    if binary is None:
        reason = "chromium is not installed (Debian: apt-get install -y chromium)"
        if os.environ.get("SKEWLESS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; SKEWLESS_REQUIRE_SERVICES=1 requires it", pytrace=False)
        pytest.skip(f"{reason}; or set SKEWLESS_REQUIRE_SERVICES=1 to fail instead")
    return binary


def test_charts_render_in_headless_chromium(tmp_path: Path) -> None:
    chromium = _chromium()
    report = make_report()
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "shot.png"
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
               "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr[-2_000:]
    assert shot.exists(), result.stderr[-2_000:]

    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    assert pixels.shape[:2] == (1600, 1200)

    def near(color: str) -> np.ndarray:
        return (np.abs(pixels - _hex_rgb(color)).max(axis=2) <= 6)

    reference, current = near(REFERENCE_COLOR), near(CURRENT_COLOR)
    # legend swatches are 10x10 per chart: bars must add far more than the swatches could
    assert reference.sum() > 3_000, reference.sum()
    assert current.sum() > 3_000, current.sum()

    rows, columns = np.nonzero(reference | current)
    area = pixels[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    not_white = (np.abs(area - 255).max(axis=2) > 24).mean()
    assert not_white > 0.1, f"chart area is {not_white:.1%} non-white"
    bars = (reference | current)[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    assert bars.mean() > 0.02, f"bars cover {bars.mean():.1%} of the chart area"
