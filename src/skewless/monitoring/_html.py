"""Render a monitoring report as one self-contained HTML page.

The page is written for the people who get paged: a header with the model, window and status,
the alerts, the drift table (most severe first), one card per feature with reference vs current
distributions as an inline SVG bar chart, prediction drift, a data-quality summary, performance
against validation, and training–serving skew.

Self-contained and safe by construction:

- no JavaScript, no external stylesheet, font or image: inline CSS and inline SVG only, so the
  file renders the same offline, attached to a ticket or opened years later; a
  Content-Security-Policy forbids scripts and every network fetch as a second line of defence;
- every string that comes from the report (feature names, category values, reasons, metric
  names, request ids...) is HTML-escaped: they are user data, and a category value such as
  ``<img src=x onerror=...>`` must show up as text, never as markup;
- the input is the report's JSON form (``json.loads`` of the report), read defensively: a
  missing optional part renders as "not available" (with the reason when the report gives
  one) instead of failing, because a monitoring page that crashes on a half-filled report is
  useless exactly when something went wrong.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

__all__ = ["CURRENT_COLOR", "REFERENCE_COLOR", "TOP_CATEGORIES", "render_html"]

REFERENCE_COLOR = "#3b5bdb"
"""Fill of the reference bars (and their legend swatch): a blue used nowhere else."""
CURRENT_COLOR = "#f08c00"
"""Fill of the current-window bars (and their legend swatch): an orange used nowhere else."""
TOP_CATEGORIES = 12
"""Categories charted per categorical feature; the rest are summed into one "(other)" bar."""

_OTHER = "(other)"
_MAX_EXAMPLES = 5
_MAX_UNSEEN_NAMED = 3
_MAX_LABEL_CHARS = 16
_NONFINITE = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
              "infinity": math.inf, "-infinity": -math.inf}
_STAT_LABELS = {"psi": "PSI", "ks": "KS", "ks_pvalue": "KS p", "wasserstein": "W₁",
                "chi2": "χ²", "chi2_pvalue": "χ² p", "js_distance": "JS"}
_SI_SUFFIXES = ("", "k", "M", "G", "T")

# Chart geometry, in SVG user units (the SVG scales to its card's width).
_W = 540
_LEFT = 48
_RIGHT = 8
_TOP = 30
_PLOT_H = 150
_CHAR_W = 6.2  # generous width of a 10px sans-serif character: label rotation and room below
_LINE_H = 12

_CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
color:#1f2328;background:#f6f7f9}}
main{{max-width:1160px;margin:0 auto;padding:16px 20px 40px}}
h1{{font-size:22px;margin:0 0 4px}}h2{{font-size:18px;margin:28px 0 10px}}
h3{{font-size:15px;margin:0 0 4px;overflow-wrap:anywhere}}
header{{background:#fff;border:1px solid #d8dce1;border-radius:8px;padding:14px 18px}}
.meta{{color:#57606a;margin:2px 0}}.meta b{{color:#1f2328;font-weight:600}}
nav{{margin-top:8px;font-size:13px}}nav a{{margin-right:12px}}
a{{color:#0b57d0;text-decoration:none}}a:hover{{text-decoration:underline}}
.badge{{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
vertical-align:middle;margin-left:4px;background:#e7e9ec;color:#444}}
.badge.ok{{background:#d3f3dc;color:#116329}}.badge.alert,.badge.flagged{{background:#ffd8d8;
color:#a40e26}}.badge.drifted{{background:#fff0c2;color:#7a4b00}}
.box{{border-radius:8px;padding:10px 16px;margin-top:14px;border:1px solid}}
.box.ok{{background:#effaf1;border-color:#a6e2b4}}.box.alert{{background:#fff3f3;
border-color:#f3b1b1}}.box ul{{margin:4px 0;padding-left:20px}}
.na{{color:#57606a;font-style:italic}}
table{{border-collapse:collapse;background:#fff;font-size:13px;width:100%}}
th,td{{border:1px solid #d8dce1;padding:4px 8px;text-align:left;vertical-align:top}}
th{{background:#eef0f3;font-weight:600}}td.n{{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}}
tr.flagged td:first-child{{box-shadow:inset 3px 0 #d1242f}}
.bad{{color:#a40e26;font-weight:600}}
table.kv{{width:auto}}table.sub{{width:auto;margin:0;font-size:12px}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px}}
.card{{background:#fff;border:1px solid #d8dce1;border-radius:8px;padding:12px 14px}}
.card.flagged{{border-color:#e5989f;border-width:2px}}
.card p{{margin:4px 0;font-size:13px}}.stats{{color:#57606a}}
.card ul{{margin:4px 0;padding-left:18px;font-size:13px}}
.reasons li{{overflow-wrap:anywhere}}td ul{{margin:0;padding-left:16px}}
svg.chart{{width:100%;height:auto;display:block;margin:4px 0}}
.chart text{{font-size:10px;fill:#57606a}}.chart .t{{font-size:11px;fill:#1f2328}}
.chart .xl{{text-anchor:middle}}.chart .xr{{text-anchor:end}}.chart .yl{{text-anchor:end}}
.chart .mid{{text-anchor:middle}}.chart .new{{fill:#a40e26;font-style:italic}}
.chart line{{stroke:#e3e6ea;stroke-width:1}}.chart .ax{{stroke:#8c959f}}
.chart .r{{fill:{REFERENCE_COLOR}}}.chart .c{{fill:{CURRENT_COLOR}}}
footer{{margin-top:28px;color:#57606a;font-size:12px}}
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The monitoring report ``report`` (its JSON form) as one self-contained HTML page.

    Sections: header (model, version, window, rows, status), alerts, drift table sorted by
    severity, a chart card per feature (same order), prediction drift, quality summary,
    performance, training–serving skew and the detection rule. Missing or null optional parts
    render as "not available"; nothing in ``report`` is ever emitted unescaped.
    """
    features = _ranked(_mappings(report.get("features")))
    prediction = report.get("prediction")
    prediction = prediction if isinstance(prediction, Mapping) else None
    body = "".join([
        _header(report),
        _alerts(report.get("alerts")),
        _drift_section(features),
        _cards_section(features),
        _prediction_section(prediction, report.get("prediction_reason")),
        _quality_section(features, prediction),
        _performance_section(report.get("performance"), report.get("performance_reason")),
        _skew_section(report.get("skew"), report.get("skew_reason")),
        _rule_section(report.get("rule")),
        f'<footer>Generated {_esc(report.get("generated_at") or "(time unknown)")} by '
        "skewless monitor. Self-contained page: no scripts, no network.</footer>",
    ])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{_esc(_title(report))}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


