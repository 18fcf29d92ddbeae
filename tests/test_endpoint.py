"""Tests for endpoint validation."""

from __future__ import annotations

import pytest

from custom_components.usage_stats.endpoint import endpoint_error, is_loopback_host


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("https://stats.example.org", None),
        ("https://stats.example.org:8443/usage/", None),
        ("http://127.0.0.1:8080", None),
        ("http://127.8.0.1", None),
        ("http://[::1]:8080", None),
        ("http://localhost", None),
        ("http://collector.localhost", None),
        ("http://stats.example.org", "insecure_url"),
        ("http://10.0.0.2", "insecure_url"),
        ("http://[fe80::1]", "insecure_url"),
        ("ftp://stats.example.org", "invalid_url"),
        ("stats.example.org", "invalid_url"),
        ("/v1/reports", "invalid_url"),
        ("https://user:pw@stats.example.org", "invalid_url"),
        ("https://stats.example.org/?token=1", "invalid_url"),
        ("https://stats.example.org/#x", "invalid_url"),
        ("https://[::1", "invalid_url"),
        ("", "invalid_url"),
    ],
)
def test_endpoint_error(value: str, error: str | None) -> None:
    """Only https, or http on loopback, without credentials or query."""
    assert endpoint_error(value) == error


def test_is_loopback_host() -> None:
    """Loopback names and addresses are recognised, others are not."""
    assert is_loopback_host("LOCALHOST")
    assert is_loopback_host("[::1]")
    assert not is_loopback_host("example.org")
    assert not is_loopback_host("192.168.0.1")
