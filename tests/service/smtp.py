"""A real SMTP server on loopback for the email tests (aiosmtpd), importable by the service and
browser tests: it keeps every message it accepts, and can be told to refuse them for a while.

    with loopback_smtp() as inbox:
        settings.mail = inbox.settings()
        ...
        [message] = inbox.wait_for(1)
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from jdl.core.config import MailSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Inbox:
    """What the loopback server received: (envelope recipients, parsed message) pairs."""

    port: int = 0
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse_with: str | None = None  # e.g. "451 4.3.0 try again later"
    logins: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_with:
            return self.refuse_with
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def settings(self, **overrides: Any) -> MailSettings:
        options: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "security": "none",
                                   "sender": "Justice Data Lab <no-reply@lab.example.org>",
                                   "timeout_seconds": 5, "poll_seconds": 0.2}
        return MailSettings(**{**options, **overrides})

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[list[str], EmailMessage]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} email(s), got {len(self.messages)}")

    def wait_to(self, address: str, timeout: float = 20) -> EmailMessage:
        """The newest email to ``address``, waiting for the first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if found:
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"no email to {address}")

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for rcpts, m in self.messages if address in rcpts]


@contextmanager
def loopback_smtp(tls_cert: tuple[Path, Path] | None = None,
                  users: dict[str, str] | None = None) -> Iterator[Inbox]:
    """An SMTP server on 127.0.0.1; with ``tls_cert`` (cert, key) it offers STARTTLS and,
    with ``users``, requires AUTH (only over TLS)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    inbox = Inbox(port=free_port())
    options: dict[str, Any] = {}
    if tls_cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
        options.update(tls_context=context, require_starttls=True)
    if users is not None:
        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                         auth_data: Any) -> AuthResult:
            login = auth_data.login.decode()
            ok = users.get(login) == auth_data.password.decode()
            if ok:
                inbox.logins.append(login)
            return AuthResult(success=ok)

        options.update(authenticator=authenticate, auth_require_tls=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port,
                            server_hostname="localhost", **options)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` and 127.0.0.1 and its key, in ``folder``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
