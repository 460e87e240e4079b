"""Encryption at rest of uploaded files (they hold names, dates of birth and PNC ids).

A file is encrypted as it is stored and decrypted only into a private working file for the
length of a job, which is then deleted. The key (Fernet: AES-128-CBC with HMAC-SHA256) comes
from the environment or a key file outside the database, so a copy of the database and storage
folder alone reveals nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jdl.core.config import ServiceSettings
from jdl.core.errors import JDLError

SEALED = ".enc"


class EncryptionKeyError(JDLError):
    """The encryption key is missing, malformed or not the one the files were stored with."""


def _fernet(service: ServiceSettings):
    """Encrypts with the current key; decrypts with it or any previous one (during a key
    rotation the files are re-encrypted one by one)."""
    from cryptography.fernet import Fernet, MultiFernet

    try:
        return MultiFernet([Fernet(key.encode()) for key in _keys(service)])
    except (ValueError, TypeError):
        raise EncryptionKeyError(
            "The service's encryption key is not a valid Fernet key.",
            hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                 "print(Fernet.generate_key().decode())'") from None


def _keys(service: ServiceSettings) -> list[str]:
    """The current key first, then previous ones: from the environment, else the key file
    (one key a line)."""
    if service.encryption_key:
        return [service.encryption_key.strip(),
                *(k.strip() for k in service.encryption_previous_keys if k.strip())]
    keys = _key_from_file(Path(service.encryption_key_file)).split()
    if not keys:
        raise EncryptionKeyError(f"The key file {service.encryption_key_file} is empty.")
    return keys


def _key_from_file(path: Path) -> str:
    """The key file's text, created (readable by the owner only) if there is none yet."""
    from cryptography.fernet import Fernet

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text()
        with os.fdopen(fd, "w") as out:
            out.write(Fernet.generate_key().decode())
    return path.read_text()


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with an owner-only file holding ``data``."""
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    partial.replace(path)


def encrypted_files(storage: Path) -> list[Path]:
    """Every file the service stored encrypted: uploads, checkpoints, sealed internal outputs."""
    storage = Path(storage)
    return sorted([*storage.glob("submission-*/upload.*"),
                   *storage.glob("submission-*/jobs/*/checkpoints/*.bin"),
                   *storage.glob(f"submission-*/jobs/*/internal/*{SEALED}")])


def rotate_key(service: ServiceSettings, storage: Path) -> int:
    """Re-encrypt every stored file under a new key; returns how many files.

    With a key file: a new key is generated and written first, above the old one (so a crash
    part-way leaves every file readable), the files are re-encrypted, then the old key is
    dropped. With the key in the environment, set the new one as ``encryption_key`` and the old
    one in ``encryption_previous_keys`` first; this re-encrypts under the new one.
    """
    from cryptography.fernet import Fernet, InvalidToken

    key_file = None if service.encryption_key else Path(service.encryption_key_file)
    if key_file is not None:
        old = _keys(service)
        new = Fernet.generate_key().decode()
        _write_private(key_file, "\n".join([new, *old]).encode() + b"\n")
    fernet, files = _fernet(service), encrypted_files(storage)
    for path in files:
        try:
            _write_private(path, fernet.rotate(path.read_bytes()))
        except InvalidToken:
            raise EncryptionKeyError(f"{path.name} cannot be decrypted with the current or "
                                     "previous keys; rotation stopped (files done so far are "
                                     "under the new key, which is kept).") from None
    if key_file is not None:
        _write_private(key_file, new.encode() + b"\n")
    return len(files)


def ensure_key(service: ServiceSettings) -> None:
    """Fail at start-up, not at the first upload, if the key is unusable."""
    _fernet(service)


def store_encrypted(service: ServiceSettings, plain: Path, target: Path) -> None:
    """Write ``plain``'s bytes encrypted to ``target`` (owner-only)."""
    _write_private(target, _fernet(service).encrypt(plain.read_bytes()))


@contextmanager
def decrypted(service: ServiceSettings, stored: Path, work_dir: Path) -> Iterator[Path]:
    """A plaintext copy of ``stored`` (same name) in ``work_dir`` while the block runs."""
    from cryptography.fernet import InvalidToken

    try:
        data = _fernet(service).decrypt(stored.read_bytes())
    except InvalidToken:
        raise EncryptionKeyError("The stored upload cannot be decrypted with the service's "
                                 "key (was the key changed?).") from None
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    plain = work_dir / stored.name
    fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        yield plain
    finally:
        plain.unlink(missing_ok=True)


class EncryptedCheckpoints:
    """A job's completed-stage outputs (``jdl.evaluation.Checkpoints``), encrypted like uploads.

    They hold personal data (the validated rows, the cohort), so they are written encrypted and
    owner-only, read back only by the job that wrote them (after its worker died) and deleted
    when the job ends. Fernet authenticates what it decrypts, so the unpickled bytes are the
    lab's own.
    """

    def __init__(self, service: ServiceSettings, folder: Path) -> None:
        self.service, self.folder = service, Path(folder)
        self.resumed: list[str] = []  # stages whose saved output this run reused

    def _path(self, stage: str) -> Path:
        return self.folder / f"{stage}.bin"

    def load(self, stage: str) -> object | None:
        import pickle

        from cryptography.fernet import InvalidToken

        path = self._path(stage)
        if not path.is_file():
            return None
        try:
            value = pickle.loads(_fernet(self.service).decrypt(path.read_bytes()))
        except (InvalidToken, pickle.UnpicklingError, EOFError):
            path.unlink(missing_ok=True)  # unreadable (key changed, torn write): recompute
            return None
        self.resumed.append(stage)
        return value

    def save(self, stage: str, value: object) -> None:
        import pickle

        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = _fernet(self.service).encrypt(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        _write_private(self._path(stage), token)  # atomic: a kill leaves no half checkpoint

    def clear(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def seal_folder(service: ServiceSettings, folder: Path) -> int:
    """Encrypt every file in ``folder`` in place (``name`` -> ``name.enc``, plaintext deleted):
    a finished job's lab-internal outputs (link table, matched ids, unrounded aggregates)."""
    if not folder.is_dir():
        return 0
    fernet, sealed = _fernet(service), 0
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != SEALED):
        _write_private(path.with_name(path.name + SEALED), fernet.encrypt(path.read_bytes()))
        path.unlink()
        sealed += 1
    return sealed


def read_sealed(service: ServiceSettings, path: Path) -> bytes | None:
    """A sealed file's plaintext (``path`` names the original); None if there is none."""
    from cryptography.fernet import InvalidToken

    sealed = path.with_name(path.name + SEALED)
    if not sealed.is_file():
        return path.read_bytes() if path.is_file() else None  # a run from before sealing
    try:
        return _fernet(service).decrypt(sealed.read_bytes())
    except InvalidToken:
        raise EncryptionKeyError(f"The lab-internal file {path.name} cannot be decrypted with "
                                 "the service's key (was the key changed?).") from None
