"""The public statistics page: server-rendered HTML with CSS bars and an inline SVG chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from . import svg
from .aggregates import DURATION_BUCKETS, JOB_OUTCOMES, OTHER

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}h3{font-size:15px;margin:14px 0 6px}
.muted{color:#5d6678}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px}
.card{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:16px;margin:0 0 16px}
.kpis{display:flex;gap:28px;flex-wrap:wrap}.kpi b{display:block;font-size:26px}
table.bars{width:100%;border-collapse:collapse}table.bars td{padding:3px 4px;vertical-align:middle}
td.label{width:38%;word-break:break-all}td.value{width:1%;white-space:nowrap;text-align:right}
.bar{background:#e9edf3;border-radius:3px;height:14px}.bar span{display:block;height:14px;border-radius:3px;background:#3b7dd8}
.bar.alt span{background:#e07a2e}.bar.ok span{background:#3a9d5d}
nav a{display:inline-block;margin:0 6px 6px 0;padding:2px 8px;border-radius:12px;background:#e9edf3;color:#1d2330;text-decoration:none}
nav a.on{background:#3b7dd8;color:#fff}svg text{font-size:11px;fill:#5d6678}
table.data{border-collapse:collapse;margin:8px 0}table.data td,table.data th{padding:2px 10px;text-align:left}
table.data td.n,table.data td.r{text-align:right;font-variant-numeric:tabular-nums}
.legend span{display:inline-block;margin:0 12px 4px 0}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.mark{color:#b3261e;font-weight:600}summary{cursor:pointer;color:#3b7dd8}
"""


def _fmt(value: int | float | None, half_width: float | None = None) -> str:
    """A number; under differential privacy with its 95 % interval: ``v ± h``, or the interval
    itself (``lo-hi``, with an en dash) when it is wide for the number (a small count is no more precise than that)."""
    if value is None:  # withheld (fewer than k installations), or not released
        return "n/a"
    if half_width is not None and half_width > 0:
        width = max(1, round(half_width))
        if value < 2 * width:
            return f"{max(0, round(value) - width):,}\u2013{round(value) + width:,}"
        return f"{round(value):,} ±{width:,}"
    return f"{value:,.0f}" if isinstance(value, int) else f"{value:,.1f}"


Row = tuple[str, int | float, str, float | None]  # label, value, note, 95 % half-width (dp)


def _bars(rows: Sequence[Row], css: str = "", unit: str = "") -> str:
    """Horizontal bars: (label, value, note, half-width)."""
    if not rows:
        return '<p class="muted">Nothing reported.</p>'
    top = max(value for _, value, _, _ in rows) or 1
    out = ['<table class="bars">']
    for label, value, note, half_width in rows:
        width = 100.0 * value / top
        title = f' title="{escape(note)}"' if note else ""
        out.append(
            f'<tr{title}><td class="label">{escape(label)}</td>'
            f'<td><div class="bar {css}"><span style="width:{width:.1f}%"></span></div></td>'
            f'<td class="value">{_fmt(value, half_width)}{unit}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


Interval = Mapping[str, Any] | None  # dp: a list's 95 % half-widths, by number; None: exact


def _half_width(cell: Mapping[str, Any], interval: Interval, name: str = "total") -> float | None:
    """The 95 % half-width of a number of a cell: its own (a dp ``other``), else its list's."""
    own = cell.get("ci95") or interval
    return None if own is None else own.get(name)


def _cells(cells: Mapping[str, Mapping[str, Any]], interval: Interval = None) -> list[Row]:
    rows = []
    for key, cell in cells.items():
        installs = cell.get("installations")
        if installs is None:
            note = "folded rare values"
        else:
            note = f"{_fmt(installs, _half_width(cell, interval, 'installations'))} installations"
        rows.append((key, int(cell["total"]), note, _half_width(cell, interval)))
    return sorted(rows, key=lambda row: (row[0] == "other", -row[1], row[0]))


def _trend(weeks: list[dict[str, Any]]) -> str:
    """An SVG column chart of active installations per week, oldest on the left."""
    series = list(reversed(weeks[:52]))
    if not series:
        return ""
    width, height, pad = 960, 180, 28
    top = max(week["installations"] for week in series) or 1
    step = (width - 2 * pad) / len(series)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        'aria-label="Active installations per week">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#c9ced6"/>',
    ]
    for index, week in enumerate(series):
        bar = (height - 2 * pad) * week["installations"] / top
        x = pad + index * step
        parts.append(
            f'<rect x="{x + step * 0.1:.1f}" y="{height - pad - bar:.1f}" width="{step * 0.8:.1f}" '
            f'height="{bar:.1f}" fill="#3b7dd8"><title>{escape(week["week"])}: '
            f"{week['installations']} installations</title></rect>"
        )
        if index == 0 or index == len(series) - 1 or len(series) <= 12:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - pad + 14}" text-anchor="middle">'
                f"{escape(week['week'])}</text>"
            )
    parts.append(f'<text x="{pad}" y="14">max {_fmt(top)}</text></svg>')
    return "".join(parts)


