"""Receiving an upload: the request body streamed straight into an encrypted file.

Starlette's own form parsing spools every file over 1 MB to the system temp folder in
plaintext; an upload holds names, dates of birth and PNC ids, so the lab parses the multipart
body itself (Starlette's parser, on python-multipart's streaming parser) with the file part
going chunk by chunk into an :class:`~jdl.service._crypto.EncryptingWriter` in
``<storage>/incoming/``. Nothing of the file exists in clear anywhere but in memory, one chunk
at a time. The size limit is enforced on the way in (413 as soon as the file passes it), the
file's type from its name before any of its bytes are taken, and the other fields are small
(``max_form_bytes`` each, a few of them).

Validation then reads a decrypted copy in a private working folder (0700, the file 0600,
deleted when it ends; :func:`validation_copy`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request
from starlette.formparsers import MultiPartException, MultiPartParser

from jdl.core.config import Settings
from jdl.service._crypto import EncryptingWriter, decrypted
from jdl.service._storage import owned, safe_suffix

FILE_FIELD = "file"


@dataclass
class ReceivedUpload:
    """An upload received and stored encrypted in ``incoming/``, with the form's other fields."""

    staged: Path
    suffix: str
    size: int
    fields: dict[str, str]

    def discard(self) -> None:
        self.staged.unlink(missing_ok=True)


class UploadFieldError(HTTPException):
    """A 422 about the file field (none chosen, a type the lab does not read), with the form's
    fields that arrived before the file part, so a page can draw the form again as it was (the
    upload page sends the file last)."""

    def __init__(self, status_code: int, detail: str, fields: dict[str, str]) -> None:
        super().__init__(status_code, detail)
        self.fields = fields


class _LimitedWriter(EncryptingWriter):
    """Refuses (413) the byte that takes the file past its limit."""

    def __init__(self, settings: Settings, path: Path) -> None:
        super().__init__(settings.service, path)
        self.limit = settings.intake.max_file_bytes

    def write(self, data: bytes) -> int:
        if self.size + len(data) > self.limit:
            raise HTTPException(413, f"The file is larger than the limit of "
                                     f"{self.limit // (1024 * 1024)} MB.")
        return super().write(data)

    def seek(self, _offset: int) -> None:
        """Starlette rewinds a finished file part; this one is closed instead (see parse)."""


class _EncryptingParser(MultiPartParser):
    """Starlette's multipart parser, with the file part written encrypted (not spooled)."""

    def __init__(self, request: Request, settings: Settings, max_fields: int) -> None:
        super().__init__(request.headers, request.stream(), max_files=1, max_fields=max_fields,
                         max_part_size=settings.service.max_form_bytes)
        self.settings = settings
        self.writer: _LimitedWriter | None = None
        self.suffix: str | None = None

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        part = self._current_part
        if part.file is None:
            return
        if part.field_name != FILE_FIELD:
            raise HTTPException(422, f"Send the file in the form field '{FILE_FIELD}'.")
        if not part.file.filename:  # a browser's form sent with no file chosen
            raise UploadFieldError(422, "Choose a file to upload.", self.fields_so_far())
        self.suffix = safe_suffix(part.file.filename)
        if self.suffix is None:  # before any of the file's bytes are taken
            raise UploadFieldError(422, "Upload a .csv, .xlsx or .parquet file.",
                                   self.fields_so_far())
        part.file.file.close()  # the (empty, in-memory) spool Starlette made
        storage = Path(self.settings.service.storage_dir)
        self.writer = _LimitedWriter(self.settings,
                                     owned(storage, "incoming", f"{uuid.uuid4().hex}.enc"))
        part.file.file = self.writer  # type: ignore[assignment]

    def fields_so_far(self) -> dict[str, str]:
        """The text fields already parsed (those before the file part)."""
        return {key: value for key, value in self.items if isinstance(value, str)}

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.abort()


@contextmanager
def upload_slot(request: Request, organisation_id: int | None, limit: int) -> Iterator[None]:
    """Hold one of the organisation's ``limit`` upload slots while its body arrives (counted in
    memory, per server process): a stalled or slow upload is staged on disk, so one account
    must not hold more of them than its queue quota (429 past it)."""
    if organisation_id is None:
        yield
        return
    counts: dict[int, int] | None = getattr(request.app.state, "uploads_in_progress", None)
    if counts is None:
        counts = request.app.state.uploads_in_progress = {}
    if counts.get(organisation_id, 0) >= limit:
        raise HTTPException(429, f"Your organisation already has {limit} upload(s) in "
                                 "progress (its queue quota); wait for one to finish.")
    counts[organisation_id] = counts.get(organisation_id, 0) + 1
    try:
        yield
    finally:
        counts[organisation_id] -= 1
        if counts[organisation_id] <= 0:
            del counts[organisation_id]


async def receive_upload(request: Request, settings: Settings,
                         max_fields: int = 40, *,
                         organisation_id: int | None = None) -> ReceivedUpload:
    """Stream a multipart upload into an encrypted file; 400/413/422 for a bad body (nothing
    is left behind then); 429 when ``organisation_id`` already has its queue quota of uploads
    in progress (:func:`upload_slot`)."""
    with upload_slot(request, organisation_id, settings.service.max_queued_jobs_per_org):
        return await _receive(request, settings, max_fields)


async def _receive(request: Request, settings: Settings, max_fields: int) -> ReceivedUpload:
    from starlette.concurrency import run_in_threadpool

    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(422, f"Send the upload as multipart/form-data with the file in "
                                 f"'{FILE_FIELD}'.")
    parser = _EncryptingParser(request, settings, max_fields)
    try:
        form = await parser.parse()
        if parser.writer is None:
            raise UploadFieldError(422, f"The form has no file in '{FILE_FIELD}'.",
                                   parser.fields_so_far())
        await run_in_threadpool(parser.writer.close)
    except MultiPartException as exc:
        parser.discard()
        raise HTTPException(400, f"The upload could not be read: {exc.message}") from None
    except BaseException:
        parser.discard()
        raise
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    return ReceivedUpload(parser.writer.path, parser.suffix or "", parser.writer.size, fields)


@contextmanager
def validation_copy(settings: Settings, upload: ReceivedUpload) -> Iterator[Path]:
    """The upload decrypted into a private working folder for validation (0700 folder, 0600
    file), deleted when the block ends; a crash leaves it to the next start-up sweep."""
    storage = Path(settings.service.storage_dir)
    folder = owned(storage, "work", f"validate-{uuid.uuid4().hex}")
    with decrypted(settings.service, upload.staged, folder, name=f"upload{upload.suffix}") as plain:
        yield plain
