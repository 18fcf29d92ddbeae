"""HTML of the insight pages (``/integrations/<domain>``) and of their list on the main page.

Rendered from the documents of ``insights.py`` only; no script, charts as inline SVG, each chart with
a table of the same numbers, and every text escaped. A missing value (not published that week:
fewer than k installations; or a rate over a noisy zero) is a dash, never a zero. Count cells are
``<td class="n">``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from . import svg
from .insights import ENDINGS
from .page import STYLE

_MAX_CHART_VERSIONS = 8  # versions drawn one by one; older and rare ones are summed
_MAX_ERROR_ROWS = 15
_DASH = "\u2013"  # an en dash: not published


def _count(value: int | None) -> str:
    return f'<td class="n">{_DASH if value is None else f"{value:,}"}</td>'


def _rate(value: float | None, unit: str = " %") -> str:
    return f'<td class="r">{_DASH if value is None else f"{value:,.1f}{unit}"}</td>'


def _table(head: Sequence[str], rows: Sequence[str], summary: str | None = None) -> str:
    """A table of pre-rendered rows; in a ``<details>`` (closed) when it has a summary."""
    header = "".join(f"<th>{escape(name)}</th>" for name in head)
    table = f'<table class="data"><tr>{header}</tr>{"".join(rows)}</table>'
    return f"<details><summary>{escape(summary)}</summary>{table}</details>" if summary else table


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f'<span><i style="background:{svg.color(index)}"></i>{escape(name)}</span>'
        for index, name in enumerate(names)
    )
    return f'<p class="legend">{items}</p>'


def _card(title: str, body: str) -> str:
    return f'<section class="card"><h2>{escape(title)}</h2>{body}</section>'


def _installations(doc: Mapping[str, Any]) -> str:
    weeks = doc["weeks"]
    chart = svg.columns(weeks, doc["installations"], f"Installations of {doc['domain']} per week")
    rows = [
        f"<tr><td>{escape(week)}</td>{_count(n)}{_count(p)}</tr>"
        for week, n, p in zip(weeks, doc["installations"], doc["printers"], strict=True)
    ]
    return _card(
        "Installations per week",
        chart
        + _table(["week", "installations", "printers"], rows[::-1], "Installations per week as a table"),
    )


def _versions(doc: Mapping[str, Any]) -> str:
    versions = doc["versions"]
    if not versions:
        return _card("Adoption of each version", '<p class="muted">No version published.</p>')
    shown, rest = versions[:_MAX_CHART_VERSIONS], versions[_MAX_CHART_VERSIONS:]
    series = [(row["version"], row["share"]) for row in shown]
    rest_counts: list[int | None] = []
    if rest:
        rest_shares = [sum(row["share"][i] or 0 for row in rest) or None for i in range(len(doc["weeks"]))]
        series.append(("older and rare versions", rest_shares))
        for index in range(len(doc["weeks"])):
            values = [row["installations"][index] for row in rest if row["installations"][index] is not None]
            rest_counts.append(sum(values) if values else None)
    names = [name for name, _ in series]
    chart = svg.stacked_columns(
        doc["weeks"], series, "Share of installations per version and week", " %", 100
    )
    rows = []
    for index, week in enumerate(doc["weeks"]):
        cells = "".join(_count(row["installations"][index]) for row in shown)
        cells += _count(rest_counts[index]) if rest else ""
        rows.append(f"<tr><td>{escape(week)}</td>{cells}</tr>")
    table = _table(["week", *names], rows[::-1], "Installations per version and week as a table")
    note = '<p class="muted">Share of the week\'s installations of the integration on each version.</p>'
    return _card("Adoption of each version", note + _legend(names) + chart + table)


def _breakdown(doc: Mapping[str, Any], key: str, label: str, title: str) -> str:
    part = doc[key]
    if not part["rows"]:
        return _card(title, '<p class="muted">Not published for this printer type.</p>')
    note = (
        f'<p class="muted">Printer type {escape(doc["printer_type"] or "")}, week {escape(part["week"])}: '
        "printers of each, as a share of those whose value is known.</p>"
    )
    chart = svg.bars([(row[label], [row["share"]]) for row in part["rows"]], ["share"], title, " %")
    rows = [
        f"<tr><td>{escape(row[label])}</td>{_count(row['installations'])}{_count(row['printers'])}"
        f"{_rate(row['share'])}</tr>"
        for row in part["rows"]
    ]
    return _card(title, note + chart + _table([label, "installations", "printers", "share"], rows))


def _outcomes(doc: Mapping[str, Any]) -> str:
    title = "Job outcomes per started job"
    if not doc["job_outcomes"]:
        return _card(title, '<p class="muted">No jobs published for this printer type.</p>')
    names = [row["model"] or f"{doc['printer_type']} (all)" for row in doc["job_outcomes"]]
    chart = svg.bars(
        [
            (name, [row["rates"][o] for o in ENDINGS])
            for name, row in zip(names, doc["job_outcomes"], strict=True)
        ],
        ENDINGS,
        "Job outcomes per started job, by model",
        " %",
        stacked=True,
    )
    rows = []
    for name, row in zip(names, doc["job_outcomes"], strict=True):
        rates = "".join(_rate(row["rates"][outcome]) for outcome in ENDINGS)
        rows.append(f"<tr><td>{escape(name)}</td>{_count(row['started'])}{rates}</tr>")
    note = (
        '<p class="muted">Over the published weeks: each outcome per started job (a job started in one week '
        "may end in the next, so a rate can pass 100 %). A dash: no week published that outcome.</p>"
    )
    return _card(title, note + _legend(ENDINGS) + chart + _table(["model", "started", *ENDINGS], rows))


def _errors(doc: Mapping[str, Any]) -> str:
    title = "Errors per 100 installations"
    errors = doc["errors"]
    if not errors["rows"]:
        return _card(title, '<p class="muted">No errors published for this integration.</p>')
    versions, newest, previous = errors["versions"], errors["newest"], errors["previous"]
    compared = [version for version in (newest, previous) if version is not None]
    chart_rows = [(row["error_type"], [row["per_100"][v] for v in compared]) for row in errors["rows"]]
    chart = svg.bars(chart_rows[:_MAX_ERROR_ROWS], compared, title + ", newest versions", " per 100")
    marks = {"new": "new in the newest version", "grew": "more than doubled in the newest version"}
    rows = []
    for row in errors["rows"]:
        mark = f'<td class="mark">{escape(marks[row["mark"]])}</td>' if row["mark"] else "<td></td>"
        rates = "".join(_rate(row["per_100"][v], "") for v in versions)
        rows.append(f"<tr><td>{escape(row['error_type'])}</td>{rates}{mark}</tr>")
    note = (
        '<p class="muted">Errors of the integration per 100 of its installations on each version (as '
        "the reporting installation had it loaded), summed over the published weeks; newest first.</p>"
    )
    table = _table(["error type", *versions, ""], rows)
    return _card(title, note + _legend(compared) + chart + table)


def render_integration(doc: Mapping[str, Any]) -> str:
    """The insight page of one printer integration."""
    domain, weeks = doc["domain"], doc["weeks"]
    data = f"/v1/integrations/{escape(domain)}"
    if doc.get("privacy") == "dp":
        rule = (
            "every count is a differentially private count of the weeks it sums (noise drawn once, "
            "when each week was published; its 95 % intervals are in the week's statistics), so a "
            "share or rate of noisy counts is approximate and can pass 100 %"
        )
    else:
        rule = f"every count comes from at least {doc['k_anonymity']} installations (each week's own k)"
    intro = (
        f'<p class="muted">Printer type {escape(doc["printer_type"] or "unknown")}. Computed only from '
        f"the published weekly statistics, weeks {escape(weeks[0])} to {escape(weeks[-1])}: {rule}, and a "
        "value a week did not publish is a dash, never a zero. Machine-readable: "
        f'<a href="{data}">{data}</a>; all statistics: <a href="/">the main page</a>.</p>'
    )
    body = "".join(
        [
            _installations(doc),
            _versions(doc),
            _breakdown(doc, "models", "model", "Printer models"),
            _breakdown(doc, "firmware", "firmware", "Firmware versions"),
            _outcomes(doc),
            _errors(doc),
        ]
    )
    head = (
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(domain)} · Usage statistics</title><style>{STYLE}</style>"
    )
    return f"""<!doctype html>
