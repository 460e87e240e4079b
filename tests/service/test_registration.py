"""The analysis plan registered with an upload (issue 20): stored with its SHA-256 before any
result exists, never changed afterwards, run by the worker, and entered in the portal form."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from jdl.intake import registration_from_dict
from jdl.service._jobs import registered_plan, run_once
from jdl.service._models import Submission
from tests.service.conftest import yaml_to_json
from tests.service.test_jobs import data_lab  # noqa: F401 (fixture)
from tests.service.test_web import form_data, signed_in

PLAN = {"primary_measure": "proven_reoffending_rate",
        "variables": {"delivery_mode": {"kind": "category",
                                        "categories": ["In person", "Online"]}},
        "sub_analyses": ["delivery_mode"]}


@pytest.fixture(scope="module")
def upload_with_mode(synthetic_upload, tmp_path_factory):
    rows = pd.read_csv(synthetic_upload["upload"], dtype=str, keep_default_na=False)
    rows["delivery_mode"] = np.random.default_rng(1).choice(["In person", "Online"], len(rows))
    path = tmp_path_factory.mktemp("plan") / "with-mode.csv"
    rows.to_csv(path, index=False)
    return path


def _post(lab, path, programme, plan):
    programme = {k: v for k, v in programme.items() if k != "organisation"}
    data = {"programme": yaml_to_json(programme)}
    if plan is not None:
        data["plan"] = plan if isinstance(plan, str) else json.dumps(plan)
    with open(path, "rb") as fh:
        return lab.client.post("/api/submissions", headers=lab.auth("submitter_a"),
                               files={"file": (path.name, fh, "text/csv")}, data=data)


def _stored(lab, sid) -> Submission:
    with lab.sessions() as db:
        return db.get(Submission, sid)


def test_plan_is_stored_with_its_hash_and_cannot_change(lab, synthetic_upload,
                                                        upload_with_mode):
    response = _post(lab, upload_with_mode, synthetic_upload["programme"], PLAN)
    assert response.status_code == 201, response.text
    sid = response.json()["id"]
    stored = _stored(lab, sid)
    plan = registration_from_dict(PLAN)
    assert stored.registration == plan.as_dict()
    assert stored.registration_sha256 == plan.sha256
    assert registered_plan(stored) == plan
    # the declared column was validated, not reported as ignored
    codes = {i["code"] for i in response.json()["validation"]["issues"]}
    assert "extra_column" not in codes
    with lab.sessions() as db:
        row = db.get(Submission, sid)
        with pytest.raises(ValueError, match="cannot be changed"):
            row.registration = {**PLAN, "sub_analyses": []}
        with pytest.raises(ValueError, match="cannot be changed"):
            row.registration_sha256 = "0" * 64


def test_a_tampered_plan_is_not_run(lab, synthetic_upload, upload_with_mode):
    from sqlalchemy import update

    from jdl.core.errors import JDLError

    sid = _post(lab, upload_with_mode, synthetic_upload["programme"], PLAN).json()["id"]
    with lab.sessions() as db:  # behind the ORM's back, as an intruder with the database
        db.execute(update(Submission).where(Submission.id == sid).values(
            registration={**PLAN, "sub_analyses": []}))
        db.commit()
    with pytest.raises(JDLError, match="not the one registered"):
        registered_plan(_stored(lab, sid))


@pytest.mark.parametrize("plan, expected", [
    ({**PLAN, "sub_analyses": ["postcode"]}, "neither a declared variable"),
    ({**PLAN, "primary_measure": "happiness"}, "not one of the lab's measures"),
    ("primary_measure: [unclosed", "could not be read"),
])
def test_a_bad_plan_is_a_clear_422(lab, synthetic_upload, upload_with_mode, plan, expected):
    response = _post(lab, upload_with_mode, synthetic_upload["programme"], plan)
    assert response.status_code == 422
    assert expected in response.text
    assert "Traceback" not in response.text
    with lab.sessions() as db:
        assert list(db.scalars(select(Submission))) == []


def test_without_its_declared_column_the_file_is_refused(lab, synthetic_upload):
    response = _post(lab, synthetic_upload["upload"], synthetic_upload["programme"], PLAN)
    assert response.status_code == 422
    assert "declares the column 'delivery_mode'" in response.text


def test_the_worker_runs_the_registered_plan(data_lab, synthetic_upload,  # noqa: F811
                                             upload_with_mode):
    lab = data_lab
    sid = _post(lab, upload_with_mode, synthetic_upload["programme"], PLAN).json()["id"]
    assert run_once(lab.sessions, lab.settings).value == "done"
    results = lab.client.get(f"/api/submissions/{sid}/results.json",
                             headers=lab.auth("analyst")).json()
    assert results["registration"]["sha256"] == registration_from_dict(PLAN).sha256
    assert [r["level"] for r in results["subgroups"] if r.get("registered")] == [
        "In person", "Online"]


def test_portal_form_has_the_plan_field_and_reports_its_problems(lab, synthetic_upload,
                                                                 upload_with_mode):
    token = signed_in(lab, "submitter_a")
    page = lab.client.get("/")
    assert 'name="analysis_plan"' in page.text and "Analysis plan (optional)" in page.text
    form = form_data(synthetic_upload["programme"], token)
    form["analysis_plan"] = "primary_measure: proven_reoffending_rate\nsub_analyses: [postcode]"
    with open(upload_with_mode, "rb") as fh:
        response = lab.client.post("/upload", data=form,
                                   files={"file": ("u.csv", fh, "text/csv")})
    assert response.status_code == 422
    assert "Analysis plan: sub_analyses: &#39;postcode&#39; is neither" in response.text \
        or "Analysis plan: sub_analyses: 'postcode' is neither" in response.text
    form["analysis_plan"] = ("primary_measure: proven_reoffending_rate\n"
                             "variables: {delivery_mode: {kind: category, "
                             "categories: [In person, Online]}}\n"
                             "sub_analyses: [delivery_mode, sex]")
    with open(upload_with_mode, "rb") as fh:
        response = lab.client.post("/upload", data=form,
                                   files={"file": ("u.csv", fh, "text/csv")},
                                   follow_redirects=True)
    assert response.status_code == 200, response.text[:2000]
    assert "Registered analysis plan" in response.text
    with lab.sessions() as db:
        stored = db.scalars(select(Submission)).one()
    assert stored.registration["sub_analyses"] == ["delivery_mode", "sex"]
    assert stored.registration_sha256 in response.text
