"""The review a statistician can sign, and the organisation's withdrawal (issue 21), as pages.

For the lab, the submission page shows the organisation (from its account), the draft report
inline (``/submissions/{id}/report.html`` in a sandboxed frame, under the same access rule as
the PDF), the disclosure review, every setting changed for the run, balance and sensitivity
with their flags in words, and one list of everything to check; "No warnings." only when that
list is empty. A reviewer approves, sends the request back with a reason or declines it with
a reason; an analyst may send back. The organisation reads the reason, and may withdraw its
request before publication after a confirmation page.

The actions are the API's (``_api_submissions.send_back``, ``decline``, ``withdraw``), posted
through ``_web._lab_action`` (the forms' routes live in ``_web``, which includes this module's
router), so the role, isolation and state rules are the same on both.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from jdl.core.config import Settings
from jdl.service._api_submissions import SubmissionId
from jdl.service._deps import PageRefused, PageUserDep, SessionDep, SettingsDep
from jdl.service._models import Role, Submission, SubmissionState, User
from jdl.service._storage import job_dir

router = APIRouter(include_in_schema=False)

#: The draft report in its frame: nothing but its own inline styles and embedded images; no
#: script, no request anywhere, framed only by the service's own pages, and sandboxed even
#: when opened on its own.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "font-src 'self' data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'self'; sandbox")

#: An estimate within this of zero (a proportion: 0.05 per 100 people) has no direction, so
#: it cannot "change sign" against another.
NO_DIRECTION = 0.0005


def _api() -> Any:
    from jdl.service import _api_submissions

    return _api_submissions


def _refused(user: User, exc: HTTPException) -> PageRefused:
    """The API's refusal (403/404/409) as the error page (``_web._refused``'s twin: this
    module is included by ``_web`` and must not import it)."""
    return PageRefused(exc.status_code, exc.detail, user)


@router.get("/submissions/{submission_id}/report.html")
def report_html(submission_id: SubmissionId, request: Request, db: SessionDep,
                settings: SettingsDep, user: PageUserDep) -> Response:
    """The draft (or released) report as HTML, for the review page's frame: the lab once a
    run is done, the organisation after approval (the PDF's rule, ``_released_file``)."""
    try:
        path = _api()._released_file(request, db, settings, user, submission_id,
                                     "report.html", "report.view")
    except HTTPException as exc:
        raise _refused(user, exc) from None
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": REPORT_CSP, "X-Frame-Options": "SAMEORIGIN",
        "Content-Disposition": f'inline; filename="jdl-report-{submission_id}.html"'})


@router.get("/submissions/{submission_id}/withdraw")
def withdraw_confirm(submission_id: SubmissionId, request: Request, db: SessionDep,
                     user: PageUserDep) -> Response:
    """The confirmation step: what withdrawing does, and the button that does it."""
    from jdl.service._web_render import _page

    api = _api()
    try:
        api._require_role(db, request, user, {Role.submitter}, "submission.withdraw",
                          submission_id)
        submission = api._visible(db, request, user, submission_id, "submission.withdraw")
    except HTTPException as exc:
        raise _refused(user, exc) from None
    if not can_withdraw(user, submission):
        raise _refused(user, HTTPException(409, "This request can no longer be withdrawn: "
                                                f"it is {state_words(submission.state)}."))
    return _page(request, "withdraw.html", user, s=submission)


# --- what the submission page shows -------------------------------------------------------

STATE_WORDS = {"awaiting_review": "awaiting review", "not_answerable": "could not be answered"}


def state_words(state: str, lab: bool = True) -> str:
    """A state in words; the organisation reads "sent back to you"."""
    if state == SubmissionState.sent_back and not lab:
        return "sent back to you"
    return STATE_WORDS.get(state, state.replace("_", " "))


def can_withdraw(user: User, submission: Submission) -> bool:
    from jdl.service._models import WITHDRAWABLE

    return (user.effective_role == Role.submitter
            and user.organisation_id == submission.organisation_id
            and SubmissionState(submission.state) in WITHDRAWABLE)


