"""Real ``jdl serve`` / ``jdl worker`` processes on loopback for the limits and at-rest tests,
and a raw-socket client that can send huge or slow bodies without holding them in memory."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from jdl.core.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    service = settings.service
    env = {**os.environ,
           "JDL_SERVICE__DATABASE_URL": service.database_url,
           "JDL_SERVICE__STORAGE_DIR": str(service.storage_dir),
           "JDL_SERVICE__SECRET_KEY_FILE": str(service.secret_key_file),
           "JDL_SERVICE__ENCRYPTION_KEY_FILE": str(service.encryption_key_file),
           "JDL_SERVICE__SECURE_COOKIES": "false",
           "JDL_SERVICE__WORKER_POLL_SECONDS": "0.1",
           "JDL_INTAKE__MAX_FILE_BYTES": str(settings.intake.max_file_bytes),
           "JDL_DATA__DATA_DIR": str(settings.data.data_dir),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    env.update(extra)
    return env


@dataclass
class Server:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kb(self, field: str = "VmRSS") -> int:
        """The server's resident memory now (VmRSS) or at its peak so far (VmHWM), in kB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field}")

    def bytes_read(self) -> int:
        """Everything the server process has read so far (sockets and files: ``rchar``)."""
        for line in Path(f"/proc/{self.process.pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
        raise AssertionError("no rchar")

    def stop(self, sig: int | None = None) -> None:
        if self.process.poll() is None:
            if sig is None:
                self.process.terminate()
            else:
                self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_server(settings: Settings, worker: bool = False, **env: str) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "jdl.cli", "serve", "--port", str(port),
         "--worker" if worker else "--no-worker"],
        env=service_env(settings, **env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(process, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("jdl serve exited at start")
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise AssertionError("jdl serve did not start")


def start_worker(settings: Settings, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jdl.cli", "worker"],
                            env=service_env(settings, **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class Sent:
    """What a raw request achieved: the answer's status (None if the server closed without
    one), the body bytes the client managed to send, the seconds until the answer."""

    status: int | None
    body_sent: int
    seconds: float
    response: bytes


def _complete(answer: bytes) -> bool:
    """Whether ``answer`` holds a whole response: its head and the body its Content-Length
    announces (the body may arrive in a later packet than the head)."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip() or 0)
    return True


def raw_request(port: int, method: str, path: str, headers: dict[str, str],
                body_chunks, chunked: bool = False, content_length: int | None = None,
                timeout: float = 30) -> Sent:
    """Send a request over a plain socket, a chunk at a time, stopping as soon as the server
    answers (so a refused 2 GB body is never sent in full); ``body_chunks`` is any iterable of
    bytes (a generator keeps memory flat)."""
    import select

    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    elif content_length is not None:
        head.append(f"Content-Length: {content_length}")
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    started, sent, answer = time.monotonic(), 0, b""
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for chunk in body_chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked
                             else chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(chunk)
        else:
            if chunked:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
                    sock.sendall(b"0\r\n\r\n")
        deadline = time.monotonic() + timeout
        while not _complete(answer) and time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            answer += data
        seconds = time.monotonic() - started
    finally:
        sock.close()
    status = int(answer.split()[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return Sent(status, sent, seconds, answer)


def chunks(total: int, size: int = 1 << 20, fill: bytes = b"x"):
    """``total`` bytes in ``size``-byte pieces, made one at a time."""
    piece = fill * size
    while total > 0:
        yield piece[:min(size, total)]
        total -= size


BOUNDARY = "jdl-test-boundary"


def multipart_upload(file_chunks, file_name: str = "people.csv",
                     fields: dict[str, str] | None = None):
    """A multipart body (fields first, then the file) as a generator of bytes."""
    for name, value in (fields or {}).items():
        yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
               f"{value}\r\n").encode()
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    yield from file_chunks
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
