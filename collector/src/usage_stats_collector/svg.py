"""Charts drawn on the server as inline SVG: no script, no external asset, every text escaped.

Each chart is an image with an ``aria-label`` and ``<title>`` tooltips; the pages put a table with
the same numbers beside every chart. A missing value (``None``: withheld or not published) is drawn
as a gap, never as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#3b7dd8", "#e07a2e", "#3a9d5d", "#b54a9c", "#c9a227", "#2aa7b8", "#8a5a44", "#5d6678", "#a3a9b5")
_AXIS = "#c9ced6"

Value = float | None


def color(index: int) -> str:
    """The colour of the ``index``-th series (the last one repeats)."""
    return PALETTE[min(index, len(PALETTE) - 1)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _open(width: int, height: int, label: str, size: str = 'width="100%"') -> str:
    return f'<svg viewBox="0 0 {width} {height}" {size} role="img" aria-label="{escape(label)}">'


def sparkline(values: Sequence[Value], label: str, width: int = 160, height: int = 32) -> str:
    """A small line of a series (gaps where a value is missing), its newest value marked."""
    known = [value for value in values if value is not None]
    top = max(known, default=0) or 1
    step = (width - 4) / max(len(values) - 1, 1)
    lines: list[list[str]] = [[]]
    last = ""
    for index, value in enumerate(values):
        if value is None:
            lines.append([])
            continue
        last = f"{2 + index * step:.1f},{height - 3 - (height - 6) * value / top:.1f}"
        lines[-1].append(last)
    parts = [_open(width, height, label, f'width="{width}" height="{height}" style="vertical-align:middle"')]
    for points in lines:
        if len(points) > 1:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{color(0)}" stroke-width="1.5"/>'
            )
    if last:
        x, y = last.split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color(0)}"/>')
    parts.append(f"<title>{escape(label)}</title></svg>")
    return "".join(parts)


def columns(labels: Sequence[str], values: Sequence[Value], label: str, unit: str = "") -> str:
    """A column per label (weeks, oldest on the left), empty where a value is missing."""
    return stacked_columns(labels, [(label, values)], label, unit)


def stacked_columns(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Value]]],
    label: str,
    unit: str = "",
    top: float | None = None,
) -> str:
    """Columns of stacked series, scaled to ``top`` (shares: 100) or else to the highest column."""
    width, height, pad = 960, 200, 30
    totals = [sum(values[index] or 0 for _, values in series) for index in range(len(labels))]
    top = top or max(totals, default=0) or 1
    step = (width - 2 * pad) / max(len(labels), 1)
    parts = [
        _open(width, height, label),
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="{_AXIS}"/>',
    ]
    for index, week in enumerate(labels):
        x = pad + index * step
        base = float(height - pad)
        for number, (name, values) in enumerate(series):
            value = values[index]
            if not value:
                continue
            bar = (height - 2 * pad) * value / top
            base -= bar
            title = f"{escape(week)} · {escape(name)}: {_number(value)}{escape(unit)}"
            parts.append(
                f'<rect x="{x + step * 0.1:.1f}" y="{base:.1f}" width="{step * 0.8:.1f}" height="{bar:.1f}" '
                f'fill="{color(number)}"><title>{title}</title></rect>'
            )
        if index in {0, len(labels) - 1} or len(labels) <= 12:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - pad + 14}" text-anchor="middle">'
                f"{escape(week)}</text>"
            )
    parts.append(f'<text x="{pad}" y="14">max {_number(top)}{escape(unit)}</text></svg>')
    return "".join(parts)


def bars(
    rows: Sequence[tuple[str, Sequence[Value]]],
    names: Sequence[str],
    label: str,
    unit: str = "",
    stacked: bool = False,
) -> str:
    """Horizontal bars: per row one bar per name (grouped), or the names' values end to end (stacked)."""
    width, left, row_height = 960, 220, 22 if stacked else 8 + 12 * max(len(names), 1)
    height = 10 + row_height * len(rows)
    values = [value or 0 for _, row in rows for value in row]
    sums = [sum(value or 0 for value in row) for _, row in rows]
    top = (max(sums, default=0) if stacked else max(values, default=0)) or 1
    scale = (width - left - 110) / top  # room for the value after the longest bar
    parts = [_open(width, height, label)]
    for number, (name, row) in enumerate(rows):
        y = 5 + number * row_height
        parts.append(
            f'<text x="{left - 6}" y="{y + row_height / 2 + 4:.1f}" text-anchor="end">{escape(name)}</text>'
        )
        x = float(left)
        for index, value in enumerate(row):
            if value is None:
                continue
            bar_y = y + 3 if stacked else y + 4 + 12 * index
            thickness = row_height - 6 if stacked else 10
            length = value * scale
            title = f"{escape(name)} · {escape(names[index])}: {_number(value)}{escape(unit)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{bar_y:.1f}" width="{length:.1f}" height="{thickness}" '
                f'fill="{color(index)}"><title>{title}</title></rect>'
            )
            if stacked:
                x += length
            else:
                label_x = x + length + 4
                parts.append(
                    f'<text x="{label_x:.1f}" y="{bar_y + 9:.1f}">{_number(value)}{escape(unit)}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)
