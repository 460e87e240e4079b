"""Storing publications and the summary of findings: the web app's side of the catalogue.

:func:`jdl.catalogue.publish` checks a report and returns a typed record; :func:`store_publication`
keeps it (idempotently: the same source key finds the first row) and recomputes the stored summary
in the same transaction. :func:`current_summary` is what the pages read: recomputed first when the
publications, the significance rule or the catalogue settings have changed since.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jdl.catalogue._findings import rules_of
from jdl.catalogue._publish import (
    ReportToPublish,
    classify,
    compute_summary,
    fingerprint,
    publish,
    render_charts,
    source_key,
)
from jdl.core.config import Settings
from jdl.service._catalogue_models import CatalogueSummary, Publication


def store_publication(db: Session, report: ReportToPublish, storage_dir: Path,
                      settings: Settings, *, synthetic: bool | None = None,
                      key: str | None = None) -> int:
    """Publish ``report`` (checked by :func:`jdl.catalogue.publish`), store it, recompute the
    summary, commit; the publication id. Publishing the same thing twice returns the first id."""
    existing = db.scalar(select(Publication.id).where(
        Publication.source_key == source_key(report, key)))
    if existing is not None:
        return existing
    if synthetic is None:  # demonstration data: a seed, or a submission on synthetic records
        synthetic = report.submission_id is None or on_synthetic_records(report.results)
    record = publish(report, storage_dir, settings, synthetic=synthetic, key=key)
    pub = Publication(**record.columns())
    db.add(pub)
    db.flush()
    refresh_summary(db, settings)
    db.commit()
    return pub.id


def on_synthetic_records(results: Mapping[str, Any]) -> bool:
    """Whether an evaluation ran on the synthetic national records: their data version is the
    generator's (``synth-…``, :meth:`jdl.admin.synth.GeneratorConfig.data_version`); records
    loaded from real extracts have ``extract-…`` (``jdl.admin.loader``)."""
    return str(results.get("data_version") or "").startswith("synth-")


def programme_identity(pub: Any) -> tuple[str, str, Any, Any]:
    """What makes two publications reports on the same programme: the organisation, the
    programme's name (case and surrounding spaces aside) and its period of delivery."""
    return (" ".join(str(pub.organisation).split()).casefold(),
            " ".join(str(pub.programme_name).split()).casefold(),
            pub.delivery_start, pub.delivery_end)


def replaced_publications(db: Session) -> dict[int, int]:
    """Each publication another report on the same programme replaces -> the one shown.

    A programme can reach the catalogue twice: ``jdl catalogue seed`` publishes the planted
    programmes, and the same programme uploaded through the portal is published again under
    its submission; an organisation may also have a programme evaluated again. The catalogue
    lists each programme once: the report that went through the lab's review (a submission)
    over a seeded demonstration, then real records over synthetic, then the newest. The
    replaced report keeps its page, which links to the one shown."""
    rows = db.execute(select(Publication.id, Publication.organisation,
                             Publication.programme_name, Publication.delivery_start,
                             Publication.delivery_end, Publication.synthetic,
                             Publication.submission_id, Publication.published_at)).all()
    groups: dict[tuple[str, str, Any, Any], list[Any]] = defaultdict(list)
    for row in rows:
        groups[programme_identity(row)].append(row)
    replaced = {}
    for members in groups.values():
        shown = max(members, key=lambda r: (r.submission_id is not None, not r.synthetic,
                                            r.published_at, r.id))
        replaced.update({r.id: shown.id for r in members if r.id != shown.id})
    return replaced


def _reclassify(pub: Publication, settings: Settings) -> None:
    found = classify(pub.results, settings)
    pub.findings, pub.rules = found.findings, found.rules
    pub.headline_result, pub.treatment_n = found.headline_result, found.treatment_n


def _fingerprint(db: Session, settings: Settings) -> str:
    return fingerprint(list(db.scalars(select(Publication.id))), settings)


def refresh_summary(db: Session, settings: Settings) -> CatalogueSummary:
    """Re-classify every publication under the current rules and store a new summary."""
    pubs = list(db.scalars(select(Publication).order_by(Publication.id)))
    for pub in pubs:
        if pub.rules != rules_of(settings.inference) or not pub.findings:
            _reclassify(pub, settings)
    db.flush()
    replaced = replaced_publications(db)  # a programme published again counts once
    summary = compute_summary([p for p in pubs if p.id not in replaced], settings)
    # charts are drawn when the summary page first asks (matplotlib is slow to publish with)
    row = CatalogueSummary(fingerprint=_fingerprint(db, settings), summary=summary, charts={},
                           computed_at=datetime.now(UTC))
    db.add(row)
    db.flush()
    return row


def current_summary(db: Session, settings: Settings, *, charts: bool = False
                    ) -> CatalogueSummary:
    """The stored summary, recomputed first if it no longer matches the publications (and its
    charts drawn and stored, if asked for and not drawn yet)."""
    row = db.scalar(select(CatalogueSummary).order_by(CatalogueSummary.id.desc()).limit(1))
    if row is None or row.fingerprint != _fingerprint(db, settings):
        row = refresh_summary(db, settings)
        db.commit()
    if charts and not row.charts:
        row.charts = render_charts(row.summary)
        db.commit()
    return row
