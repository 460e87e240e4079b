"""Encryption at rest of uploaded files (they hold names, dates of birth and PNC ids).

An upload is encrypted from its first byte, as it arrives (:class:`EncryptingWriter`), and
decrypted only into a private working file for the length of a validation or a job, which is
then deleted. The keys (Fernet keys) come from the environment or a key file outside the
database, so a copy of the database and storage folder alone reveals nothing.

Uploads use a chunked authenticated stream (the STREAM construction of Hoang, Reyhanitabar,
Rogaway and Vizár 2015, as in Tink's streaming AEAD): AES-256-GCM over 1 MiB chunks, under a
key derived for the file (HKDF-SHA256 of the Fernet key with a random salt), with the chunk's
number and a last-chunk flag in the nonce, so chunks cannot be dropped, reordered or cut off
unnoticed; the header names the key by a fingerprint, so a rotation can keep old keys readable.
Small files (checkpoints, sealed job outputs) are single Fernet tokens (AES-128-CBC with
HMAC-SHA256). Files of either kind written by earlier versions stay readable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


STREAM_MAGIC = b"JDLSTRM1"
STREAM_CHUNK = 1 << 20  # plaintext bytes per authenticated chunk
_TAG = 16  # AES-GCM tag
_HEADER = len(STREAM_MAGIC) + 8 + 16  # magic, key fingerprint, salt


def _raw_key(key: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(key.encode())


def _fingerprint(raw: bytes) -> bytes:
    import hashlib
    import hmac

    return hmac.new(raw, b"jdl stream key id", hashlib.sha256).digest()[:8]


def _file_cipher(raw: bytes, salt: bytes):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
               info=b"jdl upload stream v1").derive(raw)
    return AESGCM(key)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class EncryptingWriter:
    """A file written encrypted chunk by chunk: nothing but ciphertext ever reaches the disk.

    ``write`` as many times as needed, then ``close`` (which seals the last chunk); ``abort``
    deletes the file. A file never closed (the process died) cannot be read: its last chunk
    is missing, which decryption detects.
    """

    def __init__(self, service: ServiceSettings, path: Path) -> None:
        _fernet(service)  # a clear error for a bad key, before any byte is taken
        raw = _raw_key(_keys(service)[0])
        salt = os.urandom(16)
        self.path, self.size = Path(path), 0
        self._header = STREAM_MAGIC + _fingerprint(raw) + salt
        self._cipher, self._counter = _file_cipher(raw, salt), 0
        self._buffer = bytearray()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._out = os.fdopen(fd, "wb")
        self._out.write(self._header)
        self.closed = False

    def write(self, data: bytes) -> int:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) > STREAM_CHUNK:  # hold back a full chunk: it may be the last
            self._emit(bytes(self._buffer[:STREAM_CHUNK]), last=False)
            del self._buffer[:STREAM_CHUNK]
        return len(data)

    def _emit(self, chunk: bytes, last: bool) -> None:
        self._out.write(self._cipher.encrypt(_nonce(self._counter, last), chunk, self._header))
        self._counter += 1

    def close(self) -> None:
        if self.closed:
            return
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        self.closed = True

    def abort(self) -> None:
        self.closed = True
        self._buffer.clear()
        self._out.close()
        self.path.unlink(missing_ok=True)


def is_stream(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(STREAM_MAGIC)) == STREAM_MAGIC


def decrypt_stream(service: ServiceSettings, path: Path) -> Iterator[bytes]:
    """The plaintext of a stream-encrypted file, chunk by chunk (each one authenticated)."""
    from cryptography.exceptions import InvalidTag

    damaged = EncryptionKeyError(f"{Path(path).name} cannot be decrypted with the service's "
                                 "key, or it is damaged or incomplete (was the key changed?).")
    with open(path, "rb") as fh:
        header = fh.read(_HEADER)
        if len(header) < _HEADER or not header.startswith(STREAM_MAGIC):
            raise damaged
        fingerprint, salt = header[8:16], header[16:]
        raw = next((r for r in map(_raw_key, _keys(service)) if _fingerprint(r) == fingerprint),
                   None)
        if raw is None:
            raise damaged
        cipher, counter = _file_cipher(raw, salt), 0
        record = fh.read(STREAM_CHUNK + _TAG)
        while True:
            following = fh.read(STREAM_CHUNK + _TAG)
            last = not following
            try:
                yield cipher.decrypt(_nonce(counter, last), record, header)
            except InvalidTag:
                raise damaged from None
            if last:
                return
            record, counter = following, counter + 1


def _reencrypt_stream(service: ServiceSettings, path: Path) -> None:
    """``path`` encrypted again under the current key (atomically, chunk by chunk)."""
    partial = path.with_name(path.name + ".part")
    partial.unlink(missing_ok=True)
    writer = EncryptingWriter(service, partial)
    try:
        for chunk in decrypt_stream(service, path):
            writer.write(chunk)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    partial.replace(path)


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
    uploads = [p for p in storage.glob("submission-*/upload.*") if p.suffix != ".part"]
    return sorted([*uploads,
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
        if is_stream(path):
            _reencrypt_stream(service, path)
            continue
        try:
            _write_private(path, fernet.rotate(path.read_bytes()))
        except InvalidToken:
            raise EncryptionKeyError(f"{path.name} cannot be decrypted with the current or "
                                     "previous keys; rotation stopped (files done so far are "
                                     "under the new key, which is kept).") from None
    if key_file is not None:
        _write_private(key_file, new.encode() + b"\n")
    return len(files)


def decision_key(service: ServiceSettings) -> str:
    """The lab's secret for the answer band's per-request draw (``disclosure.decision_key``,
    :mod:`jdl.disclosure._decision`), derived from the current encryption key: kept as
    secret as the uploads, and never stored beside the database."""
    import hashlib
    import hmac

    raw = _raw_key(_keys(service)[0])
    return hmac.new(raw, b"jdl answer decision key", hashlib.sha256).hexdigest()


def ensure_key(service: ServiceSettings) -> None:
    """Fail at start-up, not at the first upload, if the key is unusable."""
    _fernet(service)


def store_encrypted(service: ServiceSettings, plain: Path, target: Path) -> None:
    """Write ``plain``'s bytes stream-encrypted to ``target`` (owner-only)."""
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    writer = EncryptingWriter(service, partial)
    with open(plain, "rb") as source:
        while chunk := source.read(STREAM_CHUNK):
            writer.write(chunk)
    writer.close()
    partial.replace(target)


