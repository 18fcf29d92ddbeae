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


def _fmt(value: int | float | None) -> str:
    if value is None:  # withheld: fewer than k installations
        return "n/a"
    return f"{value:,.0f}" if isinstance(value, int) else f"{value:,.1f}"


def _bars(rows: Sequence[tuple[str, int | float, str]], css: str = "", unit: str = "") -> str:
    """Horizontal bars: (label, value, note)."""
    if not rows:
        return '<p class="muted">Nothing reported.</p>'
    top = max(value for _, value, _ in rows) or 1
    out = ['<table class="bars">']
    for label, value, note in rows:
        width = 100.0 * value / top
        title = f' title="{escape(note)}"' if note else ""
        out.append(
            f'<tr{title}><td class="label">{escape(label)}</td>'
            f'<td><div class="bar {css}"><span style="width:{width:.1f}%"></span></div></td>'
            f'<td class="value">{_fmt(value)}{unit}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _cells(cells: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, int | float, str]]:
    rows = []
    for key, cell in cells.items():
        installs = cell.get("installations")
        note = f"{installs} installations" if installs is not None else "folded rare values"
        rows.append((key, int(cell["total"]), note))
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


def _week_section(week: dict[str, Any]) -> str:
    active = week["installations"] or 1
    features = [
        (
            name,
            round(100.0 * (cell["installations_on"] or 0) / active, 1),
            f"{_fmt(cell['on'])} entity-days on",
        )
        for name, cell in week["features"].items()
        if name != "other"
    ]
    features.sort(key=lambda row: (-row[1], row[0]))
    jobs = week["jobs"]
    outcomes = [
        (outcome, sum(int(cell["total"]) for cell in jobs[outcome].values()), "") for outcome in JOB_OUTCOMES
    ]
    order = [*DURATION_BUCKETS, OTHER]
    durations = [
        (bucket, int(jobs["duration"][bucket]["total"]), "") for bucket in order if bucket in jobs["duration"]
    ]
    errors = []
    for component, cell in sorted(week["errors"].items(), key=lambda item: -int(item[1]["total"])):
        errors.append(
            f"<h3>{escape(component)} · {_fmt(int(cell['total']))}</h3>{_bars(_cells(cell['types']), 'alt')}"
        )
    installation = week["installation"]
    return f"""
<section class="card"><h2>Week {escape(week["week"])}</h2>
<div class="kpis"><div class="kpi"><b>{_fmt(week["installations"])}</b>active installations</div>
<div class="kpi"><b>{_fmt(week["reports"])}</b>reports</div>
<div class="kpi"><b>{_fmt(week["late_reports"])}</b>late reports (not counted)</div>
<div class="kpi"><b>{_fmt(week["printers"])}</b>printers</div>
<div class="kpi"><b>{_fmt(outcomes[0][1])}</b>jobs started</div></div></section>
<div class="grid">
<section class="card"><h2>Printers by type</h2>{_bars(_cells(week["printer_types"]))}</section>
<section class="card"><h2>Feature adoption</h2><p class="muted">Share of active installations with the
feature on at least one day.</p>{_bars(features, "ok", "%")}</section>
<section class="card"><h2>Jobs by outcome</h2>{_bars(outcomes)}</section>
<section class="card"><h2>Job durations</h2>{_bars(durations)}</section>
<section class="card"><h2>Jobs started by printer type</h2>{_bars(_cells(jobs["started"]))}</section>
<section class="card"><h2>Events</h2>{_bars(_cells(week["events"]))}</section>
<section class="card"><h2>Errors by component</h2>{"".join(errors) or '<p class="muted">No errors reported.</p>'}</section>
<section class="card"><h2>Integration versions</h2>{_bars(_cells(installation["integration_version"]))}
<h3>Home Assistant versions</h3>{_bars(_cells(installation["ha_version"]))}
<h3>Installation types</h3>{_bars(_cells(installation["installation_type"]))}</section>
</div>"""


def _totals(weeks: list[dict[str, Any]]) -> str:
    """The week totals as a sparkline and a table (newest first), beside the trend chart."""
    series = weeks[:52][::-1]
    line = svg.sparkline([week["installations"] for week in series], "Active installations per week")
    rows = "".join(
        f'<tr><td>{escape(week["week"])}</td><td class="value">{_fmt(week["installations"])}</td>'
        f'<td class="value">{_fmt(week["reports"])}</td><td class="value">{_fmt(week["printers"])}</td></tr>'
        for week in weeks[:52]
    )
    return (
        f'<p class="muted">Trend over {len(series)} weeks: {line}</p><details><summary>Week totals as a table</summary>'
        f'<table class="bars"><tr><th>week</th><th>installations</th><th>reports</th><th>printers</th></tr>{rows}</table></details>'
    )


def render_page(stats: Mapping[str, Any], selected: str | None = None, integrations: str = "") -> str:
    """Render the public page for the published statistics (``selected`` week, else the newest);
    ``integrations`` is the rendered list of insight pages."""
    weeks: list[dict[str, Any]] = list(stats["weeks"])
    k = int(stats["k_anonymity"])
    current = next((week for week in weeks if week["week"] == selected), weeks[0] if weeks else None)
    nav = "".join(
        f'<a href="?week={escape(week["week"])}"{" class=on" if week is current else ""}>{escape(week["week"])}</a>'
        for week in weeks[:26]
    )
    if current is None:
        body = (
            '<section class="card"><p>No week has enough installations to publish yet '
            f"(at least {k} are needed).</p></section>"
        )
    else:
        body = f'<section class="card"><h2>Active installations per week</h2>{_trend(weeks)}{_totals(weeks)}<nav>{nav}</nav></section>'
        body += integrations
        body += _week_section(current)
    suppressed = int(stats.get("suppressed_weeks", 0))
    delay = stats.get("publication_delay_days", 0)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Usage statistics</title><style>{STYLE}</style></head>
<body><main><h1>Usage statistics</h1>
<p class="muted">Pseudonymous weekly reports from the usage_stats integration (a random installation id, only to count each installation once and to honour deletion), aggregated per ISO week.
A week is published once, {_fmt(delay)} days after it ends, and never changes after that; reports of
it that arrive later are stored but counted only as “late reports”. Values
reported by fewer than {k} installations are left out or folded into “other”; weeks with fewer than
{k} installations are not shown ({suppressed} hidden). Machine-readable: <a href="/v1/stats">/v1/stats</a>.</p>
{body}
</main></body></html>
"""
