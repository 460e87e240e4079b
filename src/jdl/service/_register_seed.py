"""The demonstration catalogue's public register (issue 20): one organisation's requests taken
through the service as a real organisation and the lab would take them, so the register shows
every outcome and the catalogue a replaced report and a right of reply.

Through the service's own code, in process (its HTTP API via an in-process client, its job
runner, its publication step), with every check the real requests get:

1. **An earlier, smaller cumulative cohort.** The planted programme's participants who started
   before a date (about three in five, with the organisation's own columns and its registered
   plan) are uploaded (intake validates the file and the plan), evaluated by the job runner
   (the differencing guard runs at the job's end), approved by a lab reviewer through the API
   (the guard again) and published by :func:`jdl.service._publication.publish_due` (the guard
   and the catalogue's disclosure checks again).
2. **The updated analysis replacing it.** Everyone (the same people and the later starters) is
   uploaded, evaluated and approved; the organisation then asks, through
   :func:`jdl.service._publication.save_catalogue_request` (the catalogue-entry form's code),
   for the new report to replace the earlier one (the differencing rule on its accepted rows)
   and adds its response (screened for numbers of people the lab would not publish); publication
   checks both again. The earlier report stays, marked "Replaced by".
3. **A withdrawn request**: the organisation sends a file and withdraws it while queued (the API's
   withdrawal, which deletes its data).
4. **A request that could not be answered**: a second organisation's file of a few dozen people
   of another planted programme; too few are linked and matched, the run declines it, and the
   reviewer confirms the decline through the API. (Should the run find enough people, the
   reviewer declines it through the API instead: counted the same way.)

The register counts requests as at the end of the last complete month, so the demonstration's
history — requests, their events and publications — is then dated back by whole days into that
month (the earlier cohort's by three months more), keeping its order; the audit log keeps the
real times. Nothing else is written directly. The demonstration's accounts are deactivated at the
end, so no live account is left that nobody holds.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jdl.core.config import Settings
from jdl.core.errors import JDLError

#: The planted programme whose requests make the register's story (the demo's programme).
REGISTER_PROGRAMME = "new-leaf-employment"
#: The share of the programme's participants (by start date) in the earlier cohort.
EARLY_SHARE = 0.6
#: Rows of the request that could not be answered: over intake's 60, under the lab's 60
#: matched once linkage and eligibility have taken their share.
SMALL_REQUEST_ROWS = 64
#: The organisation's right of reply on the updated report (no numbers of people).
RESPONSE = (
    "We welcome the lab's analysis of everyone who took part in New Leaf since 2015. It "
    "replaces the earlier report on our first participants, as we asked when we sent our "
    "first file.\n\n"
    "The sessions are delivered in person, online or a mix of both, and we registered the "
    "analyses by delivery method and attendance before the results existed. We will use the "
    "findings with our funders and ask the lab to look again as more people finish the "
    "programme.")
#: Demonstration accounts (emails on the reserved .invalid domain: never delivered; deactivated
#: once the demonstration is done).
SUBMITTER = "demo-submitter@new-leaf.invalid"
SMALL_SUBMITTER = "demo-submitter@small-request.invalid"
REVIEWER = "demo-reviewer@lab.invalid"

Step = Callable[[str], None]


@dataclass
class RegisterSeeded:
    """What the register's demonstration did: submission ids by what happened to them, the
    publications (earlier, replacing), or why it was skipped."""

    submissions: dict[str, int] = field(default_factory=dict)
    early_publication: int | None = None
    publication: int | None = None
    skipped: str | None = None
    already: bool = False


def seed_register(settings: Settings, data_dir: Path, *, seed: int,
                  step: Step | None = None, programme: str = REGISTER_PROGRAMME
                  ) -> RegisterSeeded:
    """Take the demonstration's requests through the service (see the module's docstring).
    ``settings``: the service's (database and storage) with ``data.data_dir`` the synthetic
    records the jobs run on. Run again, it does nothing (the demonstration accounts exist)."""
    import warnings

    with warnings.catch_warnings():  # Starlette's note on its test client's HTTP library
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from jdl.service import create_app
    from jdl.service._models import User

    say = step or (lambda _message: None)
    settings = _for_seeding(settings, data_dir)
    spec = _planted(data_dir, programme)
    if spec is None:
        return RegisterSeeded(skipped=f"the data has no planted programme {programme!r}")
    app = create_app(settings)
    sessions: sessionmaker[Session] = app.state.sessions
    with sessions() as db:
        if db.scalar(select(User.id).where(User.email == SUBMITTER)) is not None:
            return RegisterSeeded(already=True)
    tokens = _accounts(sessions, settings, spec["organisation"], small_org=_other(data_dir,
                                                                               programme))
    out = RegisterSeeded()
    with tempfile.TemporaryDirectory(prefix="jdl-register-") as work, TestClient(app) as client:
        api = _Api(client, tokens)
        files = _uploads(Path(work), data_dir, programme, seed)
        say("the earlier cohort: upload, evaluation, review, publication")
        early = api.upload("submitter", files["early"])
        out.submissions["early"] = early
        _run_jobs(sessions, settings)
        api.approve(early)
        out.early_publication = _publish(sessions, settings, early)
        say("the updated analysis: upload, evaluation, review, reply, publication")
        full = api.upload("submitter", files["full"])
        out.submissions["replacing"] = full
        _run_jobs(sessions, settings)
        api.approve(full)
        _catalogue_entry(sessions, settings, full, out.early_publication)
        out.publication = _publish(sessions, settings, full)
        say("a withdrawn request")
        withdrawn = api.upload("submitter", files["again"])
        api.post(f"/api/submissions/{withdrawn}/withdraw", "submitter")
        out.submissions["withdrawn"] = withdrawn
        _run_jobs(sessions, settings)  # nothing: the withdrawn job was cancelled
        say("a request that could not be answered")
        small = api.upload("small", files["small"])
        out.submissions["not_answerable"] = small
        _run_jobs(sessions, settings)
        api.answer_small(small, _run_declined(sessions, small))
    _date_into_last_month(sessions, out)
    _deactivate_accounts(sessions, settings)
    return out


def _deactivate_accounts(sessions: sessionmaker[Session], settings: Settings) -> None:
    """The demonstration's accounts are switched off once it is done (``jdl admin``'s
    deactivation: their API tokens end), so no live lab reviewer or submitter account is left
    that nobody holds; their history stays attributable."""
    from jdl.service._accounts import set_active
    from jdl.service._models import User

    with sessions() as db:
        for user in db.scalars(select(User).where(User.email.in_(
                (SUBMITTER, SMALL_SUBMITTER, REVIEWER)))):
            set_active(db, user, False, lab_organisation=settings.service.lab_organisation)


# --- settings, accounts, uploads ----------------------------------------------------------------

def _for_seeding(settings: Settings, data_dir: Path) -> Settings:
    """The service's settings with the jobs on ``data_dir``, no background worker (jobs run
    here, one at a time) and no mail (the demonstration's addresses are not real)."""
    service = settings.service.model_copy(update={"in_process_worker": False})
    data = settings.data.model_copy(update={"data_dir": Path(data_dir)})
    mail = settings.mail.model_copy(update={"host": None})
    return settings.model_copy(update={"service": service, "data": data, "mail": mail})


def _planted(data_dir: Path, name: str) -> dict[str, Any] | None:
    from jdl.service._catalogue_seed import planted

    return next((p for p in planted(data_dir) if p["name"] == name), None)


def _other(data_dir: Path, programme: str) -> dict[str, Any]:
    """Another organisation's planted programme (the small request's), the first in the file."""
    from jdl.service._catalogue_seed import planted

    mine = _planted(data_dir, programme) or {}
    return next(p for p in planted(data_dir)
                if p["name"] != programme and p["organisation"] != mine.get("organisation"))


def _accounts(sessions: sessionmaker[Session], settings: Settings, organisation: str, *,
              small_org: dict[str, Any]) -> dict[str, str]:
    """The organisation's submitter, the small request's organisation's, and a lab reviewer
    (who submitted nothing, so may approve): API tokens by role name."""
    from jdl.service._accounts import create_org, create_user
    from jdl.service._models import Organisation

    lab = settings.service.lab_organisation
    wanted = {"submitter": (organisation, "submitter", SUBMITTER),
              "small": (small_org["organisation"], "submitter", SMALL_SUBMITTER),
              "reviewer": (lab, "reviewer", REVIEWER)}
    tokens = {}
    with sessions() as db:
        for name, (org, role, email) in wanted.items():
            if db.scalar(select(Organisation.id).where(Organisation.name == org)) is None:
                create_org(db, org)
            tokens[name] = create_user(db, org, role, email, lab_organisation=lab).token
    return tokens


def _uploads(work: Path, data_dir: Path, programme: str, seed: int) -> dict[str, dict[str, Any]]:
    """The files the organisations send: the earlier cohort, everyone, the file sent again
    (then withdrawn), and the small request; each with its programme information and plan."""
    from jdl.admin.synth import make_submission

    paths = make_submission(data_dir, programme, work / f"{programme}.csv", seed=seed, plan=True)
    rows = pd.read_csv(paths["upload"], dtype=str, keep_default_na=False)
    info = yaml.safe_load(Path(paths["programme"]).read_text())
    plan = yaml.safe_load(Path(paths["plan"]).read_text())
    started = pd.to_datetime(rows["intervention_start"], format="%d/%m/%Y", errors="coerce")
    cut = started.quantile(EARLY_SHARE)
    early_rows = rows[started.notna() & (started <= cut)]
    early_info = {**info, "delivery_end": cut.date().isoformat(),
                  "declared_participants": len(early_rows)}
    out = {"full": _file(work / "full.csv", rows, info, plan),
           "early": _file(work / "early.csv", early_rows, early_info, plan),
           "again": _file(work / "again.csv", rows, info, plan)}
    other = _other(data_dir, programme)
    small = make_submission(data_dir, other["name"], work / "small-source.csv", seed=seed)
    small_rows = pd.read_csv(small["upload"], dtype=str, keep_default_na=False).head(
        SMALL_REQUEST_ROWS)
    small_info = {**yaml.safe_load(Path(small["programme"]).read_text()),
                  "declared_participants": len(small_rows)}
    out["small"] = _file(work / "small.csv", small_rows, small_info, None)
    return out


def _file(path: Path, rows: pd.DataFrame, info: dict[str, Any], plan: Any) -> dict[str, Any]:
    rows.to_csv(path, index=False)
    # the organisation comes from the uploader's account, never the form (issue 16)
    info = {k: v for k, v in info.items() if k != "organisation"}
    return {"path": path, "programme": info, "plan": plan}


# --- the service, in process --------------------------------------------------------------------

class _Api:
    """The service's HTTP API, in process, as each account would call it."""

    def __init__(self, client: Any, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def post(self, path: str, who: str, **kwargs: Any) -> Any:
        response = self.client.post(path, headers={"Authorization":
                                                   f"Bearer {self.tokens[who]}"}, **kwargs)
        if response.status_code >= 400:
            raise JDLError(f"The service refused the demonstration's request ({path}, "
                           f"{response.status_code}): {response.text[:500]}")
        return response.json()

    def upload(self, who: str, file: dict[str, Any]) -> int:
        data = {"programme": json.dumps(file["programme"], default=str)}
        if file["plan"] is not None:
            data["plan"] = json.dumps(file["plan"])
        with open(file["path"], "rb") as fh:
            return int(self.post("/api/submissions", who, data=data,
                                 files={"file": (file["path"].name, fh, "text/csv")})["id"])

    def approve(self, submission_id: int) -> None:
        """The reviewer approves with today's publication date (the guard runs first)."""
        state = self.post(f"/api/submissions/{submission_id}/approve", "reviewer",
                          json={"embargo_until": datetime.now(UTC).date().isoformat()})["state"]
        if state != "approved":
            raise JDLError(f"Submission {submission_id} was not approved ({state}).")

    def answer_small(self, submission_id: int, run_declined: bool) -> None:
        """The reviewer's answer to the small request: confirm the run's decline, or decline
        a report the run did produce (both are "could not be answered" in the register)."""
        if run_declined:
            answer = self.post(f"/api/submissions/{submission_id}/approve", "reviewer", json={})
            if answer["state"] != "not_answerable":
                raise JDLError(f"Submission {submission_id} was not declined ({answer['state']}).")
            return
        self.post(f"/api/submissions/{submission_id}/decline", "reviewer",
                  json={"reason": "The file holds only part of the programme's participants; "
                                  "please send everyone who took part."})


def _run_jobs(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Run every queued job (the service's worker loop, in the foreground)."""
    from jdl.service._jobs import run_once

    while run_once(sessions, settings) is not None:
        pass


def _run_declined(sessions: sessionmaker[Session], submission_id: int) -> bool:
    from jdl.service._models import Submission

    with sessions() as db:
        submission = db.get_one(Submission, submission_id)
        return submission.state == "awaiting_review" and bool(submission.awaits_decline)


def _publish(sessions: sessionmaker[Session], settings: Settings, submission_id: int) -> int:
    from jdl.service._models import Submission
    from jdl.service._publication import publish_due

    publish_due(sessions, settings)
    with sessions() as db:
        submission = db.get_one(Submission, submission_id)
        if submission.publication_id is None:
            raise JDLError(f"Submission {submission_id} was not published: "
                           f"{submission.hold_reason or 'the catalogue refused it'}.")
        return int(submission.publication_id)


def _catalogue_entry(sessions: sessionmaker[Session], settings: Settings, submission_id: int,
                     replaces: int | None) -> None:
    """The organisation's catalogue entry (the form's code): its response, and the earlier
    report the new one replaces."""
    from jdl.service._models import Submission
    from jdl.service._publication import save_catalogue_request

    with sessions() as db:
        submission = db.get_one(Submission, submission_id)
        save_catalogue_request(db, settings, submission, submission.submitted_by,
                               response=RESPONSE, supersedes=replaces)
        db.commit()


# --- dating the demonstration -------------------------------------------------------------------

#: The earlier cohort's report is dated this much before the rest of the demonstration.
EARLY_BEFORE = timedelta(days=91)


def _date_into_last_month(sessions: sessionmaker[Session], seeded: RegisterSeeded) -> None:
    from jdl.service._catalogue_models import Publication, PublicationRequest
    from jdl.service._catalogue_seed import demo_shift
    from jdl.service._models import Submission, SubmissionEvent

    shift = demo_shift(datetime.now(UTC))
    early = seeded.submissions.get("early")
    with sessions() as db:
        for sid in seeded.submissions.values():
            back = shift + (EARLY_BEFORE if sid == early else timedelta(0))
            sub = db.get_one(Submission, sid)
            sub.created_at, sub.updated_at = sub.created_at - back, sub.updated_at - back
            if sub.published_at is not None:
                sub.published_at -= back
            if sub.embargo_until is not None:
                sub.embargo_until -= back
            for event in db.scalars(select(SubmissionEvent).where(
                    SubmissionEvent.submission_id == sid)):
                event.at -= back
            request = db.get(PublicationRequest, sid)
            if request is not None:
                request.updated_at -= back
            if sub.publication_id is not None:
                pub = db.get_one(Publication, sub.publication_id)
                pub.published_at -= back
                pub.year = pub.published_at.year
                if pub.approved_at is not None:
                    pub.approved_at -= back
        db.commit()
