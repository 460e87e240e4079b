"""Limits before work (issue 16, item 4): body sizes enforced while the body streams in and
before it is parsed, authentication before an upload's body is read, the upload parser's own
limits, per-organisation queue quotas, and workbooks refused from their metadata.

The points about real processes run against a real ``jdl serve`` on loopback, with raw sockets
that stop sending as soon as the server answers."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from jdl.service._models import AuditEntry
from tests.service.conftest import Lab, make_settings, start_lab
from tests.service.live import MULTIPART, chunks, multipart_upload, raw_request, start_server

MB = 1024 * 1024
FILE_LIMIT = 2 * MB


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A real server with a 2 MB upload limit, and the users' tokens."""
    tmp = tmp_path_factory.mktemp("live")
    settings = make_settings(tmp)
    settings.intake.max_file_bytes = FILE_LIMIT
    _client, tokens, _ids = start_lab(settings)
    server = start_server(settings)
    try:
        yield server, settings, tokens
    finally:
        server.stop()


def _incoming(settings) -> list:
    folder = settings.service.storage_dir / "incoming"
    return list(folder.iterdir()) if folder.is_dir() else []


def _slowly(total: int, size: int = 64 * 1024, pause: float = 0.02):
    for piece in chunks(total, size):
        time.sleep(pause)
        yield piece


def test_an_upload_declared_over_the_limit_is_refused_before_its_body(live):
    server, settings, tokens = live
    sent = raw_request(server.port, "POST", "/api/submissions",
                       {"Authorization": f"Bearer {tokens['submitter_a']}",
                        "Content-Type": MULTIPART},
                       chunks(2 * 1024 * MB), content_length=2 * 1024 * MB)
    assert sent.status == 413
    assert sent.body_sent < 16 * MB and sent.seconds < 5
    assert b"connection: close" in sent.response.lower()
    assert _incoming(settings) == []


def test_a_chunked_upload_is_cut_off_just_past_the_limit(live):
    server, settings, tokens = live
    body = multipart_upload(chunks(50 * MB), fields={"programme": "{}"})
    sent = raw_request(server.port, "POST", "/api/submissions",
                       {"Authorization": f"Bearer {tokens['submitter_a']}",
                        "Content-Type": MULTIPART}, body, chunked=True)
    assert sent.status == 413
    assert sent.body_sent < 12 * MB  # the limit plus what the sockets' buffers hold
    assert b"larger than the limit" in sent.response
    assert _incoming(settings) == []  # the encrypted partial file is deleted


@pytest.mark.parametrize("chunked", [True, False])
def test_anonymous_upload_is_refused_before_its_body_is_read(live, chunked):
    server, settings, _tokens = live
    total = 50 * MB if chunked else FILE_LIMIT
    sent = raw_request(server.port, "POST", "/api/submissions",
                       {"Content-Type": MULTIPART}, _slowly(total), chunked=chunked,
                       content_length=None if chunked else total)
    assert sent.status == 401
    assert sent.body_sent < 1 * MB and sent.seconds < 5
    assert b"connection: close" in sent.response.lower()  # the rest is not read
    assert _incoming(settings) == []


def test_anonymous_web_upload_is_sent_to_sign_in_before_its_body(live):
    server, _settings, _tokens = live
    sent = raw_request(server.port, "POST", "/upload", {"Content-Type": MULTIPART},
                       _slowly(50 * MB), chunked=True)
    assert sent.status == 303 and b"location: /login" in sent.response.lower()
    assert sent.body_sent < 1 * MB


def test_a_huge_sign_in_form_costs_the_server_nothing(live):
    server, _settings, _tokens = live
    before = server.rss_kb()
    declared = raw_request(server.port, "POST", "/login",
                           {"Content-Type": "application/x-www-form-urlencoded"},
                           chunks(900 * MB, fill=b"a"), content_length=900 * MB)
    streamed = raw_request(server.port, "POST", "/login",
                           {"Content-Type": "application/x-www-form-urlencoded"},
                           chunks(100 * MB, fill=b"a"), chunked=True)
    assert (declared.status, streamed.status) == (413, 413)
    assert declared.body_sent < 16 * MB and streamed.body_sent < 16 * MB
    assert server.rss_kb() - before < 20 * 1024  # kB: nothing of the form was kept


def test_a_chunked_json_body_is_counted_as_it_arrives(live):
    server, _settings, tokens = live
    sent = raw_request(server.port, "POST", "/api/submissions/1/rerun",
                       {"Authorization": f"Bearer {tokens['analyst']}",
                        "Content-Type": "application/json"},
                       chunks(4 * MB, fill=b" "), chunked=True)
    assert sent.status == 413


def test_json_bodies_have_their_own_limit(lab):
    big = {"settings": {"matching": {"caliper": 0.1}}, "pad": "x" * (300 * 1024)}
    response = lab.client.post("/api/submissions/1/rerun", content=json.dumps(big),
                               headers={**lab.auth("analyst"),
                                        "Content-Type": "application/json"})
    assert response.status_code == 413
    assert "256 KB" in response.json()["detail"]


@pytest.fixture
def small_lab(tmp_path):
    settings = make_settings(tmp_path, max_queued_jobs_per_org=2)
    settings.intake.max_file_bytes = FILE_LIMIT
    client, tokens, ids = start_lab(settings)
    with client:
        yield Lab(client, tokens, ids)


def _upload(lab: Lab, who: str, content: bytes, name: str = "people.csv", **fields):
    return lab.client.post("/api/submissions", headers=lab.auth(who),
                           files={"file": (name, content, "text/csv")},
                           data={"programme": "{}", **fields})


def test_a_file_part_over_the_limit_is_refused_and_nothing_kept(small_lab):
    response = _upload(small_lab, "submitter_a", b"x" * (FILE_LIMIT + 1))
    assert response.status_code == 413
    assert "larger than the limit of 2 MB" in response.json()["detail"]
    assert _incoming(small_lab.settings) == []


def test_a_file_type_the_lab_does_not_read_is_refused_before_its_bytes(small_lab):
    response = _upload(small_lab, "submitter_a", b"MZ" + b"\0" * 1000, name="tool.exe")
    assert response.status_code == 422
    assert "csv" in response.json()["detail"]
    assert _incoming(small_lab.settings) == []


def test_too_many_form_fields_are_refused(small_lab):
    extra = {f"f{i}": "x" for i in range(10)}
    response = _upload(small_lab, "submitter_a", b"a,b\n", **extra)
    assert response.status_code == 400
    assert "Too many fields" in response.json()["detail"]
    assert _incoming(small_lab.settings) == []


def test_an_organisation_cannot_queue_more_than_its_quota(small_lab, synthetic_upload):
    lab = small_lab
    for _ in range(2):
        assert lab.upload("submitter_a", synthetic_upload["upload"],
                          synthetic_upload["programme"]).status_code == 201
    refused = lab.upload("submitter_a2", synthetic_upload["upload"],
                         synthetic_upload["programme"])
    assert refused.status_code == 429
    assert "already has 2 evaluation(s) waiting" in refused.json()["detail"]
    assert refused.headers["retry-after"]
    # another organisation is not affected
    assert lab.upload("submitter_b", synthetic_upload["upload"],
                      synthetic_upload["programme"]).status_code == 201
    with lab.sessions() as db:
        denied = db.scalars(select(AuditEntry).where(
            AuditEntry.action == "submission.upload", AuditEntry.outcome == "denied")).all()
    assert [e.detail for e in denied] == ["queue quota: 2 job(s) waiting"]
    assert _incoming(lab.settings) == []
