"""Nothing in clear, even after a crash (issue 16, item 5): uploads encrypted from their first
byte (no plaintext spool), the start-up sweep, the worker stopping cleanly on SIGTERM/SIGINT,
owner-only files and folders, and the chunked stream's integrity.

Real ``jdl serve`` / ``jdl worker`` processes on loopback where the point is about processes:
a SIGKILL mid-upload or mid-validation and a restart leave no plaintext in ``incoming/``,
``work/`` or the system temp folder."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from jdl.service._models import Job, Submission
from tests.service.conftest import Lab, make_settings, start_lab, yaml_to_json
from tests.service.live import (
    MULTIPART,
    multipart_upload,
    raw_request,
    start_server,
    start_worker,
)

MB = 1024 * 1024


def _marker_rows(upload: Path, copies: int) -> tuple[bytes, bytes]:
    """The upload's content repeated (header once), its first person's surname replaced by a
    made-up one to look for (unique to this test run: other test runs on the machine upload
    the same synthetic people)."""
    import random
    import string

    lines = upload.read_bytes().splitlines(keepends=True)
    marker = ("Q" + "".join(random.choices(string.ascii_lowercase, k=15))).encode()
    forename, _surname, rest = lines[1].split(b",", 2)
    lines[1] = b",".join([forename, marker, rest])
    return lines[0] + b"".join(lines[1:]) * copies, marker


def _holders(marker: bytes, roots: list[Path], since: float, pids: list[int]) -> list[str]:
    """Every file under ``roots`` changed since ``since`` (and every file the processes
    ``pids`` hold open, deleted or not) that contains ``marker``."""
    found = []
    candidates: list[Path] = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            candidates += [Path(dirpath) / f for f in files]
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        if fds.is_dir():
            candidates += list(fds.iterdir())
    for path in candidates:
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode) or info.st_size > 512 * MB:
                continue
            if info.st_mtime < since and not str(path).startswith("/proc/"):
                continue
            if marker in path.read_bytes():
                found.append(str(path))
        except OSError:
            continue
    return found


@pytest.fixture
def live_lab(tmp_path):
    settings = make_settings(tmp_path)
    _client, tokens, _ids = start_lab(settings)
    return settings, tokens


def _upload_body(content: bytes, programme: dict, pause_at: int | None = None,
                 paused: threading.Event | None = None, resume: threading.Event | None = None):
    """The upload as a multipart body, 256 KB at a time; at ``pause_at`` bytes of the file it
    sets ``paused`` and waits for ``resume``."""
    def file_chunks():
        for start in range(0, len(content), 256 * 1024):
            if pause_at is not None and start >= pause_at and not paused.is_set():
                paused.set()
                resume.wait(60)
            yield content[start:start + 256 * 1024]

    return multipart_upload(file_chunks(), fields={"programme": yaml_to_json(programme)})


def test_an_upload_is_never_in_clear_on_disk_while_it_arrives(live_lab, synthetic_upload):
    settings, tokens = live_lab
    content, marker = _marker_rows(synthetic_upload["upload"], 160)
    assert len(content) > 2 * MB  # Starlette would have spooled it to /tmp in clear
    server = start_server(settings)
    paused, resume = threading.Event(), threading.Event()
    since = time.time()
    result: dict = {}

    def send():
        result["sent"] = raw_request(
            server.port, "POST", "/api/submissions",
            {"Authorization": f"Bearer {tokens['submitter_a']}", "Content-Type": MULTIPART},
            _upload_body(content, synthetic_upload["programme"], len(content) // 2, paused,
                         resume), chunked=True, timeout=120)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert paused.wait(30)
        time.sleep(0.5)  # the server has taken what was sent
        incoming = settings.service.storage_dir / "incoming"
        staged = list(incoming.iterdir())
        assert len(staged) == 1 and staged[0].stat().st_size > MB  # half the file, encrypted
        assert stat.S_IMODE(staged[0].stat().st_mode) == 0o600
        assert stat.S_IMODE(incoming.stat().st_mode) == 0o700
        roots = [settings.service.storage_dir, Path("/tmp")]
        assert _holders(marker, roots, since, [server.process.pid]) == []
    finally:
        resume.set()
        sender.join(120)
    try:
        assert result["sent"].status in (201, 422)  # stored, or refused by validation
        assert _holders(marker, [settings.service.storage_dir, Path("/tmp")], since,
                        [server.process.pid]) == []
        assert list((settings.service.storage_dir / "incoming").iterdir()) == []
        assert list((settings.service.storage_dir / "work").iterdir()) == []
    finally:
        server.stop()


def test_sigkill_mid_upload_then_restart_leaves_nothing(live_lab, synthetic_upload):
    settings, tokens = live_lab
    content, marker = _marker_rows(synthetic_upload["upload"], 160)
    server = start_server(settings)
    paused, resume = threading.Event(), threading.Event()
    since = time.time()
    sender = threading.Thread(target=lambda: raw_request(
        server.port, "POST", "/api/submissions",
        {"Authorization": f"Bearer {tokens['submitter_a']}", "Content-Type": MULTIPART},
        _upload_body(content, synthetic_upload["programme"], len(content) // 2, paused,
                     resume), chunked=True, timeout=30))
    sender.start()
    incoming = settings.service.storage_dir / "incoming"
    try:
        assert paused.wait(30)
        time.sleep(0.5)
        server.stop(signal.SIGKILL)
        left = list(incoming.iterdir())
        assert len(left) == 1  # the killed server's staged upload, encrypted
        assert marker not in left[0].read_bytes()
    finally:
        resume.set()
        sender.join(60)
    restarted = start_server(settings)
    try:
        assert list(incoming.iterdir()) == []  # swept at start-up
        assert _holders(marker, [settings.service.storage_dir, Path("/tmp")], since,
                        [restarted.process.pid]) == []
    finally:
        restarted.stop()


def test_sigkill_mid_validation_then_restart_leaves_nothing(live_lab, synthetic_upload):
    settings, tokens = live_lab
    content, marker = _marker_rows(synthetic_upload["upload"], 400)  # validation takes a while
    server = start_server(settings)
    since = time.time()
    body = b"".join(_upload_body(content, synthetic_upload["programme"]))
    work = settings.service.storage_dir / "work"
    sender = threading.Thread(target=lambda: raw_request(
        server.port, "POST", "/api/submissions",
        {"Authorization": f"Bearer {tokens['submitter_a']}", "Content-Type": MULTIPART},
        [body], content_length=len(body), timeout=30))
    sender.start()
    copy = None
    deadline = time.monotonic() + 60
    while copy is None and time.monotonic() < deadline:
        copies = [p for d in work.glob("*+validate-*") for p in d.glob("upload.*")
                  if p.stat().st_size == len(content)]
        copy = copies[0] if copies else None
        time.sleep(0.01)
    try:
        assert copy is not None, "validation never started"
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
        assert copy.is_symlink()  # a link to the process's in-memory file, not a copy
        server.stop(signal.SIGKILL)
        # the crash took the plaintext with the process: the link dangles, nothing to read
        assert os.path.lexists(copy) and not copy.exists()
    finally:
        server.stop(signal.SIGKILL)
        sender.join(60)
    restarted = start_server(settings)
    try:
        assert list(work.iterdir()) == []  # ...and the restart removed the dangling link
        assert list((settings.service.storage_dir / "incoming").iterdir()) == []
        assert _holders(marker, [settings.service.storage_dir, Path("/tmp")], since,
                        [restarted.process.pid]) == []
    finally:
        restarted.stop()


def test_files_and_folders_are_owner_only(live_lab, synthetic_upload):
    settings, tokens = live_lab
    server = start_server(settings)
    try:
        response = httpx.post(f"{server.url}/api/submissions", timeout=60,
                              headers={"Authorization": f"Bearer {tokens['submitter_a']}"},
                              files={"file": ("u.csv", synthetic_upload["upload"].read_bytes(),
                                              "text/csv")},
                              data={"programme": yaml_to_json(synthetic_upload["programme"])})
        assert response.status_code == 201
    finally:
        server.stop()
    service = settings.service
    database = Path(service.database_url.split(":///", 1)[1])
    for path in database.parent.glob(database.name + "*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    storage = service.storage_dir
    folder = storage / f"submission-{response.json()['id']}"
    for path in (storage, storage / "incoming", storage / "work", folder):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    assert stat.S_IMODE((folder / "upload.csv").stat().st_mode) == 0o600


# --- the worker stops cleanly ------------------------------------------------------------

@pytest.fixture
def data_lab(tmp_path, synthetic_data_dir):
    settings = make_settings(tmp_path, synthetic_data_dir)
    client, tokens, ids = start_lab(settings)
    with client:
        yield Lab(client, tokens, ids)


def _job(lab: Lab) -> Job:
    with lab.sessions() as db:
        return db.scalar(select(Job))


@pytest.mark.parametrize(("process", "sig", "grace"), [
    ("worker", signal.SIGTERM, "20"), ("worker", signal.SIGINT, "0.5"),
    ("serve", signal.SIGTERM, "20")])
def test_worker_stops_cleanly_on_a_signal_and_requeues(data_lab, synthetic_upload, process,
                                                       sig, grace):
    """A real `jdl worker` (or `jdl serve`'s in-process worker, stopped by uvicorn's own
    SIGTERM handling) signalled mid-job: exits 0, job back in the queue, no plaintext left."""
    lab = data_lab
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    worker = (start_worker(lab.settings, JDL_SERVICE__WORKER_STOP_GRACE_SECONDS=grace)
              if process == "worker" else start_server(lab.settings, worker=True).process)
    work = lab.settings.service.storage_dir / "work"
    try:
        deadline = time.monotonic() + 240  # a loaded machine (make test -n 2) is slow
        while time.monotonic() < deadline:
            job = _job(lab)
            assert job.state in ("queued", "running"), f"the job ended first: {job.state}"
            if job.state == "running" and job.stage not in (None, "validate") and \
                    list(work.glob("*+job-*/upload.csv")):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the job never got going")
        stopped_at = time.monotonic()
        worker.send_signal(sig)
        code = worker.wait(float(grace) + 30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    # uvicorn re-raises the signal once it has shut down gracefully (-15); the worker exits 0
    assert code == (0 if process == "worker" else -signal.SIGTERM)
    assert time.monotonic() - stopped_at < float(grace) + 30
    job = _job(lab)
    assert (job.state, job.stage) == ("queued", None)  # for the next worker
    with lab.sessions() as db:
        assert db.get(Submission, sid).state == "queued"
    assert list(work.iterdir()) == []  # the decrypted copy is gone
    out = lab.settings.service.storage_dir / f"submission-{sid}" / "jobs" / str(job.id)
    leftovers = [p for p in out.rglob("*") if p.is_file() and p.parent.name != "checkpoints"]
    assert leftovers == []  # no plaintext partial output either


def test_a_stage_that_will_not_end_is_abandoned_after_the_grace(lab, synthetic_upload,
                                                                  monkeypatch):
    """In-process: the evaluation hangs inside a stage; stop() waits the grace, then deletes
    the working copy and queues the job again (the process then exits)."""
    from jdl.service._jobs import Worker

    started, release = threading.Event(), threading.Event()

    def hanging(upload, *_args, progress, **_kwargs):
        progress("validate")
        assert upload.read_bytes()  # the decrypted copy exists while the stage runs
        started.set()
        release.wait(30)

    monkeypatch.setattr("jdl.run.run_evaluation", hanging)
    lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    worker = Worker(lab.sessions, lab.settings)
    worker.start()
    try:
        assert started.wait(30)
        work = lab.settings.service.storage_dir / "work"
        assert list(work.glob("*+job-*/upload.csv"))
        began = time.monotonic()
        worker.stop(timeout=0.5)
        assert time.monotonic() - began < 5
        assert list(work.iterdir()) == []
        assert _job(lab).state == "queued"
    finally:
        release.set()


def test_a_stop_between_stages_requeues_at_the_next_stage(lab, synthetic_upload, monkeypatch):
    from jdl.service._jobs import Worker

    reached = []

    def staged(upload, *_args, progress, **_kwargs):
        for stage in ("validate", "link", "cohort"):
            progress(stage)
            reached.append(stage)
            time.sleep(0.3)

    monkeypatch.setattr("jdl.run.run_evaluation", staged)
    lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    worker = Worker(lab.sessions, lab.settings)
    worker.start()
    deadline = time.monotonic() + 30
    while not reached and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop(timeout=10)
    assert reached == ["validate"]  # "link" was never started
    job = _job(lab)
    assert (job.state, job.stage) == ("queued", None)
    assert list((lab.settings.service.storage_dir / "work").iterdir()) == []


# --- the start-up sweep --------------------------------------------------------------------

def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_start_up_sweep_removes_only_what_dead_processes_left(lab, synthetic_upload):
    from jdl.service._jobs import claim_next, start_up_sweep

    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    job_id = claim_next(lab.sessions)  # running, as a worker that then died left it
    storage = lab.settings.service.storage_dir
    host, dead, alive = socket.gethostname(), _dead_pid(), os.getppid()
    entries = {
        "dead_job": storage / "work" / f"{dead}@{host}+job-{job_id}",
        "dead_upload": storage / "incoming" / f"{dead}@{host}+abc.enc",
        "legacy": storage / "work" / "999",
        "alive": storage / "incoming" / f"{alive}@{host}+def.enc",
        "elsewhere": storage / "work" / f"{dead}@another-host+job-77",
    }
    for name, path in entries.items():
        if name.endswith("job") or name in ("legacy", "elsewhere"):
            path.mkdir(parents=True)
            (path / "upload.csv").write_text("plaintext")
        else:
            path.write_bytes(b"x")
    (storage / f"submission-{sid}" / "jobs" / str(job_id) / "internal").mkdir(parents=True)
    (storage / f"submission-{sid}" / "jobs" / str(job_id) / "internal" / "links.csv").write_text(
        "row_number,person_id\n")
    assert start_up_sweep(lab.sessions, storage) == 1
    assert {name for name, path in entries.items() if path.exists()} == {"alive", "elsewhere"}
    assert _job(lab).state == "queued"  # re-queued at once, not after the stale timeout
    assert not (storage / f"submission-{sid}" / "jobs" / str(job_id) / "internal").exists()


# --- the encrypted stream ------------------------------------------------------------------

def _stream(tmp_path, size: int):
    from jdl.service._crypto import EncryptingWriter

    service = make_settings(tmp_path).service
    data = os.urandom(size)
    writer = EncryptingWriter(service, tmp_path / "upload.enc")
    for start in range(0, size, 100_000):
        writer.write(data[start:start + 100_000])
    writer.close()
    return service, data, tmp_path / "upload.enc"


def _read(service, path) -> bytes:
    from jdl.service._crypto import decrypt_stream

    return b"".join(decrypt_stream(service, path))


@pytest.mark.parametrize("size", [0, 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) - 5])
def test_stream_round_trip(tmp_path, size):
    service, data, path = _stream(tmp_path, size)
    assert _read(service, path) == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_stream_tampering_truncation_and_reordering_are_detected(tmp_path):
    from jdl.service._crypto import _HEADER, STREAM_CHUNK, EncryptionKeyError

    service, _data, path = _stream(tmp_path, 3 * STREAM_CHUNK + 10)
    original = path.read_bytes()
    record = STREAM_CHUNK + 16
    chunks = [original[_HEADER + i * record:_HEADER + (i + 1) * record] for i in range(4)]
    variants = {
        "flipped": original[:-1] + bytes([original[-1] ^ 1]),
        "cut at a chunk boundary": original[:_HEADER + 2 * record],
        "reordered": original[:_HEADER] + chunks[1] + chunks[0] + chunks[2] + chunks[3],
        "last chunk dropped": original[:_HEADER] + b"".join(chunks[:3]),
    }
    for name, content in variants.items():
        path.write_bytes(content)
        with pytest.raises(EncryptionKeyError, match="cannot be decrypted"):
            _read(service, path)
        print("detected:", name)


def test_uploads_stored_by_earlier_versions_still_decrypt_and_rotate(tmp_path):
    """Whole-file Fernet tokens (before the stream) stay readable; rotation keeps them so."""
    from cryptography.fernet import Fernet

    from jdl.service._crypto import _keys, decrypted, rotate_key

    service = make_settings(tmp_path).service
    folder = service.storage_dir / "submission-1"
    folder.mkdir(parents=True)
    key = _keys(service)[0]
    (folder / "upload.csv").write_bytes(Fernet(key.encode()).encrypt(b"forename\nAda\n"))
    with decrypted(service, folder / "upload.csv", tmp_path / "w") as plain:
        assert plain.read_bytes() == b"forename\nAda\n"
    assert rotate_key(service, service.storage_dir) == 1
    with decrypted(service, folder / "upload.csv", tmp_path / "w") as plain:
        assert plain.read_bytes() == b"forename\nAda\n"
