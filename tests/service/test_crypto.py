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


def test_sealed_folder_round_trip_and_plaintext_gone(tmp_path):
    from jdl.core.config import ServiceSettings
    from jdl.service._crypto import read_sealed, seal_folder

    service = ServiceSettings(encryption_key_file=tmp_path / "key")
    folder = tmp_path / "internal"
    folder.mkdir()
    (folder / "links.csv").write_text("row_number,person_id\n2,12345\n")
    (folder / "raw_results.json").write_text('{"counts": {"linked": 17}}')
    assert seal_folder(service, folder) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["links.csv.enc", "raw_results.json.enc"]
    assert b"12345" not in (folder / "links.csv.enc").read_bytes()
    assert (folder / "links.csv.enc").stat().st_mode & 0o777 == 0o600
    assert read_sealed(service, folder / "links.csv") == b"row_number,person_id\n2,12345\n"
    assert seal_folder(service, folder) == 0  # sealing twice does nothing
    assert read_sealed(service, folder / "absent.txt") is None
    (folder / "old.txt").write_text("from before sealing")
    assert read_sealed(service, folder / "old.txt") == b"from before sealing"


def test_sealed_file_with_another_key_is_a_clear_error(tmp_path):
    import pytest

    from jdl.core.config import ServiceSettings
    from jdl.service._crypto import EncryptionKeyError, read_sealed, seal_folder

    folder = tmp_path / "internal"
    folder.mkdir()
    (folder / "links.csv").write_text("x")
    seal_folder(ServiceSettings(encryption_key_file=tmp_path / "key1"), folder)
    with pytest.raises(EncryptionKeyError, match="cannot be decrypted"):
        read_sealed(ServiceSettings(encryption_key_file=tmp_path / "key2"), folder / "links.csv")