# --- reading the report -------------------------------------------------------------------------

def _esc(value: object) -> str:
    """``value`` as text, HTML-escaped (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def _mappings(value: object) -> list[Mapping[str, Any]]:
    """The mappings in ``value`` when it is a list; anything else reads as no entries."""
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _mapping(value: object) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (an absent part reads as empty)."""
    return value if isinstance(value, Mapping) else {}


def _float(value: object) -> float | None:
    """A JSON number, or one of the strings the report JSON uses for NaN and ±inf, as a float;
    ``None`` for anything else (booleans included: ``True`` is not a statistic)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        return _NONFINITE.get(value.strip().lower())
    return None


def _finite(value: object) -> float | None:
    """``_float(value)`` when it is finite, else ``None``."""
    number = _float(value)
    return number if number is not None and math.isfinite(number) else None


def _severity_key(feature: Mapping[str, Any]) -> tuple[float, int, str]:
    """Sort key: highest severity first, unknown severity last, flagged before not, then name."""
    severity = _finite(feature.get("severity"))
    return (-severity if severity is not None else math.inf,
            0 if feature.get("flagged") else 1, str(feature.get("name", "")))


def _ranked(features: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Features in the order the page lists them: by :func:`_severity_key`."""
    return sorted(features, key=_severity_key)


def _kind(entry: Mapping[str, Any]) -> str:
    """``numeric`` or ``categorical``: the stated kind, else guessed from the reference shape."""
    kind = entry.get("kind")
    if kind in ("numeric", "categorical"):
        return str(kind)
    reference = _mapping(entry.get("reference"))
    return "categorical" if "shares" in reference else "numeric"


# --- number formatting (every helper returns HTML-safe text) ------------------------------------

