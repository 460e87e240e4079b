"""Slow, real-process tests: a `jdl worker` killed mid-run loses nothing, and 50 simultaneous
uploads over loopback to a real uvicorn server are all stored and queued."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from jdl.service._models import Job, Submission
from tests.service.conftest import Lab, make_settings, start_lab, yaml_to_json

pytestmark = pytest.mark.slow


@pytest.fixture
def data_lab(tmp_path, synthetic_data_dir):
    settings = make_settings(tmp_path, synthetic_data_dir)
    client, tokens, ids = start_lab(settings)
    with client:
        yield Lab(client, tokens, ids)


def _worker(lab) -> subprocess.Popen:
    service = lab.settings.service
    env = {**os.environ, "JDL_SERVICE__DATABASE_URL": service.database_url,
           "JDL_SERVICE__STORAGE_DIR": str(service.storage_dir),
           "JDL_SERVICE__WORKER_POLL_SECONDS": "0.1",
           "JDL_SERVICE__JOB_STALE_SECONDS": "2",
           "JDL_SERVICE__ENCRYPTION_KEY_FILE": str(service.encryption_key_file),
           "JDL_DATA__DATA_DIR": str(lab.settings.data.data_dir)}
    return subprocess.Popen([sys.executable, "-m", "jdl.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(lab, condition, timeout: float) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with lab.sessions() as db:
            job = db.scalar(select(Job))
            if job is not None and condition(job):
                return job
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the job")


def test_worker_killed_mid_run_loses_nothing(data_lab, synthetic_upload):
    lab = data_lab
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    first = _worker(lab)
    try:
        # after the cohort and pool are saved: the retry must not derive them again
        _wait_for(lab, lambda job: job.state == "running" and job.stage in
                  ("match", "estimate", "sensitivity"), 90)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    orphan = _wait_for(lab, lambda job: True, 1)
    assert orphan.state == "running"
    work, = (lab.settings.service.storage_dir / "work").glob(f"*+job-{orphan.id}")
    assert list(work.iterdir())  # the killed worker's decrypted copy is still there
    second = _worker(lab)
    try:
        job = _wait_for(lab, lambda job: job.state in ("done", "failed"), 120)
    finally:
        second.terminate()
        second.wait(10)
    assert (job.state, job.attempts, job.resumed_from) == ("done", 2, "cohort")
    assert not work.exists() or not list(work.iterdir())  # and now it is not
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("analyst")).json()
    assert [e["state"] for e in body["events"]] == [
        "queued", "running", "queued", "running", "awaiting_review"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fifty_simultaneous_uploads_none_lost(lab, synthetic_upload):
    import uvicorn

    lab.settings.service.max_queued_jobs_per_org = 50  # 25 each: past the default quota
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(lab.client.app, host="127.0.0.1", port=port,
                                           log_level="warning", limit_concurrency=200))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    content = synthetic_upload["upload"].read_bytes()
    programme = yaml_to_json({k: v for k, v in synthetic_upload["programme"].items()
                              if k != "organisation"})  # from each uploader's account

    def upload(i: int) -> int:
        who = "submitter_a" if i % 2 else "submitter_b"
        response = httpx.post(f"http://127.0.0.1:{port}/api/submissions", timeout=120,
                              headers=lab.auth(who),
                              files={"file": (f"u{i}.csv", content, "text/csv")},
                              data={"programme": programme})
        return response.status_code

    try:
        started = time.monotonic()
        with ThreadPoolExecutor(50) as pool:
            codes = list(pool.map(upload, range(50)))
        elapsed = time.monotonic() - started
    finally:
        server.should_exit = True
        thread.join(10)
    print(f"50 simultaneous uploads: {elapsed:.1f} s")
    assert codes == [201] * 50
    with lab.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Submission)) == 50
        assert db.scalar(select(func.count()).select_from(Job)
                         .where(Job.state == "queued")) == 50
