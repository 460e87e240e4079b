"""A throwaway PostgreSQL server for the service's tests: Debian's postgresql binaries, a fresh
cluster in a temporary folder, listening on a free loopback port, stopped afterwards.

PostgreSQL refuses to run as root, so as root (CI) the cluster belongs to the ``postgres`` system
user the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server binaries (newest version), if installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A running server with an empty database; yields its SQLAlchemy URL."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql); "
                           "`make test` installs it when missing.")
    # not pytest's tmp_path: its parents are private to root, and the server runs as postgres
    data = Path(tempfile.mkdtemp(prefix="jdl-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = _free_port()
    try:
        subprocess.run(_as_owner([str(binaries / "initdb"), "-D", str(data), "-U", "jdl",
                                  "-A", "trust", "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True)
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-o", options,
                                  "-l", str(data / "server.log"), "-w", "start"]),
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://jdl@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast",
                                  "-w", "stop"]), capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
