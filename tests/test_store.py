"""Tests for the compact on-disk form of the daily counters."""

from __future__ import annotations

from hypothesis import given, strategies as st

from custom_components.usage_stats.store import decode_days, encode_days

LABEL = st.from_regex(r"[a-z][a-z0-9_./]{0,20}", fullmatch=True) | st.just("")
DAYS = st.dictionaries(
    st.dates().map(lambda day: day.isoformat()),
    st.dictionaries(
        st.sampled_from(["printers", "jobs", "errors", "features"]),
        st.dictionaries(LABEL, st.integers(min_value=0, max_value=10**9), max_size=8),
        max_size=4,
    ),
    max_size=10,
)


@given(days=DAYS)
def test_round_trip(days: dict[str, dict[str, dict[str, int]]]) -> None:
    """Whatever is stored comes back the same, empty snapshots included."""
    encoded = encode_days(days)
    assert all(isinstance(text, str) for text in encoded["counts"].values())
    assert decode_days(encoded) == days


def test_each_key_is_written_once() -> None:
    """A key recorded every day is in the key table once."""
    days = {f"2026-11-{day:02}": {"jobs": {"completed/prusa": day}} for day in (1, 2)}
    assert encode_days(days) == {
        "keys": ["jobs|completed/prusa"],
        "counts": {"2026-11-01": "0,1", "2026-11-02": "0,2"},
    }
