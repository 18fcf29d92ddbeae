"""Validation of the submission endpoint the user chooses."""

from __future__ import annotations

from ipaddress import ip_address

from yarl import URL

LOOPBACK_HOSTS = frozenset({"localhost", "localhost.localdomain"})


def is_loopback_host(host: str) -> bool:
    """Return True for hosts that never leave this machine."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_error(value: str) -> str | None:
    """Return a translation key describing what is wrong with an endpoint, or None.

    An endpoint is an absolute https URL without credentials, query or fragment.
    Plain http is accepted only for loopback hosts (self-hosting and tests).
    """
    try:
        url = URL(value.strip())
    except ValueError:
        return "invalid_url"
    if not url.is_absolute() or not url.host or url.scheme not in ("http", "https"):
        return "invalid_url"
    if url.user or url.password or url.query_string or url.fragment:
        return "invalid_url"
    if url.scheme == "http" and not is_loopback_host(url.host):
        return "insecure_url"
    return None


def normalize_endpoint(value: str) -> str:
    """Return the endpoint without surrounding spaces or a trailing slash."""
    return value.strip().rstrip("/")
