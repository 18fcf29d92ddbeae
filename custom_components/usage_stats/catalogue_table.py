"""The README's "What is collected" table, made from the catalogue (the allowlist)."""

from __future__ import annotations

from .catalogue import EVENT_TYPES, METRICS, Label, Metric


def _value_cell(metric: Metric, label: Label, value: str) -> str:
    """Return a label value, with its report version when it came after its metric."""
    if (since := label.since.get(value, metric.since)) <= metric.since:
        return f"`{value}`"
    return f"`{value}` (since report version {since})"


def _since_cell(metric: Metric) -> str:
    """Return a metric's report version, and those of values added after it.

    A label shared with an older metric (the job outcome) may have values older
    than this metric: they came with it.
    """
    later = "".join(
        f"; `{label.name}` `{value}`: {since}"
        for label in metric.labels
        for value, since in label.since.items()
        if since > metric.since
    )
    return f"{metric.since}{later}"


def markdown_table() -> str:
    """Return the README's "What is collected" table, made from the catalogue."""
    rows = [
        "| metric | kind | labels | recorded at consent | report section | since report version | description |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for metric in METRICS.values():
        labels = "<br>".join(
            f"`{label.name}`: {label.kind}"
            + (
                f" ({', '.join(_value_cell(metric, label, v) for v in label.values)})"
                if label.values
                else ""
            )
            for label in metric.labels
        )
        rows.append(
            f"| `{metric.name}` | {metric.kind} | {labels or 'none'} | "
            f"`{metric.min_consent}` | `{metric.section}` | {_since_cell(metric)} | "
            f"{metric.description} |"
        )
    rows += [
        "",
        "Event types accepted by `usage_stats.record_event` besides `custom_<identifier>`:",
        "",
        "| event type | metadata | description |",
        "| --- | --- | --- |",
    ]
    for event in EVENT_TYPES.values():
        metadata = "<br>".join(
            f"`{key}`: "
            + (", ".join(f"`{v}`" for v in values) if values else "boolean")
            for key, values in event.metadata.items()
        )
        rows.append(f"| `{event.name}` | {metadata or 'none'} | {event.description} |")
    return "\n".join(rows) + "\n"
