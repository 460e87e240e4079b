"""Encryption at rest: stored uploads are unreadable without the key, the key file is private,
a wrong or malformed key fails clearly."""

from __future__ import annotations

import os
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
        # in memory, never on disk: the path is a link to an anonymous in-memory file
        assert plain.is_symlink() and os.readlink(os.readlink(plain)).startswith("/memfd:")
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


def _stored_files(service, tmp_path):
    """An encrypted upload, a checkpoint and a sealed internal folder, as a job leaves them."""
    from jdl.service._crypto import EncryptedCheckpoints, seal_folder, store_encrypted

    plain = tmp_path / "plain.csv"
    plain.write_text("forename,surname\nAda,Lovelace\n")
    folder = service.storage_dir / "submission-1"
    (folder / "jobs" / "1" / "internal").mkdir(parents=True)
    store_encrypted(service, plain, folder / "upload.csv")
    EncryptedCheckpoints(service, folder / "jobs" / "1" / "checkpoints").save("link", {"n": 3})
    (folder / "jobs" / "1" / "internal" / "links.csv").write_text("row_number,person_id\n2,7\n")
    seal_folder(service, folder / "jobs" / "1" / "internal")
    return folder


def _readable(service, folder, tmp_path) -> bool:
    from jdl.service._crypto import EncryptedCheckpoints, EncryptionKeyError, read_sealed

    try:
        with decrypted(service, folder / "upload.csv", tmp_path / "work") as plain:
            upload_ok = b"Lovelace" in plain.read_bytes()
        links = read_sealed(service, folder / "jobs" / "1" / "internal" / "links.csv")
    except EncryptionKeyError:
        return False
    checkpoint = EncryptedCheckpoints(service, folder / "jobs" / "1" / "checkpoints")
    return upload_ok and links == b"row_number,person_id\n2,7\n" and \
        checkpoint.load("link") == {"n": 3}


def test_rotating_the_key_file_re_encrypts_every_file(tmp_path):
    from jdl.service._crypto import encrypted_files, rotate_key

    service = make_settings(tmp_path).service
    folder = _stored_files(service, tmp_path)
    old_key = service.encryption_key_file.read_text().strip()
    before = {p: p.read_bytes() for p in encrypted_files(service.storage_dir)}
    assert len(before) == 3
    assert rotate_key(service, service.storage_dir) == 3
    new_key = service.encryption_key_file.read_text().strip()
    assert new_key != old_key and len(new_key.split()) == 1  # the old key is gone
    assert stat.S_IMODE(service.encryption_key_file.stat().st_mode) == 0o600
    assert all(p.read_bytes() != data for p, data in before.items())
    assert _readable(service, folder, tmp_path)
    old = service.model_copy(update={"encryption_key": old_key})
    assert not _readable(old, folder, tmp_path)


def test_rotation_with_keys_in_the_environment(tmp_path):
    from cryptography.fernet import Fernet

    from jdl.service._crypto import rotate_key

    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    service = make_settings(tmp_path).service.model_copy(update={"encryption_key": first})
    folder = _stored_files(service, tmp_path)
    rotating = service.model_copy(update={"encryption_key": second,
                                          "encryption_previous_keys": [first]})
    assert _readable(rotating, folder, tmp_path)  # both keys work during the rotation
    assert rotate_key(rotating, service.storage_dir) == 3
    after = service.model_copy(update={"encryption_key": second})
    assert _readable(after, folder, tmp_path)
    assert not _readable(service, folder, tmp_path)  # the first key no longer reads them


def test_rotate_key_command_is_audited(tmp_path, monkeypatch, capsys):
    from jdl.cli import main
    from jdl.core.config import get_settings
    from jdl.service._db import open_database
    from jdl.service._models import AuditEntry

    service = make_settings(tmp_path).service
    _stored_files(service, tmp_path)
    for name, value in (("DATABASE_URL", service.database_url),
                        ("STORAGE_DIR", service.storage_dir),
                        ("ENCRYPTION_KEY_FILE", service.encryption_key_file)):
        monkeypatch.setenv(f"JDL_SERVICE__{name}", str(value))
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["admin", "rotate-key"])
        assert exit_.value.code == 0
    finally:
        get_settings.cache_clear()
    assert "Re-encrypted 3 file(s)" in capsys.readouterr().out
    with open_database(service.database_url)() as db:
        entry = db.query(AuditEntry).filter_by(action="admin.rotate_key").one()
    assert entry.detail == "3 file(s) re-encrypted"
