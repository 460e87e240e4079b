"""Encryption at rest: stored uploads are unreadable without the key, the key file is private,
a wrong or malformed key fails clearly."""

from __future__ import annotations

import stat

import pytest

from jdl.core.errors import JDLError
from jdl.service._crypto import decrypted
from jdl.service._storage import submission_dir
from tests.service.conftest import make_settings


def test_stored_upload_is_encrypted_and_decrypts_to_the_original(lab, synthetic_upload,
                                                                 tmp_path):
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    service = lab.settings.service
    stored = submission_dir(service.storage_dir, sid) / "upload.csv"
    original = synthetic_upload["upload"].read_bytes()
    surname = original.splitlines()[1].split(b",")[0]
    assert surname and surname not in stored.read_bytes()
    with decrypted(service, stored, tmp_path / "work") as plain:
        assert plain.read_bytes() == original
        assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    assert not plain.exists()  # the plaintext copy is gone after use
    assert stat.S_IMODE(service.encryption_key_file.stat().st_mode) == 0o600
    assert not list((service.storage_dir / "incoming").iterdir())  # staging emptied


def test_a_different_key_cannot_read_the_files(lab, synthetic_upload, tmp_path):
    from jdl.service._jobs import run_once

    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    lab.settings.service.encryption_key_file = tmp_path / "other.key"
    assert run_once(lab.sessions, lab.settings).value == "failed"
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("analyst")).json()
    assert "cannot be decrypted" in body["jobs"][0]["error"]


def test_malformed_key_stops_the_service_at_start(tmp_path):
    from jdl.service import create_app

    settings = make_settings(tmp_path)
    settings.service.encryption_key = "not a key"
    with pytest.raises(JDLError, match="not a valid Fernet key"):
        create_app(settings)
