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
                      key: str | None = None, response: str | None = None,
                      supersedes_id: int | None = None) -> int:
    """Publish ``report`` (checked by :func:`jdl.catalogue.publish`), store it, recompute the
    summary, commit; the publication id. Publishing the same thing twice returns the first id.

    ``response`` is the organisation's right of reply (checked again here against the
    report's released results: :func:`jdl.catalogue._register.clean_response`);
    ``supersedes_id`` the earlier publication of the same organisation this report replaces
    (:func:`check_supersedes`)."""
    from jdl.catalogue import CatalogueError
    from jdl.catalogue._register import ResponseProblem, clean_response

    existing = db.scalar(select(Publication.id).where(
        Publication.source_key == source_key(report, key)))
    if existing is not None:
        return existing
    if synthetic is None:  # demonstration data: a seed, or a submission on synthetic records
        synthetic = report.submission_id is None or on_synthetic_records(report.results)
    if supersedes_id is not None:
        check_supersedes(db, supersedes_id, report.organisation)
    try:
        response = clean_response(response, report.results, settings.disclosure)
    except ResponseProblem as exc:
        raise CatalogueError(exc.message) from None
    record = publish(report, storage_dir, settings, synthetic=synthetic, key=key)
    pub = Publication(**record.columns(), response=response, supersedes_id=supersedes_id)
    db.add(pub)
    db.flush()
    refresh_summary(db, settings)
    db.commit()
    return pub.id


class PublicationConflict(Exception):
    """The change is not possible for the publication as it stands (HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def same_organisation(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def superseded_by(db: Session) -> dict[int, int]:
    """Each publication an organisation's newer report explicitly replaces -> the newer one
    (only while the newer one stands: a withdrawn replacement replaces nothing)."""
    rows = db.execute(select(Publication.id, Publication.supersedes_id).where(
        Publication.supersedes_id.is_not(None), Publication.withdrawn_at.is_(None))).all()
    return {row.supersedes_id: row.id for row in rows}


def check_supersedes(db: Session, supersedes_id: int, organisation: str) -> Publication:
    """The publication a new report of ``organisation`` may replace, or a
    :class:`~jdl.catalogue.CatalogueError` saying why not: it must exist, be the same
    organisation's, stand (not withdrawn) and not be replaced already."""
    from jdl.catalogue import CatalogueError

    old = db.get(Publication, supersedes_id)
    if old is None or not same_organisation(old.organisation, organisation):
        raise CatalogueError(f"There is no published report {supersedes_id} of this "
                             "organisation to replace.")
    if old.withdrawn:
        raise CatalogueError(f"Report {supersedes_id} was withdrawn; a new report cannot "
                             "replace it.")
    newer = superseded_by(db).get(supersedes_id)
    if newer is not None:
        raise CatalogueError(f"Report {supersedes_id} is already replaced by report {newer}; "
                             f"replace report {newer} instead.")
    return old


def withdraw_publication(db: Session, settings: Settings, publication_id: int, reason: str,
                         user_id: int | None) -> Publication:
    """The lab withdraws a published report (issue 20): it stays in the catalogue, marked
    withdrawn with the lab's reason and date, is counted as withdrawn in the register and
    leaves the summary, forest plot and pooled estimates. Audited; commits. Raises
    :class:`PublicationConflict` when there is no such report or it is already withdrawn,
    ``jdl.catalogue._register.ResponseProblem`` for a missing or too long reason."""
    from jdl.catalogue._register import clean_response, clean_withdrawal_reason
    from jdl.service._models import AuditEntry

    pub = db.get(Publication, publication_id)
    if pub is None:
        raise PublicationConflict(f"There is no published report {publication_id}.")
    if pub.withdrawn:
        raise PublicationConflict(f"Report {publication_id} is already withdrawn.")
    # published as written: held to the same text check as the organisation's response
    pub.withdrawn_reason = clean_response(clean_withdrawal_reason(reason), pub.results,
                                          settings.disclosure, what="The reason")
    pub.withdrawn_at = datetime.now(UTC)
    db.add(AuditEntry(action="publication.withdraw", outcome="allowed", user_id=user_id,
                      submission_id=pub.submission_id,
                      detail=f"catalogue publication {publication_id}"))
    db.flush()
    refresh_summary(db, settings)
    db.commit()
    return pub