<html lang="en"><head>{head}</head>
<body><main><h1>Printer integration {escape(domain)}</h1>{intro}{body}</main></body></html>
"""


def integrations_card(index: Mapping[str, Any]) -> str:
    """The main page's list of integrations: a link, a sparkline and the numbers, per integration."""
    integrations, weeks = index["integrations"], index["weeks"]
    if not integrations:
        return ""
    rows = []
    for entry in integrations:
        domain, series = entry["domain"], entry["installations"]
        newest = next((value for value in reversed(series) if value is not None), None)
        line = svg.sparkline(series, f"Installations of {domain} per week")
        rows.append(
            f'<tr><td><a href="/integrations/{escape(domain)}">{escape(domain)}</a></td>'
            f"<td>{line}</td>{_count(newest)}</tr>"
        )
    week_rows = []
    for position, week in enumerate(weeks):
        counts = "".join(_count(entry["installations"][position]) for entry in integrations)
        week_rows.append(f"<tr><td>{escape(week)}</td>{counts}</tr>")
    table = _table(
        ["week", *(entry["domain"] for entry in integrations)],
        week_rows[::-1],
        "Installations per week as a table",
    )
    return _card(
        "Printer integrations",
        '<p class="muted">Installations per week over the newest published weeks; each links to its '
        "insight page (versions, models, firmware, job outcomes, errors).</p>"
        + _table(["integration", "installations per week", "newest week"], rows)
        + table,
    )