def _num(value: object, digits: int = 4) -> str:
    """A number for reading: integers with thousands separators, floats to ``digits``
    significant digits (scientific notation only when very small), NaN/±inf spelled out;
    ``—`` for null and the escaped text for anything that is not a number."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    number = _float(value)
    if number is None:
        return _esc(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if number == 0:
        return "0"
    if 10 ** digits <= abs(number) < 1e15:
        return f"{number:,.0f}"
    return f"{number:.{digits}g}"


def _pct(value: object) -> str:
    """A rate in [0, 1] as a percentage with about three significant digits (``12.3%``)."""
    number = _float(value)
    if number is None or not math.isfinite(number):
        return _num(value)
    if number == 0:
        return "0%"
    percent = number * 100
    if abs(percent) < 0.1:
        return f"{percent:.2g}%"
    if abs(percent) >= 1000:
        return f"{percent:,.0f}%"
    return f"{percent:.3g}%"


def _pvalue(value: object) -> str:
    """A p-value to two significant digits (``1e-30``, ``0.043``)."""
    number = _finite(value)
    return _num(value) if number is None else f"{number:.2g}"


def _signed(value: float) -> str:
    """A difference with its sign (``+0.012``, ``−0.04``)."""
    if value == 0:
        return "0"
    text = _num(abs(value), 3)
    return f"+{text}" if value > 0 else f"−{text}"


def _short(value: float, digits: int = 3) -> str:
    """An axis label: ``digits`` significant digits with k/M/G/T suffixes (``12.3k``)."""
    if not math.isfinite(value):
        return _num(value)
    magnitude = abs(value)
    if magnitude < 1000:
        return f"{value:.{digits}g}"
    power = min(int(math.log10(magnitude)) // 3, len(_SI_SUFFIXES) - 1)
    text = f"{value / 1000 ** power:.{digits}g}"
    if abs(float(text)) >= 1000 and power < len(_SI_SUFFIXES) - 1:
        power += 1
        text = f"{value / 1000 ** power:.{digits}g}"
    return text + _SI_SUFFIXES[power]


def _edge_texts(edges: list[float]) -> list[str]:
    """Short labels for bin edges, with just enough digits to tell neighbouring edges apart."""
    texts = [_short(edge) for edge in edges]
    for digits in range(4, 10):
        if len(set(texts)) == len(texts):
            break
        texts = [_short(edge, digits) for edge in edges]
    return texts


def _duration(start: object, end: object) -> str | None:
    """The window length (``1 h``, ``24 h``, ``90 min``) or ``None`` when it cannot be read."""
    try:
        seconds = (datetime.fromisoformat(str(end))
                   - datetime.fromisoformat(str(start))).total_seconds()
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds % size == 0 and (unit != "d" or seconds >= 2 * 86_400):
            return f"{seconds / size:,.0f} {unit}"
    return f"{seconds:,.0f} s"


# --- page parts ---------------------------------------------------------------------------------

def _title(report: Mapping[str, Any]) -> str:
    """The page title (unescaped): model, version and window start."""
    window = _mapping(report.get("window"))
    return (f"skewless monitor · {report.get('model', '?')} v{report.get('version', '?')}"
            f" · {window.get('start', '')}")


def _section(anchor: str, title: str, content: str) -> str:
    """A page section with an anchor the navigation links to."""
    return f'<section id="{anchor}"><h2>{title}</h2>{content}</section>'


def _unavailable(what: str, reason: object) -> str:
    """The "not available" note for a section the report left out, with its reason if any."""
    because = f": {_esc(reason)}" if reason else " (no reason given)"
    return f'<p class="na">{what} not available{because}.</p>'


def _status_badge(status: object) -> str:
    """The report status as a badge; only known statuses pick a colour (CSS class)."""
    css = status if status in ("ok", "alert") else "unknown"
    return f'<span class="badge {css}">{_esc(status if status else "unknown")}</span>'


def _header(report: Mapping[str, Any]) -> str:
    """Model, version, window (with its length), rows, status and the section links."""
    window = _mapping(report.get("window"))
    start, end = window.get("start"), window.get("end")
    duration = _duration(start, end)
    length = f" ({_esc(duration)})" if duration else ""
    links = (("alerts", "Alerts"), ("drift", "Drift"), ("features", "Features"),
             ("prediction", "Prediction"), ("quality", "Quality"),
             ("performance", "Performance"), ("skew", "Skew"), ("rule", "Rule"))
    nav = "".join(f'<a href="#{anchor}">{text}</a>' for anchor, text in links)
    return (
        f"<header><h1>{_esc(report.get('model', '(unknown model)'))} "
        f"<span class=\"meta\">v{_esc(report.get('version', '?'))}</span>"
        f"{_status_badge(report.get('status'))}</h1>"
        f'<p class="meta">Window <b>{_esc(start or "?")}</b> → <b>{_esc(end or "?")}</b>'
        f"{length} · <b>{_num(report.get('rows'))}</b> rows</p><nav>{nav}</nav></header>"
    )


def _alerts(alerts: object) -> str:
    """The alerts box: red with one line per alert, or green when none fired."""
    entries = _mappings(alerts)
    if not entries:
        return '<section id="alerts" class="box ok">No alerts fired for this window.</section>'
    items = "".join(
        f"<li><b>{_esc(alert.get('message') or alert.get('rule') or 'alert')}</b>"
        f" <span class=\"meta\">rule <code>{_esc(alert.get('rule', '?'))}</code>,"
        f" value {_num(alert.get('value'))}</span></li>"
        for alert in entries)
    return (f'<section id="alerts" class="box alert"><b>{len(entries)} alert'
            f'{"s" if len(entries) != 1 else ""}</b><ul>{items}</ul></section>')


def _drift_badges(entry: Mapping[str, Any]) -> str:
    """``flagged``/``drifted`` badges, or ``ok`` when neither."""
    badges = [f'<span class="badge {name}">{name}</span>'
              for name in ("flagged", "drifted") if entry.get(name)]
    return "".join(badges) or '<span class="badge ok">ok</span>'


def _statistics(statistics: object) -> str:
    """Statistics as ``PSI 0.09 · KS 0.12 · KS p 1e-30``: known ones first, in a fixed order."""
    stats = {str(key): value for key, value in _mapping(statistics).items()}
    keys = [key for key in _STAT_LABELS if key in stats]
    keys += sorted(key for key in stats if key not in _STAT_LABELS)
    return " · ".join(
        f"{_esc(_STAT_LABELS.get(key, key))} "
        f"{_pvalue(stats[key]) if key.endswith('pvalue') else _num(stats[key], 3)}"
        for key in keys)


def _reasons(reasons: object, css: str = "reasons") -> str:
    """The reasons a feature was flagged, as a list (nothing when there are none)."""
    if isinstance(reasons, str):
        reasons = [reasons]
    if not isinstance(reasons, Sequence) or not reasons:
        return ""
    return f'<ul class="{css}">' + "".join(f"<li>{_esc(r)}</li>" for r in reasons) + "</ul>"


def _drift_section(features: list[Mapping[str, Any]]) -> str:
    """The drift table: one row per feature, most severe first, names linking to the cards."""
    if not features:
        return _section("drift", "Drift", '<p class="na">The report has no features.</p>')
    rows = "".join(
        f'<tr class="{"flagged" if feature.get("flagged") else ""}"><td class="n">{rank}</td>'
        f'<td><a href="#f-{rank}">{_esc(feature.get("name", "?"))}</a></td>'
        f"<td>{_esc(_kind(feature))}</td><td>{_drift_badges(feature)}</td>"
        f'<td class="n">{_num(feature.get("severity"), 3)}</td>'
        f"<td>{_statistics(feature.get('statistics'))}</td>"
        f"<td>{_reasons(feature.get('reasons'))}</td></tr>"
        for rank, feature in enumerate(features, 1))
    flagged = sum(1 for feature in features if feature.get("flagged"))
    table = ('<table id="drift-table"><thead><tr><th>#</th><th>Feature</th><th>Kind</th>'
             "<th>Drift</th><th>Severity</th><th>Statistics</th><th>Reasons</th></tr></thead>"
             f"<tbody>{rows}</tbody></table>")
    summary = f'<p class="meta">{flagged} of {len(features)} features flagged.</p>'
    return _section("drift", "Drift, by severity", summary + table)


def _cards_section(features: list[Mapping[str, Any]]) -> str:
    """One card per feature, in drift-table order."""
    if not features:
        return ""
    cards = "".join(_card(feature, f"f-{rank}") for rank, feature in enumerate(features, 1))
    return _section("features", "Features: reference vs current",
                    f'<div class="grid">{cards}</div>')


def _card(entry: Mapping[str, Any], anchor: str) -> str:
    """A feature (or the prediction): badges, statistics, chart, quality line and reasons."""
    flagged = " flagged" if entry.get("flagged") else ""
    return (
        f'<article class="card{flagged}" id="{anchor}">'
        f"<h3>{_esc(entry.get('name', '?'))} <span class=\"meta\">{_esc(_kind(entry))}</span>"
        f"{_drift_badges(entry)}</h3>"
        f'<p class="stats">severity {_num(entry.get("severity"), 3)} · '
        f"{_statistics(entry.get('statistics')) or 'no statistics'}</p>"
        f"{_chart(entry)}{_quality_line(_mapping(entry.get('quality')), _kind(entry))}"
        f"{_reasons(entry.get('reasons'))}</article>"
    )


def _prediction_section(prediction: Mapping[str, Any] | None, reason: object) -> str:
    """Prediction drift: the prediction's card, or why it is not available."""
    if prediction is None:
        return _section("prediction", "Prediction drift", _unavailable("Prediction drift", reason))
    return _section("prediction", "Prediction drift",
                    f'<div class="grid">{_card(prediction, "f-prediction")}</div>')


