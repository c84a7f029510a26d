"""Fixtures for the agent's loader and check kinds."""

from __future__ import annotations

import datetime
import socket
import ssl
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import ConfigError, load_config
from agent.spec import CheckSpec

ConfigWriter = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Return a function that writes dedented YAML to checks.yaml in tmp_path."""

    def write(text: str) -> Path:
        path = tmp_path / "checks.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


def config_messages(path: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the loader's error lines for `path`, failing if it loads."""
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    return [str(issue) for issue in caught.value.issues]


@pytest.fixture
def make_check(tmp_path: Path) -> Callable[..., CheckSpec]:
    """Return a function that loads one check of `kind` through the real loader."""

    def make(kind: str, **options: Any) -> CheckSpec:
        entry = {"name": options.pop("name", f"test-{kind}"), "kind": kind, **options}
        document = {"agent": {"host": "test-host"}, "checks": [entry]}
        path = tmp_path / f"{entry['name']}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return load_config(path, {}).checks[0]

    return make


@pytest.fixture
def closed_port() -> int:
    """Return a port on 127.0.0.1 with no listener (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Certificates:
    """A test CA and server certificates it signed, as PEM files."""

    folder: Path
    ca_file: Path

    def server(
        self, name: str, hosts: list[str], not_after: datetime.datetime
    ) -> tuple[Path, Path]:
        """Return (certificate, key) files for `hosts`, valid until `not_after`."""
        return _issue(self.folder, name, hosts, not_after, self._ca)

    _ca: tuple[Any, Any] = field(default=(None, None), repr=False)


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """Return a fresh test CA in tmp_path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pelihara Test CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Certificates(folder=tmp_path, ca_file=ca_file, _ca=(certificate, key))


def _issue(
    folder: Path,
    name: str,
    hosts: list[str],
    not_after: datetime.datetime,
    ca: tuple[Any, Any],
) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_certificate, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    alternative_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alternative_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alternative_names.append(x509.DNSName(host))
    not_before = min(
        not_after, datetime.datetime.now(datetime.UTC)
    ) - datetime.timedelta(days=30)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    certificate_file = folder / f"{name}.pem"
    key_file = folder / f"{name}.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file


@pytest.fixture
def tls_server() -> Iterator[Callable[[Path, Path], int]]:
    """Return a function that serves TLS with a certificate; it returns the port."""
    servers: list[tuple[socket.socket, threading.Thread]] = []

    def serve(certificate: Path, key: Path) -> int:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.2)

        def accept_loop() -> None:
            while listener.fileno() != -1:
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                connection.settimeout(5)
                try:
                    with context.wrap_socket(connection, server_side=True) as tls:
                        tls.sendall(b"hello\n")
                except (OSError, ssl.SSLError):
                    connection.close()

        thread = threading.Thread(target=accept_loop, daemon=True)
        thread.start()
        servers.append((listener, thread))
        return listener.getsockname()[1]

    yield serve
    for listener, thread in servers:
        listener.close()
        thread.join(5)