def page_context(db: Any, settings: Settings, user: User, submission: Submission,
                 diagnostics: dict[str, Any] | None, involved: set[int]) -> dict[str, Any]:
    """What the submission page needs for the review and withdrawal (issue 21)."""
    state = submission.state
    reviewing = state in (SubmissionState.awaiting_review, SubmissionState.held,
                          SubmissionState.failed, SubmissionState.sent_back)
    role = user.effective_role
    context: dict[str, Any] = {
        "organisation_name": submission.organisation.name if submission.organisation else "",
        "review_reason": submission.review_reason,
        "can_withdraw": can_withdraw(user, submission),
        "can_send_back": role in (Role.analyst, Role.reviewer) and state in (
            SubmissionState.awaiting_review, SubmissionState.held, SubmissionState.failed),
        "can_decline": role == Role.reviewer and reviewing,
        "reviewer_involved": user.id in involved,
        # the catalogue entry (issue 20): the organisation's response and replacement before
        # publication; a reviewer's or admin's withdrawal of the published report
        "can_edit_entry": _can_edit_entry(user, submission),
        "catalogue_request": _catalogue_request(db, submission),
        "can_withdraw_publication": (role in (Role.reviewer, Role.admin)
                                     and state == SubmissionState.published
                                     and submission.publication_id is not None),
        "draft": None,
        "review": None,
    }
    if user.is_lab and submission.latest_done_job is not None:
        folder = job_dir(Path(settings.service.storage_dir), submission.id,
                         submission.latest_done_job.id)
        if (folder / "report.html").is_file() or (folder / "report.pdf").is_file():
            context["draft"] = {"html": (folder / "report.html").is_file(),
                                "pdf": (folder / "report.pdf").is_file()}
        released = _read_json(folder / "results.json")
        context["review"] = review_summary(diagnostics, released, settings, submission)
        asked = context["catalogue_request"]
        if submission.hold_reason and asked is not None and asked.supersedes_id is not None:
            context["review"]["warnings"].append(
                f"Lab only: the organisation asks for this report to replace report "
                f"{asked.supersedes_id}. The two are one published sequence: the earlier "
                "report stays public, so the guard's finding above stands for the pair. If "
                "the analysed groups differ by fewer than "
                f"{settings.disclosure.differencing_min} people, the replacement cannot be "
                "published: decline it with a reason that names no number (for example "
                "\"Too few people were added since your last report for a new report to be "
                "published; ask again when more people have taken part.\").")
    return context


def _can_edit_entry(user: User, submission: Submission) -> bool:
    from jdl.service._publication import OPEN_STATES

    return (user.effective_role == Role.submitter
            and user.organisation_id == submission.organisation_id
            and SubmissionState(submission.state) in OPEN_STATES)