def register_counts(db: Session, today: Any | None = None) -> dict[str, Any]:
    """Every request the lab has had, counted by outcome (:data:`jdl.catalogue._register.
    OUTCOMES`) as at the end of the last complete month, for the whole lab only (see
    :mod:`jdl.catalogue._register` for why no breakdown); with the reports published since,
    which the list shows already. A request is a submission (its state at that date, from
    its timestamped events) or a demonstration report seeded without one."""
    from jdl.catalogue._register import count_outcomes, end_of, outcome_of, register_date
    from jdl.service._models import Submission, SubmissionEvent

    as_at = register_date(today or datetime.now(UTC).date())
    cutoff = end_of(as_at)
    pubs = db.execute(select(Publication.id, Publication.submission_id, Publication.synthetic,
                             Publication.published_at, Publication.withdrawn_at)).all()
    withdrawn_by = {p.submission_id: _aware(p.withdrawn_at) <= cutoff for p in pubs
                    if p.submission_id is not None and p.withdrawn_at is not None}
    state_at: dict[int, str] = {}
    for event in db.execute(select(SubmissionEvent.submission_id, SubmissionEvent.state,
                                   SubmissionEvent.at).order_by(SubmissionEvent.id)):
        if _aware(event.at) <= cutoff:
            state_at[event.submission_id] = event.state
    outcomes = []
    for sub in db.execute(select(Submission.id, Submission.created_at)):
        if _aware(sub.created_at) > cutoff:
            continue
        outcomes.append(outcome_of(state_at.get(sub.id, "queued"), withdrawn_by.get(sub.id,
                                                                                   False)))
    seeded = [p for p in pubs if p.submission_id is None and _aware(p.published_at) <= cutoff]
    outcomes += [outcome_of("published", p.withdrawn_at is not None
                            and _aware(p.withdrawn_at) <= cutoff) for p in seeded]
    replaced = replaced_publications(db)
    since = sum(1 for p in pubs if _aware(p.published_at) > cutoff and p.id not in replaced)
    return {"as_at": as_at.isoformat(), "as_at_text": f"{as_at.day} {as_at:%B %Y}",
            **count_outcomes(outcomes),
            "synthetic_seeded": len(seeded), "published_since": since}


def _aware(value: datetime) -> datetime:
    """SQLite gives back naive timestamps; they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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
                             Publication.submission_id, Publication.published_at,
                             Publication.withdrawn_at)).all()
    groups: dict[tuple[str, str, Any, Any], list[Any]] = defaultdict(list)
    for row in rows:
        groups[programme_identity(row)].append(row)
    replaced = {}
    for members in groups.values():
        # a standing report over a withdrawn one (issue 20), then as before
        shown = max(members, key=lambda r: (r.withdrawn_at is None, r.submission_id is not None,
                                            not r.synthetic, r.published_at, r.id))
        replaced.update({r.id: shown.id for r in members if r.id != shown.id})
    # an organisation's explicit replacement (issue 20) wins, followed to the newest
    explicit = superseded_by(db)
    for old in explicit:
        newest, seen = explicit[old], {old}
        while newest in explicit and newest not in seen:
            seen.add(newest)
            newest = explicit[newest]
        replaced[old] = newest
    return replaced


def published_effects(db: Session, settings: Settings, intervention_type: str) -> list[Any]:
    """The catalogue's current (not withdrawn, not replaced) published headline effects of one
    intervention type, as released (:class:`jdl.catalogue._register.Effect`): what the
    probability of benefit's catalogue prior is pooled from (issue 20)."""
    from jdl.catalogue._register import effects_of

    pubs = list(db.scalars(select(Publication).where(
        Publication.intervention_type == intervention_type).order_by(Publication.id)))
    replaced = replaced_publications(db)
    effects, _ = effects_of([p for p in pubs if p.id not in replaced and not p.withdrawn],
                            settings.catalogue.headline_measure)
    return effects


def _reclassify(pub: Publication, settings: Settings) -> None:
    found = classify(pub.results, settings)
    pub.findings, pub.rules = found.findings, found.rules
    pub.headline_result, pub.treatment_n = found.headline_result, found.treatment_n


def _fingerprint(db: Session, settings: Settings) -> str:
    """Changes with any publication, withdrawal or replacement (a withdrawn or replaced
    report's id is given negated)."""
    replaced = replaced_publications(db)
    rows = db.execute(select(Publication.id, Publication.withdrawn_at)).all()
    return fingerprint([-r.id if r.withdrawn_at is not None or r.id in replaced else r.id
                        for r in rows], settings)


def refresh_summary(db: Session, settings: Settings) -> CatalogueSummary:
    """Re-classify every publication under the current rules and store a new summary."""
    pubs = list(db.scalars(select(Publication).order_by(Publication.id)))
    for pub in pubs:
        if pub.rules != rules_of(settings.inference) or not pub.findings:
            _reclassify(pub, settings)
    db.flush()
    replaced = replaced_publications(db)  # a programme published again counts once
    summary = compute_summary([p for p in pubs if p.id not in replaced and not p.withdrawn],
                              settings)
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