def _week_kpis(week: Mapping[str, Any], started: int) -> str:
    """The week's headline numbers (under dp with their intervals) and the rule it was published under."""
    interval = week.get("ci95", {})
    if "dp" in week:
        late = (
            _fmt(week["late_reports"], interval.get("late_reports"))
            if week["late_reports"] is not None
            else "not yet"
        )
        budget = week["dp"]
        rule = (
            f'<p class="muted">Published under differential privacy: this week spent \u03c1 = {budget["rho"]:.2f} '
            f"(ε = {budget['epsilon']:.2f} at δ = {budget['delta']:g}). Every number is noisy; ± is its 95 % "
            "interval (the noise only), a range is a small number's interval.</p>"
        )
        reports = f'<div class="kpi"><b>{late}</b>installations that reported late (not counted)</div>'
    else:
        rule = (
            f'<p class="muted">Published under k-anonymity, k = {escape(str(week["k_anonymity"]))}: exact '
            "numbers, each of at least k installations.</p>"
        )
        reports = (
            f'<div class="kpi"><b>{_fmt(week["reports"])}</b>reports</div>'
            f'<div class="kpi"><b>{_fmt(week["late_reports"])}</b>late reports (not counted)</div>'
        )
    return f"""
<section class="card"><h2>Week {escape(week["week"])}</h2>
<div class="kpis"><div class="kpi"><b>{_fmt(week["installations"], interval.get("installations"))}</b>active installations</div>
{reports}
<div class="kpi"><b>{_fmt(week["printers"], interval.get("printers"))}</b>printers</div>
<div class="kpi"><b>{_fmt(started)}</b>jobs started</div></div>{rule}</section>"""