def _catalogue_request(db: Any, submission: Submission) -> Any:
    from jdl.service._catalogue_models import PublicationRequest

    return db.get(PublicationRequest, submission.id)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def review_summary(diagnostics: dict[str, Any] | None, released: dict[str, Any] | None,
                   settings: Settings, submission: Submission) -> dict[str, Any]:
    """Balance, sensitivity and the disclosure review with their flags, and every warning in
    one list (the page says "No warnings." only when it is empty)."""
    diagnostics = diagnostics or {}
    smd_good = settings.matching.smd_good
    balance = [dict(row, flagged=_unbalanced(row, smd_good))
               for row in diagnostics.get("balance") or []]
    sensitivity = sensitivity_rows(diagnostics)
    warnings: list[str] = []
    for w in diagnostics.get("warnings") or []:
        warnings.append(str(w.get("message") if isinstance(w, dict) and w.get("message")
                            else w))
    unbalanced = [row for row in balance if row["flagged"]]
    if unbalanced:
        from jdl.report import covariate_name

        names = ", ".join(covariate_name(row["covariate"]) for row in unbalanced)
        warnings.append(f"{len(unbalanced)} characteristic(s) not well balanced after "
                        f"matching (|SMD| {smd_good} or more): {names}.")
    for row in sensitivity["rows"]:
        if row["sign_changed"]:
            warnings.append(f"WARNING: the sensitivity analysis \"{row['label']}\" gives an "
                            f"estimate in the opposite direction to the headline "
                            f"({row['difference_text']} against {sensitivity['headline_text']}"
                            f" {sensitivity['unit']}): the direction of the effect depends on "
                            "this choice.")
        elif row["significance_changed"]:
            warnings.append(f"The sensitivity analysis \"{row['label']}\" "
                            f"{'is' if row['significant'] else 'is not'} statistically "
                            f"significant where the headline "
                            f"{'is not' if row['significant'] else 'is'}.")
    if submission.hold_reason:
        # beside a decline the guard's finding is a note, not a block: refusing to confirm it
        # would tell the organisation whether a person it added or removed has a record
        note = (" Confirm the decline all the same (its answer is drawn so that no one person "
                "decides it); raise a pattern of near-identical requests with the "
                "organisation." if submission.awaits_decline else "")
        warnings.append(f"Lab only: {submission.hold_reason}{note}")
    return {"balance": balance, "sensitivity": sensitivity, "warnings": warnings,
            "disclosure": disclosure_summary(released, diagnostics.get("disclosure_review")),
            "smd_good": smd_good}


def _unbalanced(row: dict[str, Any], smd_good: float) -> bool:
    value = row.get("smd_after")
    return isinstance(value, int | float) and math.isfinite(value) and abs(value) >= smd_good


def _direction(value: Any) -> int:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return 0 if abs(value) < NO_DIRECTION else (1 if value > 0 else -1)


def _significant(row: dict[str, Any]) -> bool | None:
    low, high = row.get("ci_low"), row.get("ci_high")
    if not (isinstance(low, int | float) and isinstance(high, int | float)
            and math.isfinite(low) and math.isfinite(high)):
        return None
    return bool(low > 0 or high < 0)