# --- quality ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _QualityCells:
    """The quality facts of one feature as HTML-safe text, each with whether it is flagged."""

    nulls: tuple[str, bool]
    reference_nulls: str
    out_of_range: tuple[str, bool]
    unseen: tuple[str, bool]
    dtype: tuple[str, bool]
    column: tuple[str, bool]


def _quality_cells(quality: Mapping[str, Any], kind: str) -> _QualityCells:
    """Read one feature's ``quality`` mapping into :class:`_QualityCells`."""
    unseen = _mapping(quality.get("unseen"))
    if unseen:
        names = sorted(unseen, key=lambda name: -(_finite(unseen[name]) or 0.0))
        named = ", ".join(_esc(name) for name in names[:_MAX_UNSEEN_NAMED])
        more = f" +{len(names) - _MAX_UNSEEN_NAMED}" if len(names) > _MAX_UNSEEN_NAMED else ""
        total = sum(_finite(share) or 0.0 for share in unseen.values())
        unseen_text = f"{_pct(total)} ({named}{more})"
    else:
        unseen_text = "0%" if kind == "categorical" and "unseen" in quality else "—"
    dtype, reference_dtype = quality.get("dtype"), quality.get("reference_dtype")
    changed = bool(quality.get("type_changed"))
    if changed:
        dtype_text = f"{_esc(reference_dtype or '?')} → {_esc(dtype or '?')}"
    else:
        dtype_text = _esc(dtype or reference_dtype or "—")
    missing = bool(quality.get("missing_column"))
    return _QualityCells(
        nulls=(_pct(quality.get("null_rate")), bool(quality.get("null_flag"))),
        reference_nulls=_pct(quality.get("reference_null_rate")),
        out_of_range=(_pct(quality.get("out_of_range")) if "out_of_range" in quality else "—",
                      bool(quality.get("out_of_range_flag"))),
        unseen=(unseen_text, bool(quality.get("unseen_flag"))),
        dtype=(dtype_text, changed),
        column=("missing" if missing else "present", missing),
    )