def _week_section(week: dict[str, Any]) -> str:
    intervals: Mapping[str, Any] = week.get("ci95", {})

    def of(path: str) -> Interval:
        found: Interval = intervals.get(path)
        return found

    active = week["installations"] or 1
    features: list[Row] = [
        (
            name,
            round(100.0 * min(cell["installations_on"] or 0, active) / active, 1),
            f"{_fmt(cell['on'], _half_width(cell, of('features'), 'on'))} entity-days on",
            None,
        )
        for name, cell in week["features"].items()
        if name != "other"
    ]
    features.sort(key=lambda row: (-row[1], row[0]))
    jobs = week["jobs"]
    outcomes: list[Row] = [
        (outcome, sum(int(cell["total"]) for cell in jobs[outcome].values()), "", None)
        for outcome in JOB_OUTCOMES
    ]
    order = [*DURATION_BUCKETS, OTHER]
    durations: list[Row] = [
        (bucket, int(cell["total"]), "", _half_width(cell, of("jobs.duration")))
        for bucket in order
        if (cell := jobs["duration"].get(bucket)) is not None
    ]
    errors = []
    for component, cell in sorted(week["errors"].items(), key=lambda item: -int(item[1]["total"])):
        errors.append(
            f"<h3>{escape(component)} · {_fmt(int(cell['total']), _half_width(cell, of('errors')))}</h3>"
            f"{_bars(_cells(cell['types'], of('errors.types')), 'alt')}"
        )
    installation = week["installation"]
    return f"""{_week_kpis(week, int(outcomes[0][1]))}
<div class="grid">
<section class="card"><h2>Printers by type</h2>{_bars(_cells(week["printer_types"], of("printer_types")))}</section>
<section class="card"><h2>Feature adoption</h2><p class="muted">Share of active installations with the
feature on at least one day.</p>{_bars(features, "ok", "%")}</section>
<section class="card"><h2>Jobs by outcome</h2>{_bars(outcomes)}</section>
<section class="card"><h2>Job durations</h2>{_bars(durations)}</section>
<section class="card"><h2>Jobs started by printer type</h2>{_bars(_cells(jobs["started"], of("jobs.started")))}</section>
<section class="card"><h2>Events</h2>{_bars(_cells(week["events"], of("events")))}</section>
<section class="card"><h2>Errors by component</h2>{"".join(errors) or '<p class="muted">No errors reported.</p>'}</section>
<section class="card"><h2>Integration versions</h2>{_bars(_cells(installation["integration_version"], of("installation.integration_version")))}
<h3>Home Assistant versions</h3>{_bars(_cells(installation["ha_version"], of("installation.ha_version")))}
<h3>Installation types</h3>{_bars(_cells(installation["installation_type"], of("installation.installation_type")))}</section>
</div>"""


def _totals(weeks: list[dict[str, Any]]) -> str:
    """The week totals as a sparkline and a table (newest first), beside the trend chart."""
    series = weeks[:52][::-1]
    line = svg.sparkline([week["installations"] for week in series], "Active installations per week")
    rows = "".join(
        f"<tr><td>{escape(week['week'])}</td>"
        f'<td class="value">{_fmt(week["installations"], week.get("ci95", {}).get("installations"))}</td>'
        f'<td class="value">{_fmt(week["reports"])}</td>'
        f'<td class="value">{_fmt(week["printers"], week.get("ci95", {}).get("printers"))}</td></tr>'
        for week in weeks[:52]
    )
    return (
        f'<p class="muted">Trend over {len(series)} weeks: {line}</p><details><summary>Week totals as a table</summary>'
        f'<table class="bars"><tr><th>week</th><th>installations</th><th>reports</th><th>printers</th></tr>{rows}</table></details>'
    )


def _rule(stats: Mapping[str, Any]) -> str:
    """How the weeks are published: the rule of new weeks, and the budget spent in all dp weeks."""
    budget = stats.get("budget", {})
    spent = ""
    if budget.get("dp_weeks"):
        spent = (
            f" The {budget['dp_weeks']} weeks published under differential privacy spent \u03c1 = "
            f"{budget['rho']:.2f} together (ε = {budget['epsilon']:.1f} at δ = {budget['delta']:.2g}): "
            "what one installation that reported in all of them could lose at most."
        )
    if stats.get("privacy") == "dp":
        rule = (
            "New weeks are published under differential privacy (OpenDP): each number has noise "
            f"calibrated to what one installation's week can change, \u03c1 = {stats['rho']:g} a week; keys "
            "not known in advance (printer types, versions, events, errors) are named only above a "
            "noisy threshold, so a key only one installation has is not named. Numbers are shown with "
            "their 95 % interval (the noise; values of an installation above the caps are clipped)."
        )
    else:
        k = stats.get("k_anonymity")
        rule = (
            f"New weeks are published under k-anonymity: values reported by fewer than {k} installations "
            f"are left out or folded into “other”; weeks with fewer than {k} installations are not shown "
            f"({int(stats.get('suppressed_weeks', 0))} hidden)."
        )
    return (
        rule
        + spent
        + " Each week shows the rule it was published under; the ledger (mechanism, caps, noise) is in /v1/stats."
    )