def sensitivity_rows(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Each sensitivity row (the lab's unrounded values) against the headline estimate: the
    difference per 100 people, and whether its direction or its significance differs."""
    from jdl.report._wording import RATE_KEY

    headline = ((diagnostics.get("measures") or {}).get(RATE_KEY) or {})
    sens = diagnostics.get("sensitivity") or {}
    specs = sens.get("specifications") or []
    per_100 = headline.get("unit", "proportion") == "proportion"
    unit = "per 100 people" if per_100 else ""
    scale = 100.0 if per_100 else 1.0

    def text(value: Any) -> str:
        if not isinstance(value, int | float) or not math.isfinite(value):
            return "–"
        shown = value * scale
        return f"{shown:+.1f}" if abs(shown) >= 0.05 else "0.0"

    head_dir, head_sig = _direction(headline.get("difference")), _significant(headline)
    rows = []
    for spec in specs:
        sig = _significant(spec)
        direction = _direction(spec.get("difference"))
        rows.append({
            "label": str(spec.get("label") or ""),
            "difference_text": text(spec.get("difference")),
            "ci_text": f"{text(spec.get('ci_low'))} to {text(spec.get('ci_high'))}",
            "treatment_n": spec.get("treatment_n"), "comparison_n": spec.get("comparison_n"),
            "significant": sig,
            "sign_changed": head_dir != 0 and direction != 0 and direction != head_dir,
            "same_direction": head_dir != 0 and direction == head_dir,
            "significance_changed": (sig is not None and head_sig is not None
                                     and sig != head_sig),
        })
    values = [spec.get("difference") for spec in specs
              if isinstance(spec.get("difference"), int | float)
              and math.isfinite(spec["difference"])]
    return {"rows": rows, "unit": unit, "headline_text": text(headline.get("difference")),
            "headline_has_direction": head_dir != 0, "present": bool(specs),
            "range_text": (f"{text(min(values))} to {text(max(values))}" if values else None)}


def disclosure_summary(released: dict[str, Any] | None,
                       scan: str | None) -> dict[str, Any] | None:
    """The disclosure review in brief: the rules applied, how many released values were
    suppressed in each part of the results, and the output checker's scan."""
    if released is None and not scan:
        return None
    disclosure = (released or {}).get("disclosure") or {}
    by_part: dict[str, int] = {}
    for pointer in disclosure.get("suppressed") or []:
        part = str(pointer).strip("/").split("/", 1)[0] or "results"
        by_part[part] = by_part.get(part, 0) + 1
    return {"rules": disclosure.get("rules") or {}, "suppressed": sorted(by_part.items()),
            "suppressed_total": sum(by_part.values()), "scan": scan}


# --- the catalogue entry: right of reply, replacement, withdrawal (issue 20) -------------------

def _own_open_submission(request: Request, db: Any, user: User, submission_id: int,
                         action: str) -> Submission:
    """The organisation's own submission whose catalogue entry it may set (403/404/409 as
    the error page)."""
    from jdl.service._publication import OPEN_STATES

    api = _api()
    try:
        api._require_role(db, request, user, {Role.submitter}, action, submission_id)
        submission = api._visible(db, request, user, submission_id, action)
    except HTTPException as exc:
        raise _refused(user, exc) from None
    if SubmissionState(submission.state) not in OPEN_STATES:
        raise _refused(user, HTTPException(409, "The catalogue entry of this request can no "
                                                "longer be changed: it is "
                                                f"{state_words(submission.state, False)}."))
    return submission


def replaceable_reports(db: Any, organisation_id: int, organisation_name: str) -> list[Any]:
    """The organisation's standing published reports (not withdrawn, not replaced) that were
    published from one of its uploads: what a new upload may replace."""
    from sqlalchemy import select

    from jdl.service._catalogue import replaced_publications, same_organisation
    from jdl.service._catalogue_models import Publication

    replaced = replaced_publications(db)
    pubs = db.scalars(select(Publication).where(Publication.withdrawn_at.is_(None))
                      .order_by(Publication.published_at.desc())).all()
    return [p for p in pubs if p.id not in replaced and p.submission_id is not None
            and same_organisation(p.organisation, organisation_name)
            and getattr(db.get(Submission, p.submission_id), "organisation_id", None)
            == organisation_id]


def _entry_page(request: Request, db: Any, settings: Settings, user: User,
                submission: Submission, status: int = 200,
                form: dict[str, str] | None = None,
                field_errors: dict[str, str] | None = None) -> Response:
    from jdl.catalogue._register import MAX_RESPONSE
    from jdl.service._catalogue_models import PublicationRequest
    from jdl.service._web_render import _page

    asked = db.get(PublicationRequest, submission.id)
    values = form if form is not None else {
        "response": (asked.response or "") if asked else "",
        "supersedes": str(asked.supersedes_id or "") if asked else ""}
    errors = [{"text": m, "href": f"#{f}"} for f, m in (field_errors or {}).items()]
    return _page(request, "catalogue/entry_form.html", user, status, s=submission,
                 form=values, field_errors=field_errors or {}, errors=errors,
                 reports=replaceable_reports(db, submission.organisation_id,
                                             submission.organisation.name),
                 max_response=MAX_RESPONSE,
                 differencing_min=settings.disclosure.differencing_min,
                 can_respond=submission.state == SubmissionState.approved.value)


@router.get("/submissions/{submission_id}/catalogue-entry")
def catalogue_entry(submission_id: SubmissionId, request: Request, db: SessionDep,
                    settings: SettingsDep, user: PageUserDep) -> Response:
    """The organisation's response to the analysis and the report it replaces, before
    publication (:func:`jdl.service._publication.save_catalogue_request`)."""
    submission = _own_open_submission(request, db, user, submission_id,
                                      "submission.catalogue_entry")
    return _entry_page(request, db, settings, user, submission)


@router.post("/submissions/{submission_id}/catalogue-entry")
async def catalogue_entry_save(submission_id: SubmissionId, request: Request, db: SessionDep,
                               settings: SettingsDep, user: PageUserDep) -> Response:
    from fastapi.responses import RedirectResponse

    from jdl.service._publication import EntryClosed, EntryProblem, save_catalogue_request

    form = await request.form()
    _check_form_token(request, db, user, form.get("csrf_token"))
    submission = _own_open_submission(request, db, user, submission_id,
                                      "submission.catalogue_entry")
    values = {k: str(form.get(k) or "") for k in ("response", "supersedes")}
    try:
        save_catalogue_request(db, settings, submission, user.id, response=values["response"],
                               supersedes=values["supersedes"])
    except EntryProblem as exc:
        db.rollback()
        return _entry_page(request, db, settings, user, submission, 422, values, exc.problems)
    except EntryClosed as exc:
        db.rollback()
        raise _refused(user, HTTPException(409, exc.message)) from None
    db.commit()
    return RedirectResponse(f"/submissions/{submission_id}", status_code=303)


def _check_form_token(request: Request, db: Any, user: User, sent: object) -> None:
    """The form's CSRF token against the session's, as ``_web._check_csrf`` checks it (this
    module is included by ``_web`` and must not import it): a refusal is audited and answered
    with the error page."""
    import secrets

    from jdl.service._audit import deny

    expected = request.session.get("csrf")
    if not (expected and isinstance(sent, str) and secrets.compare_digest(expected, sent)):
        deny(db, request, f"web {request.url.path}", user_id=user.id,
             detail="missing or wrong CSRF token")
        raise _refused(user, HTTPException(403, "Go back, refresh the page and try again."))


def _lab_publication(request: Request, db: Any, user: User, publication_id: str) -> Any:
    """A publication a reviewer or admin may withdraw (403 for anyone else, audited)."""
    import re

    from jdl.service._catalogue_models import Publication

    try:
        _api()._require_role(db, request, user, {Role.reviewer, Role.admin},
                             "publication.withdraw")
    except HTTPException as exc:
        raise _refused(user, exc) from None
    pub = (db.get(Publication, int(publication_id))
           if re.fullmatch(r"[0-9]{1,9}", publication_id) else None)
    if pub is None:
        raise _refused(user, HTTPException(404, "There is no published report with this "
                                                "number."))
    if pub.withdrawn:
        raise _refused(user, HTTPException(409, f"Report {pub.id} is already withdrawn."))
    return pub


@router.get("/catalogue/reports/{publication_id}/withdraw")
def withdraw_publication_confirm(publication_id: str, request: Request, db: SessionDep,
                                 user: PageUserDep) -> Response:
    """The lab withdraws a published report: what it does, and the reason to give."""
    from jdl.service._web_render import _page

    pub = _lab_publication(request, db, user, publication_id)
    return _page(request, "catalogue/withdraw_form.html", user, pub=pub, form={},
                 field_errors={}, errors=[])


@router.post("/catalogue/reports/{publication_id}/withdraw")
async def withdraw_publication_save(publication_id: str, request: Request, db: SessionDep,
                                    settings: SettingsDep, user: PageUserDep) -> Response:
    from fastapi.responses import RedirectResponse

    from jdl.catalogue._register import ResponseProblem
    from jdl.service._catalogue import PublicationConflict, withdraw_publication
    from jdl.service._web_render import _page

    form = await request.form()
    _check_form_token(request, db, user, form.get("csrf_token"))
    pub = _lab_publication(request, db, user, publication_id)
    reason = str(form.get("reason") or "")
    try:
        withdraw_publication(db, settings, pub.id, reason, user.id)
    except PublicationConflict as exc:
        db.rollback()
        raise _refused(user, HTTPException(409, exc.message)) from None
    except ResponseProblem as exc:
        db.rollback()
        return _page(request, "catalogue/withdraw_form.html", user, 422, pub=pub,
                     form={"reason": reason}, field_errors={"reason": exc.message},
                     errors=[{"text": exc.message, "href": "#reason"}])
    return RedirectResponse(f"/catalogue/reports/{pub.id}", status_code=303)
