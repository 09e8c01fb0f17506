"""`dermline serve --tls-cert --tls-key`: HTTPS, HSTS and Secure cookies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.live import ServerProcess, enrol_person

pytestmark = pytest.mark.slow


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_serves_hsts_and_secure_cookies(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", tls=self_signed(tmp_path))
    await server.start()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(server.url + "/healthz", ssl=server.ssl) as resp,
        ):
            assert resp.status == 200
            assert "max-age=" in resp.headers["Strict-Transport-Security"]
        admin = await enrol_person(
            server.url, server.setup_token(), "admin@example.org", "Ada", server.ssl
        )
        try:
            cookies = {c.key: c for c in admin.client.api.session.cookie_jar}
            assert cookies["dermline_session"]["secure"]
            assert cookies["dermline_session"]["httponly"]
            assert cookies["dermline_csrf"]["secure"]
            # The real-time connection goes over TLS too, trusting what the HTTP API trusts
            # (the test's self-signed certificate; the default verification would refuse it).
            rt = await admin.client.connect_realtime()
            assert rt.connected.is_set()
        finally:
            await admin.client.close()
    finally:
        server.stop()