def _flag(cell: tuple[str, bool]) -> str:
    """A cell's text, marked ``bad`` when flagged."""
    text, flagged = cell
    return f'<span class="bad">{text} ⚑</span>' if flagged else text


def _quality_line(quality: Mapping[str, Any], kind: str) -> str:
    """A card's one-line quality summary (flagged facts in red)."""
    if not quality:
        return '<p class="na">No quality checks in the report.</p>'
    cells = _quality_cells(quality, kind)
    parts = [f"nulls {_flag(cells.nulls)} (ref {cells.reference_nulls})"]
    if kind == "numeric" or "out_of_range" in quality:
        parts.append(f"out of range {_flag(cells.out_of_range)}")
    if kind == "categorical" or "unseen" in quality:
        parts.append(f"unseen {_flag(cells.unseen)}")
    parts.append(f"type {_flag(cells.dtype)}")
    if cells.column[1]:
        parts.append(_flag(("column missing", True)))
    return f'<p class="q">{" · ".join(parts)}</p>'


def _quality_section(features: list[Mapping[str, Any]],
                     prediction: Mapping[str, Any] | None) -> str:
    """The quality summary table: nulls vs reference, out of range, unseen, type, column."""
    entries = [*features, *([prediction] if prediction is not None else [])]
    rows = []
    for entry in entries:
        quality = _mapping(entry.get("quality"))
        if not quality:
            continue
        cells = _quality_cells(quality, _kind(entry))
        rows.append(
            f"<tr><td>{_esc(entry.get('name', '?'))}</td>"
            f'<td class="n">{_flag(cells.nulls)}</td><td class="n">{cells.reference_nulls}</td>'
            f'<td class="n">{_flag(cells.out_of_range)}</td><td>{_flag(cells.unseen)}</td>'
            f"<td>{_flag(cells.dtype)}</td><td>{_flag(cells.column)}</td></tr>")
    if not rows:
        return _section("quality", "Data quality", _unavailable("Data quality", None))
    table = ('<table id="quality-table"><thead><tr><th>Feature</th><th>Nulls</th>'
             "<th>Nulls (reference)</th><th>Out of range</th><th>Unseen categories</th>"
             f"<th>Type</th><th>Column</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return _section("quality", "Data quality", table)


# --- performance, skew, rule --------------------------------------------------------------------

def _performance_section(performance: object, reason: object) -> str:
    """Metrics on the labelled rows next to the validation metrics, and label coverage."""
    if not isinstance(performance, Mapping):
        return _section("performance", "Performance", _unavailable("Performance", reason))
    metrics = _mapping(performance.get("metrics"))
    validation = _mapping(performance.get("validation"))
    summary = (f'<p class="meta"><b>{_num(performance.get("labelled_rows"))}</b> labelled rows'
               f' · label coverage <b>{_pct(performance.get("coverage"))}</b></p>')
    names = [*metrics, *(name for name in validation if name not in metrics)]
    if not names:
        return _section("performance", "Performance",
                        summary + '<p class="na">No metrics in the report.</p>')
    rows = []
    for name in names:
        current, expected = _finite(metrics.get(name)), _finite(validation.get(name))
        change = "—"
        if current is not None and expected is not None:
            change = _signed(current - expected)
        rows.append(f"<tr><td>{_esc(name)}</td><td class=\"n\">{_num(metrics.get(name))}</td>"
                    f'<td class="n">{_num(validation.get(name))}</td>'
                    f'<td class="n">{change}</td></tr>')
    table = ('<table id="performance-table" class="kv"><thead><tr><th>Metric</th>'
             "<th>This window</th><th>Validation</th><th>Change</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
    return _section("performance", "Performance", summary + table)


def _cell(value: object) -> str:
    """An example value: numbers to six significant digits (enough to see a mismatch),
    nested values as compact JSON, everything escaped."""
    if isinstance(value, Mapping | list):
        return _esc(json.dumps(value, default=str, separators=(",", ":")))
    if value is None or isinstance(value, bool) or _float(value) is not None:
        return _num(value, 6)
    return _esc(value)


def _examples(examples: object) -> str:
    """Up to :data:`_MAX_EXAMPLES` mismatching rows as a small table (request id first)."""
    rows = _mappings(examples)[:_MAX_EXAMPLES]
    if not rows:
        return "—"
    columns = ["request_id"] if any("request_id" in row for row in rows) else []
    columns += [str(key) for row in rows for key in row if key not in columns]
    columns = list(dict.fromkeys(columns))
    head = "".join(f"<th>{_esc(column)}</th>" for column in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row.get(column))}</td>" for column in columns)
                   + "</tr>" for row in rows)
    return f'<table class="sub"><tr>{head}</tr>{body}</table>'


