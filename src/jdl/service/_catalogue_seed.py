"""A demonstration catalogue: the synthetic population's planted programmes, each uploaded with
the same code as ``jdl synth-submission``, evaluated by ``jdl.run.run_evaluation`` and published.

Every seeded publication is marked synthetic (the pages say so). A programme already published
through the service stays the one listed (:func:`jdl.service._catalogue.replaced_publications`).
Nothing here needs the service to be running: it publishes through
:func:`jdl.service._catalogue.store_publication` (the catalogue's disclosure checks) into the
service's database and storage. The register's demonstration — a replaced report, a right of
reply, a withdrawn request and one that could not be answered — goes through the service's own
request path instead (:mod:`jdl.service._register_seed`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jdl.catalogue import ReportToPublish
from jdl.core.config import DEFAULT_SEED, Settings
from jdl.core.errors import JDLError, UsageError
from jdl.service._catalogue import replaced_publications, store_publication
from jdl.service._catalogue_models import Publication

Step = Callable[[str, str], None]  # (programme name, stage)


@dataclass(frozen=True)
class Seeded:
    """What one planted programme became: a publication id, or the reason it was skipped."""

    programme: str
    publication_id: int | None
    reason: str | None = None
    already: bool = False


def planted(data_dir: Path) -> list[dict[str, Any]]:
    """The planted programmes of a synthetic data directory (``truth/programmes.json``)."""
    path = Path(data_dir) / "truth" / "programmes.json"
    if not path.is_file():
        raise UsageError(f"{data_dir} has no planted programmes ({path} is missing).",
                         hint="Seed from synthetic records: jdl synth --out DIR first.")
    return list(json.loads(path.read_text())["programmes"])


def choose(programmes: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` programmes covering as many sectors, then intervention types, as possible: each pick
    prefers a new sector, then a new type (ties in file order)."""
    if n < 1:
        raise UsageError("--reports must be at least 1.")
    if n > len(programmes):
        raise UsageError(f"The data directory has {len(programmes)} planted programmes; "
                         f"cannot seed {n} reports.",
                         hint=f"Use --reports {len(programmes)} or fewer.")
    left, chosen = list(programmes), list[Any]()
    sectors: set[str] = set()
    types: set[str] = set()
    while len(chosen) < n:
        best = max(left, key=lambda p: (p["sector"] not in sectors,
                                        p["intervention_type"] not in types))
        chosen.append(best)
        left.remove(best)
        sectors.add(best["sector"])
        types.add(best["intervention_type"])
    return chosen


def demo_shift(now: datetime) -> timedelta:
    """Whole days that move ``now`` to the day before the end of the last complete month (the
    register's date: :func:`jdl.catalogue._register.register_date`), so that what a
    demonstration publishes now is counted by the register."""
    from jdl.catalogue._register import register_date

    as_at = register_date(now.date())
    return timedelta(days=(now.date() - as_at).days + 1)


def seed_catalogue(db: Session, data_dir: Path, n: int, storage_dir: Path, settings: Settings,
                   *, seed: int = DEFAULT_SEED, step: Step | None = None,
                   leave_out: tuple[str, ...] = ()) -> list[Seeded]:
    """Evaluate and publish ``n`` planted programmes (already-published ones are skipped),
    chosen among those not in ``leave_out`` (the programme the register's demonstration takes
    through the service: :mod:`jdl.service._register_seed`).

    Each is dated the day before the end of the last complete month (the register counts
    requests as at that date, so a demonstration dated today would not be counted yet)."""
    from jdl.admin._store import read_manifest

    data_dir = Path(data_dir)
    version = read_manifest(data_dir).get("data_version", "unknown")
    out: list[Seeded] = []
    for spec in choose([p for p in planted(data_dir) if p["name"] not in leave_out], n):
        name = spec["name"]
        key = f"synthetic:{version}:{name}"
        existing = db.scalar(select(Publication.id).where(Publication.source_key == key))
        if existing is not None:
            out.append(Seeded(name, existing, already=True))
            continue
        try:
            pid = _evaluate_and_publish(db, data_dir, name, key, storage_dir, settings, seed,
                                        step)
        except JDLError as exc:  # e.g. too few people left after matching: say so, go on
            db.rollback()
            out.append(Seeded(name, None, reason=exc.message))
            continue
        # the same programme already published through the service is the one listed
        shown = replaced_publications(db).get(pid)
        out.append(Seeded(name, shown, already=True) if shown else Seeded(name, pid))
    return out


def _evaluate_and_publish(db: Session, data_dir: Path, name: str, key: str, storage_dir: Path,
                          settings: Settings, seed: int, step: Step | None) -> int:
    from jdl.admin.synth import make_submission
    from jdl.intake import load_programme
    from jdl.run import run_evaluation as evaluate

    with tempfile.TemporaryDirectory(prefix="jdl-seed-") as work:
        work_dir = Path(work)
        paths = make_submission(data_dir, name, work_dir / f"{name}.csv", seed=seed)
        evaluation = evaluate(paths["upload"], paths["programme"], data_dir, work_dir / "out",
                              settings=settings, seed=seed,
                              progress=(lambda stage: step(name, stage)) if step else None)
        programme = load_programme(paths["programme"]).model_dump(mode="json")
        report = ReportToPublish(
            submission_id=None, organisation=programme["organisation"], programme=programme,
            results=evaluation.results, pdf_path=evaluation.files["pdf"], approved_at=None,
            published_at=datetime.now(UTC) - demo_shift(datetime.now(UTC)))
        return store_publication(db, report, storage_dir, settings, synthetic=True, key=key)