def _ledger(week: Mapping[str, Any], ledger: Mapping[str, Any] | None) -> str:
    """A dp week's ledger: the mechanism, the unit, the budget, and per metric its caps and noise."""
    if ledger is None:
        return ""
    parts = ledger["parts"]
    rows = []
    for metric, cap in sorted(ledger["caps"].items()):
        count = parts.get(f"{metric}/installations", {})
        totals = parts.get(f"{metric}/totals", {})
        threshold = count.get("threshold")
        rows.append(
            f"<tr><td>{escape(metric)}</td><td>{escape(str(cap['kind']))}</td>"
            f'<td class="n">{int(cap["max_keys"])}</td><td class="n">{int(cap["cap"])}</td>'
            f'<td class="r">{100 * float(cap["budget_share"]):.1f} %</td>'
            f'<td class="n">{"" if threshold is None else int(threshold)}</td>'
            f'<td class="r">{_fmt(float(count.get("half_width", 0)))}</td>'
            f'<td class="r">{_fmt(float(totals["half_width"])) if int(cap["cap"]) > 1 and totals else ""}</td></tr>'
        )
    head = "".join(
        f"<th>{name}</th>"
        for name in (
            "metric",
            "kind",
            "keys per installation",
            "cap per key",
            "share of \u03c1",
            "named from",
            "\u00b1 installations",
            "\u00b1 total",
        )
    )
    return (
        f'<section class="card"><h2>How week {escape(week["week"])} was published</h2>'
        f'<p class="muted">{escape(str(ledger["mechanism"]))}; {escape(str(ledger["library"]))}. The unit protected: '
        f"{escape(str(ledger['unit']))}. Budget: \u03c1 = {float(ledger['rho']):.3f} (\u03b5 = {float(ledger['epsilon']):.2f} at "
        f"\u03b4 = {float(ledger['delta']):g}). An installation's values are clipped to the caps; keys not known in "
        "advance are named only from the noisy count shown; \u00b1 is the 95 % interval of one number.</p>"
        f'<details><summary>Caps and noise of each metric</summary><table class="data"><tr>{head}</tr>{"".join(rows)}</table></details></section>'
    )


def render_page(stats: Mapping[str, Any], selected: str | None = None, integrations: str = "") -> str:
    """Render the public page for the published statistics (``selected`` week, else the newest);
    ``integrations`` is the rendered list of insight pages."""
    weeks: list[dict[str, Any]] = list(stats["weeks"])
    current = next((week for week in weeks if week["week"] == selected), weeks[0] if weeks else None)
    nav = "".join(
        f'<a href="?week={escape(week["week"])}"{" class=on" if week is current else ""}>{escape(week["week"])}</a>'
        for week in weeks[:26]
    )
    if current is None:
        empty = (
            "No week has been published yet."
            if stats.get("privacy") == "dp"
            else f"No week has enough installations to publish yet (at least {stats['k_anonymity']} are needed)."
        )
        body = f'<section class="card"><p>{escape(empty)}</p></section>'
    else:
        body = f'<section class="card"><h2>Active installations per week</h2>{_trend(weeks)}{_totals(weeks)}<nav>{nav}</nav></section>'
        body += integrations
        body += _week_section(current)
        if "dp" in current:
            body += _ledger(current, stats.get("ledgers", {}).get(current["dp"]["ledger"]))
    delay = stats.get("publication_delay_days", 0)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Usage statistics</title><style>{STYLE}</style></head>
<body><main><h1>Usage statistics</h1>
<p class="muted">Pseudonymous weekly reports from the usage_stats integration (a random installation id, only to count each installation once and to honour deletion), aggregated per ISO week.
A week is published once, {_fmt(delay)} days after it ends, and never changes after that; reports of
it that arrive later are stored but counted only as “late reports”. {escape(_rule(stats))}
Machine-readable: <a href="/v1/stats">/v1/stats</a>.</p>
{body}
</main></body></html>
"""