@contextmanager
def decrypted(service: ServiceSettings, stored: Path, work_dir: Path,
              name: str | None = None) -> Iterator[Path]:
    """A plaintext view of ``stored`` at ``work_dir / name`` (else the same name) while the
    block runs; gone after it, whatever happens.

    On Linux the plaintext never touches a disk: it is written to an anonymous in-memory file
    (``memfd_create``) that dies with the process, and ``work_dir / name`` is only a symbolic
    link to it (``/proc/<pid>/fd/<n>``), so a crash or SIGKILL leaves a dangling link and no
    data (second independent check, session 6: a killed server's validation copy stayed in
    clear until the next start). Elsewhere, a 0600 file in a 0700 folder, removed by the
    start-up sweep after a crash. Swap is the operator's: encrypt it (docs/service.md)."""
    from cryptography.fernet import InvalidToken

    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(work_dir, 0o700)
    plain = work_dir / (name or stored.name)
    in_memory = hasattr(os, "memfd_create") and Path(f"/proc/{os.getpid()}/fd").is_dir()
    fd = (os.memfd_create(f"jdl-{plain.name}", os.MFD_CLOEXEC) if in_memory
          else os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        os.fchmod(fd, 0o600)  # /proc/<pid>/fd also needs the process's own user
        with os.fdopen(os.dup(fd), "wb") as out:
            if is_stream(stored):
                for chunk in decrypt_stream(service, stored):
                    out.write(chunk)
            else:  # a whole-file Fernet token (uploads stored by earlier versions)
                try:
                    out.write(_fernet(service).decrypt(stored.read_bytes()))
                except InvalidToken:
                    raise EncryptionKeyError("The stored upload cannot be decrypted with the "
                                             "service's key (was the key changed?).") from None
        if in_memory:
            os.symlink(f"/proc/{os.getpid()}/fd/{fd}", plain)
        yield plain
    finally:
        os.close(fd)
        plain.unlink(missing_ok=True)
        with suppress(OSError):
            work_dir.rmdir()


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
