"""Where a submission's files live: one folder per submission under the storage directory.

``<storage>/submission-<id>/upload.<ext>``, ``programme.json`` and ``jobs/<job id>/`` (the
evaluation's outputs). Uploads are staged in ``<storage>/incoming/`` (never the system temp
folder: they hold personal data) until validation accepts them.
"""

from __future__ import annotations

from pathlib import Path

ALLOWED_SUFFIXES = (".csv", ".xlsx", ".parquet")


def submission_dir(storage: Path, submission_id: int) -> Path:
    return storage / f"submission-{submission_id}"


def job_dir(storage: Path, submission_id: int, job_id: int) -> Path:
    return submission_dir(storage, submission_id) / "jobs" / str(job_id)


def incoming_dir(storage: Path) -> Path:
    path = storage / "incoming"
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_suffix(file_name: str | None) -> str | None:
    """The upload's type from its name, if the lab reads it; the name itself is not kept."""
    suffix = Path(file_name or "").suffix.lower()
    return suffix if suffix in ALLOWED_SUFFIXES else None
