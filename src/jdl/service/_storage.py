"""Where a submission's files live: one folder per submission under the storage directory.

``<storage>/submission-<id>/upload.<ext>``, ``programme.json`` and ``jobs/<job id>/`` (the
evaluation's outputs). Everything under the storage directory is the service's alone: the
folders are created owner-only (0700) and the files 0600.

Two scratch folders hold files only while a process works on them, each entry named after the
process that owns it (``<pid>@<host>+<what>``), so a start-up sweep can tell the leftovers of a
process that died (killed, power cut) from the files of one still running:

- ``incoming/``: uploads being received, encrypted from their first byte;
- ``work/``: the decrypted copy a validation or a job reads (0600, deleted when done).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
ALLOWED_SUFFIXES = (".csv", ".xlsx", ".parquet")
SCRATCH = ("incoming", "work")
_OWNED = re.compile(r"^(\d+)@([^+/]+)\+(.+)$")
_JOB_WORK = re.compile(r"job-(\d+)|(\d+)")  # (older versions: work/<job id>)


def submission_dir(storage: Path, submission_id: int) -> Path:
    return storage / f"submission-{submission_id}"


def job_dir(storage: Path, submission_id: int, job_id: int) -> Path:
    return submission_dir(storage, submission_id) / "jobs" / str(job_id)


def owner_only_files() -> None:
    """Everything this process creates from now on is readable by its user only (umask 077):
    folders 0700, files 0600, including what the evaluation, report and catalogue write below
    a submission's folder (jobs/, jobs/<id>/, internal/, files/catalogue). Called by
    ``jdl serve`` and ``jdl worker``: the service owns its process."""
    os.umask(0o077)


def private_dir(path: Path) -> Path:
    """``path`` created if missing, readable by the service's user only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def prepare_storage(storage: Path) -> None:
    """The storage folder and its scratch folders, owner-only (also tightens an existing one)."""
    private_dir(Path(storage))
    for name in SCRATCH:
        private_dir(Path(storage) / name)


def _owner() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def owned(storage: Path, scratch: str, what: str) -> Path:
    """A path in ``incoming/`` or ``work/`` that names this process as its owner."""
    return private_dir(Path(storage) / scratch) / f"{_owner()}+{what}"


def incoming_dir(storage: Path) -> Path:
    return private_dir(Path(storage) / "incoming")


def job_work_dir(storage: Path, job_id: int) -> Path:
    """Where this process decrypts job ``job_id``'s upload while running it."""
    return owned(storage, "work", f"job-{job_id}")


def job_work_dirs(storage: Path, job_id: int) -> list[Path]:
    """Every working folder of job ``job_id``, whichever process made it."""
    work = Path(storage) / "work"
    return sorted([*work.glob(f"*+job-{job_id}"), work / str(job_id)])


def safe_suffix(file_name: str | None) -> str | None:
    """The upload's type from its name, if the lab reads it; the name itself is not kept."""
    suffix = Path(file_name or "").suffix.lower()
    return suffix if suffix in ALLOWED_SUFFIXES else None


@dataclass(frozen=True)
class Swept:
    """What a start-up sweep removed: entries, and the jobs whose working folder they were."""

    removed: int
    orphaned_jobs: tuple[int, ...]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # nothing is ours yet at start-up: a same-pid entry is a dead one's
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_scratch(storage: Path) -> Swept:
    """Delete what dead processes of this host left in ``incoming/`` and ``work/``.

    Run at the start of ``jdl serve`` and ``jdl worker``. An entry of a live process (another
    worker on this host) or of another host (which sweeps its own) is left alone; an entry
    without an owner (from an older version) is removed.
    """
    host, removed, jobs = socket.gethostname(), 0, []
    for scratch in SCRATCH:
        folder = Path(storage) / scratch
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            match = _OWNED.match(entry.name)
            if match and (match.group(2) != host or _alive(int(match.group(1)))):
                continue
            what = match.group(3) if match else entry.name
            job = _JOB_WORK.fullmatch(what) if scratch == "work" else None
            if job:
                jobs.append(int(job.group(1) or job.group(2)))
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("start-up sweep removed %d leftover file(s) of stopped processes", removed)
    return Swept(removed, tuple(sorted(set(jobs))))


def discard_partial_outputs(folder: Path) -> None:
    """A job's outputs from an interrupted run, except its encrypted checkpoints (the retry
    resumes from them): the lab-internal files are plaintext until the job finishes."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name == "checkpoints":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
