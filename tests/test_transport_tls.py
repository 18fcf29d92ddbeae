"""The weekly report over https: a real TLS server on 127.0.0.1, certificates made here.

Home Assistant's shared client session verifies certificates; these tests show that a
report goes out to an endpoint whose certificate chains to a trusted authority, and that
nothing at all is sent to one whose certificate does not (the report waits in the outbox).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
import ssl
import threading
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from freezegun.api import FrozenDateTimeFactory
import pytest

from custom_components.usage_stats.coordinator import UsageStatsCoordinator
from homeassistant.core import HomeAssistant
from homeassistant.util import ssl as ssl_util

from .helpers import Receiver, advance, assert_valid_report, record_week, share_with

type KeyAndCert = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_authority(common_name: str) -> KeyAndCert:
    """Return a certificate authority that strict verification (Python 3.13) accepts."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_certificate(authority: KeyAndCert) -> KeyAndCert:
    """Return a certificate for 127.0.0.1 signed by the authority."""
    ca_key, ca_cert = authority
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pem(cert: x509.Certificate) -> str:
    """Return a certificate as PEM text."""
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def trusted_authority() -> KeyAndCert:
    """An authority that Home Assistant is told to trust."""
    authority = make_authority("usage_stats test authority")
    # The shared session verifies with Home Assistant's default client context: in
    # 2025.4 `client_context()`, in 2026.2 the one with ALPN http/1.1; on both it is
    # what `get_default_context()` returns. It is made once per process; a test
    # authority added to it changes nothing for the other tests, which use http.
    ssl_util.get_default_context().load_verify_locations(cadata=pem(authority[1]))
    return authority


@pytest.fixture
def server_authority(
    request: pytest.FixtureRequest, trusted_authority: KeyAndCert
) -> KeyAndCert:
    """The authority of the receiver's certificate: "trusted" or "unknown"."""
    if request.param == "trusted":
        return trusted_authority
    return make_authority("unknown authority")


@pytest.fixture
def tls_receiver(
    socket_enabled: None, tmp_path: Path, server_authority: KeyAndCert
) -> Generator[Receiver]:
    """An https receiver on 127.0.0.1 with a certificate of `server_authority`."""
    key, cert = make_server_certificate(server_authority)
    key_file, cert_file = tmp_path / "server.key", tmp_path / "server.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_text(pem(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)

    receiver = Receiver()
    server = ServerThread(receiver.application(), context)
    receiver.url = f"https://127.0.0.1:{server.start()}"
    yield receiver
    server.stop()


class ServerThread:
    """An aiohttp server on its own event loop and thread, like a server elsewhere.

    A refused TLS handshake is an error of the server's loop; on Home Assistant's
    loop the test harness would count it as an error of the integration.
    """

    def __init__(self, app: web.Application, context: ssl.SSLContext) -> None:
        """Prepare the server; nothing runs before `start`."""
        self._runner = web.AppRunner(app)
        self._context = context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> int:
        """Start serving on a free port of 127.0.0.1 and return the port."""
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._context)
        await site.start()
        port: int = self._runner.addresses[0][1]
        return port

    def stop(self) -> None:
        """Stop serving and end the thread."""
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def options(tls_receiver: Receiver) -> dict[str, Any]:
    """Share with the https receiver."""
    return share_with(tls_receiver)


@pytest.mark.parametrize("server_authority", ["trusted"], indirect=True)
async def test_report_goes_out_over_verified_tls(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    tls_receiver: Receiver,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An https endpoint with a certificate Home Assistant trusts gets the report."""
    assert tls_receiver.url.startswith("https://")
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    assert len(tls_receiver.requests) == 1
    report = tls_receiver.requests[0].json()
    assert_valid_report(report)
    assert report["period"]["start"] == "2026-11-02"
    assert coordinator.submission.status == "idle"
    assert coordinator.submission.state["outbox"] == []


@pytest.mark.parametrize("server_authority", ["unknown"], indirect=True)
async def test_untrusted_certificate_gets_nothing(
    hass: HomeAssistant,
    coordinator: UsageStatsCoordinator,
    tls_receiver: Receiver,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No request reaches an endpoint whose certificate is not trusted; the report waits."""
    record_week(coordinator, freezer)
    await advance(hass, freezer, "2026-11-09T06:00:30+00:00")
    await advance(hass, freezer, timedelta(hours=1, minutes=2))
    assert tls_receiver.requests == []
    submission = coordinator.submission
    assert submission.status == "retrying"
    assert len(submission.state["outbox"]) == 1
    assert submission.state["outbox"][0]["attempts"] >= 1
    assert caplog.text.count("did not take a report (connection)") == 1