def _skew_section(skew: object, reason: object) -> str:
    """Training–serving skew: mismatch rate per feature (worst first) with example rows."""
    title = "Training–serving skew"
    if not isinstance(skew, Mapping):
        return _section("skew", title, _unavailable("Skew check", reason))
    features = _mapping(skew.get("features"))
    summary = (f'<p class="meta"><b>{_num(skew.get("sampled"))}</b> served requests '
               "recomputed offline and compared.</p>")
    if not features:
        return _section("skew", title, summary + '<p class="na">No features compared.</p>')

    def worst_first(name: str) -> tuple[float, str]:
        rate = _finite(_mapping(features[name]).get("mismatch_rate"))
        return (-(rate if rate is not None else -1.0), str(name))

    rows = []
    for name in sorted(features, key=worst_first):
        entry = _mapping(features[name])
        rate = _finite(entry.get("mismatch_rate"))
        text = _pct(entry.get("mismatch_rate"))
        if isinstance(entry.get("mismatches"), int):
            text += f" ({_num(entry['mismatches'])})"
        rate_html = f'<span class="bad">{text}</span>' if rate else text
        rows.append(f'<tr><td>{_esc(name)}</td><td class="n">{rate_html}</td>'
                    f"<td>{_examples(entry.get('examples'))}</td></tr>")
    table = ('<table id="skew-table" class="kv"><thead><tr><th>Feature</th><th>Mismatch rate</th>'
             f"<th>Examples</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return _section("skew", title, summary + table)


def _rule_section(rule: object) -> str:
    """The detection rule's settings as a key/value table."""
    settings = _mapping(rule)
    if not settings:
        return _section("rule", "Detection rule", _unavailable("The rule", None))
    rows = "".join(f"<tr><th>{_esc(key)}</th><td>{_cell(value)}</td></tr>"
                   for key, value in settings.items())
    return _section("rule", "Detection rule", f'<table class="kv">{rows}</table>')


# --- charts -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Bin:
    """One group of bars: its axis label and tooltip (raw text) and the two proportions."""

    label: str
    detail: str
    reference: float | None
    current: float | None
    unseen: bool = False


def _proportions(value: object) -> list[float | None]:
    """A list of proportions; entries that are not finite non-negative numbers become None."""
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return []
    return [number if (number := _finite(item)) is not None and number >= 0 else None
            for item in value]


def _numeric_bins(reference: Mapping[str, Any], current: Mapping[str, Any]) -> list[_Bin]:
    """Bins of a numeric feature labelled by their edges (outer bins open: ``<e₀``, ``≥eₙ``)."""
    ref, cur = _proportions(reference.get("proportions")), _proportions(current.get("proportions"))
    count = max(len(ref), len(cur))
    raw_edges = reference.get("edges")
    edges = [_finite(edge) for edge in raw_edges] if isinstance(raw_edges, list) else []
    if len(edges) == count - 1 and all(edge is not None for edge in edges):
        finite_edges = [edge for edge in edges if edge is not None]
        texts, full = _edge_texts(finite_edges), [f"{edge:.6g}" for edge in finite_edges]
        labels = _bin_labels(texts) if count > 1 else ["all"]
        details = _bin_labels(full, interval=True) if count > 1 else ["all values"]
    else:
        labels = [f"bin {index + 1}" for index in range(count)]
        details = labels
    return [_Bin(labels[index], details[index],
                 ref[index] if index < len(ref) else None,
                 cur[index] if index < len(cur) else None)
            for index in range(count)]


def _bin_labels(edges: list[str], *, interval: bool = False) -> list[str]:
    """One label per bin from ``len(bins) - 1`` edge texts: ``<a``, ``a–b``, ..., ``≥z``
    (or ``(-∞, a)``, ``[a, b)``, ``[z, ∞)`` with ``interval``)."""
    if interval:
        return ([f"(−∞, {edges[0]})"] + [f"[{a}, {b})" for a, b in pairwise(edges)]
                + [f"[{edges[-1]}, ∞)"])
    return [f"<{edges[0]}"] + [f"{a}–{b}" for a, b in pairwise(edges)] + [f"≥{edges[-1]}"]


def _shares(value: object) -> dict[str, float]:
    """Category shares as ``{name: share}``, dropping entries that are not finite numbers."""
    return {str(name): share for name, raw in _mapping(value).items()
            if (share := _finite(raw)) is not None}


def _categorical_bins(reference: Mapping[str, Any], current: Mapping[str, Any],
                      unseen: set[str]) -> list[_Bin]:
    """The :data:`TOP_CATEGORIES` largest categories (by the larger of the two shares), then one
    ``(other)`` bar with the rest plus whatever the report already summed as ``(other)``."""
    ref, cur = _shares(reference.get("shares")), _shares(current.get("shares"))
    ref_other, cur_other = ref.pop(_OTHER, 0.0), cur.pop(_OTHER, 0.0)
    names = sorted(ref.keys() | cur.keys(),
                   key=lambda name: (-max(ref.get(name, 0.0), cur.get(name, 0.0)), name))
    shown, rest = names[:TOP_CATEGORIES], names[TOP_CATEGORIES:]
    if len(rest) == 1:  # an "(other)" bar hiding a single category says less than the category
        shown, rest = names, []
    bins = [_Bin(_truncate(name), _category_detail(name, name in unseen),
                 ref.get(name, 0.0), cur.get(name, 0.0), unseen=name in unseen)
            for name in shown]
    ref_other += sum(ref.get(name, 0.0) for name in rest)
    cur_other += sum(cur.get(name, 0.0) for name in rest)
    if rest or ref_other > 0 or cur_other > 0:
        detail = f"{_OTHER}: {len(rest)} smaller categories" if rest else _OTHER
        bins.append(_Bin(_OTHER, detail, ref_other, cur_other))
    return bins


def _category_detail(name: str, unseen: bool) -> str:
    """A category's tooltip text (raw): its full name, marked when the reference never saw it."""
    return f"{name} (not in the reference)" if unseen else name


def _truncate(text: str, limit: int = _MAX_LABEL_CHARS) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (raw text: escape afterwards)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _chart(entry: Mapping[str, Any]) -> str:
    """The grouped bar chart of an entry's reference vs current distribution (inline SVG), or a
    note when the report has no distribution for it."""
    reference, current = _mapping(entry.get("reference")), _mapping(entry.get("current"))
    if _kind(entry) == "categorical":
        unseen = {str(name) for name in _mapping(_mapping(entry.get("quality")).get("unseen"))}
        bins = _categorical_bins(reference, current, unseen)
        x_title = "category (largest first)"
    else:
        bins = _numeric_bins(reference, current)
        x_title = "value bin (reference quantiles)"
    if not bins:
        return '<p class="na">No distribution in the report to chart.</p>'
    return _bar_chart(bins, x_title, str(entry.get("name", "")))


def _c(value: float) -> str:
    """An SVG coordinate to one decimal, without trailing zeros (keeps the page small)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _nice_axis(peak: float) -> tuple[float, float]:
    """A y-axis top and tick step (1, 2, 2.5 or 5 times a power of ten) covering ``peak``."""
    if peak <= 0:
        return 1.0, 0.25
    raw = peak / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    return step * math.ceil(peak / step - 1e-9), step


def _bar_chart(bins: list[_Bin], x_title: str, name: str) -> str:
    """Inline SVG: y gridlines with percentage labels, a reference and a current bar per bin,
    bin labels (rotated and thinned out when they would overlap), axis titles and a legend.
    Each bin group has a ``<title>`` tooltip with its full range and both shares."""
    count = len(bins)
    plot_w = _W - _LEFT - _RIGHT
    slot = plot_w / count
    widest = max(len(bin_.label) for bin_ in bins) * _CHAR_W
    rotate = widest > slot - 4
    every = max(1, math.ceil(_LINE_H / slot)) if rotate else 1
    label_h = widest * 0.71 + 10 if rotate else _LINE_H + 2
    height = _TOP + _PLOT_H + label_h + 22
    base = _TOP + _PLOT_H
    peak = max((v for b in bins for v in (b.reference, b.current) if v is not None), default=0.0)
    top, step = _nice_axis(peak)

    parts = [f'<svg class="chart" viewBox="0 0 {_W} '
             f'{_c(height)}" role="img" aria-label="reference vs current distribution of '
             f'{_esc(name)}">']
    ticks = round(top / step)
    for tick in range(ticks + 1):
        y = base - _PLOT_H * tick / ticks
        parts.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_c(y)}" y2="{_c(y)}"/>'
                     f'<text class="yl" x="{_LEFT - 4}" y="{_c(y + 3)}">{_pct(tick * step)}</text>')
    parts.append(f'<line class="ax" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{base}" y2="{base}"/>'
                 f'<text class="t mid" transform="rotate(-90)" x="{_c(-base + _PLOT_H / 2)}" '
                 f'y="11">share of rows</text>')
    parts.append(_legend())
    bar_w = slot * 0.84 / 2
    for index, bin_ in enumerate(bins):
        x = _LEFT + slot * index + slot * 0.08
        tip = (f"{_esc(bin_.detail)}: reference {_pct(bin_.reference)}, "
               f"current {_pct(bin_.current)}")
        bars = "".join(_bar(css, x + offset, bar_w, value, top, base)
                       for css, offset, value in (("r", 0.0, bin_.reference),
                                                  ("c", bar_w, bin_.current)))
        parts.append(f"<g><title>{tip}</title>{bars}</g>")
        if index % every == 0:
            parts.append(_x_label(bin_, _LEFT + slot * (index + 0.5), base, rotate))
    parts.append(f'<text class="t mid" x="{_c(_LEFT + plot_w / 2)}" y="{_c(height - 5)}">'
                 f"{_esc(x_title)}</text></svg>")
    return "".join(parts)


def _bar(css: str, x: float, width: float, value: float | None, top: float, base: float) -> str:
    """One bar; nothing for a missing or zero value, at least 1 unit tall for a tiny one."""
    if not value:
        return ""
    height = max(_PLOT_H * value / top, 1.0)
    return (f'<rect class="{css}" x="{_c(x)}" y="{_c(base - height)}" width="{_c(width)}" '
            f'height="{_c(height)}"/>')


def _x_label(bin_: _Bin, x: float, base: float, rotate: bool) -> str:
    """A bin's axis label, centred under its bars or rotated -45° and right-aligned."""
    css = ("xr" if rotate else "xl") + (" new" if bin_.unseen else "")
    y = base + 12
    turn = f' transform="rotate(-45 {_c(x)} {_c(y)})"' if rotate else ""
    return f'<text class="{css}" x="{_c(x)}" y="{_c(y)}"{turn}>{_esc(bin_.label)}</text>'


def _legend() -> str:
    """Reference and current swatches, top right."""
    x = _W - _RIGHT - 150
    return (f'<rect class="r" x="{x}" y="6" width="10" height="10"/>'
            f'<text class="t" x="{x + 14}" y="15">reference</text>'
            f'<rect class="c" x="{x + 80}" y="6" width="10" height="10"/>'
            f'<text class="t" x="{x + 94}" y="15">current</text>')
