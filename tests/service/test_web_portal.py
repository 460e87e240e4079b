"""Issue 21 in the fast client: every error a styled page for a browser and JSON for the API;
forms answered on the same page with linked errors and the input kept; upload feedback grouped
by column and kind with a problem-row CSV that is never on disk in clear; the template and
the guidance from the portal."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.service.test_web import csrf, form_data, put_in_state, signed_in

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def looks_like_our_page(text: str) -> bool:
    """The portal's styled page (its header and stylesheet), not JSON or a bare message."""
    return text.lstrip().startswith("<!doctype html>") and "error-summary" in text \
        and "Justice Data Lab" in text


@pytest.fixture
def approved_flow(lab, synthetic_upload) -> int:
    """A submission awaiting review (as ``test_web``'s fixture of the same name)."""
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    put_in_state(lab, sid, "awaiting_review")
    return sid


@pytest.fixture
def programme(synthetic_upload) -> dict:
    return synthetic_upload["programme"]


def refused_file(synthetic_upload, tmp_path: Path) -> Path:
    """The synthetic upload with every date of birth impossible (one repeated mistake)."""
    frame = pd.read_csv(synthetic_upload["upload"], dtype=str, keep_default_na=False)
    frame["date_of_birth"] = "1985-13-45"
    path = tmp_path / "every-dob-wrong.csv"
    frame.to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------------ error pages


def test_unknown_address_is_a_page_for_a_browser_and_json_for_scripts(lab):
    page = lab.client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "Page not found" in page.text and '"detail"' not in page.text
    assert looks_like_our_page(page.text)
    assert lab.client.get("/no/such/page").json() == {"detail": "Not Found"}
    api = lab.client.get("/api/no/such/thing", headers=HTML)
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_wrong_method_and_bad_address_parts_are_pages(lab):
    signed_in(lab, "submitter_a")
    wrong = lab.client.get("/upload", headers=HTML)
    assert wrong.status_code == 405 and "This page cannot do that" in wrong.text
    assert "Method Not Allowed" not in wrong.text
    bad = lab.client.get("/submissions/not-a-number", headers=HTML)
    assert bad.status_code == 404 and "Page not found" in bad.text
    assert "pydantic" not in bad.text and "int_parsing" not in bad.text
    api = lab.client.get("/api/submissions/not-a-number", headers=lab.auth("submitter_a"))
    assert api.status_code == 422 and isinstance(api.json()["detail"], list)


def test_an_unexpected_error_shows_a_reference_never_a_traceback(lab, caplog):
    app = lab.client.app

    def boom() -> None:
        raise RuntimeError("secret detail 1985-03-21 Jane Smith")

    app.add_api_route("/boom-page", boom)
    app.add_api_route("/api/boom", boom)
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/boom-page", headers=HTML)
    assert page.status_code == 500 and looks_like_our_page(page.text)
    reference = re.search(r"Reference: <strong>([0-9A-F]{8})</strong>", page.text).group(1)
    assert "Traceback" not in page.text and "secret detail" not in page.text
    assert "RuntimeError" not in page.text
    api = client.get("/api/boom", headers=HTML)
    assert api.status_code == 500 and api.json()["detail"] == "Internal error."
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert reference in logged and "secret detail" not in logged


def test_a_body_over_the_limit_is_a_styled_page_that_says_the_limit(lab):
    too_big = lab.client.post("/login", content=b"x" * 200_000, headers={
        **HTML, "content-type": "application/x-www-form-urlencoded"})
    assert too_big.status_code == 413 and looks_like_our_page(too_big.text)
    assert "File too large" in too_big.text and "64 KB" in too_big.text
    script = lab.client.post("/login", content=b"x" * 200_000,
                             headers={"content-type": "application/x-www-form-urlencoded"})
    assert script.status_code == 413 and "64 KB" in script.json()["detail"]


# ------------------------------------------------------------------------------ forms


def test_upload_without_a_file_goes_back_to_the_form_with_the_input_kept(lab, programme):
    token = signed_in(lab, "submitter_a")
    response = lab.client.post("/upload", headers=HTML, data=form_data(programme, token),
                               files={"file": ("", b"", "application/octet-stream")})
    assert response.status_code == 422 and looks_like_our_page(response.text)
    assert '<a href="#file">Choose a file to upload.</a>' in response.text
    assert 'id="file-error"' in response.text
    assert programme["programme_name"] in response.text  # what was typed is kept
    assert 'type="missing"' not in response.text and '"detail"' not in response.text


def test_a_missing_programme_field_is_linked_to_that_field(lab, programme, synthetic_upload):
    token = signed_in(lab, "submitter_a")
    data = {**form_data(programme, token), "sector": ""}
    with open(synthetic_upload["upload"], "rb") as fh:
        response = lab.client.post("/upload", headers=HTML, data=data,
                                   files={"file": ("u.csv", fh, "text/csv")})
    assert response.status_code == 422
    assert '<a href="#sector">Choose sector.</a>' in response.text
    assert 'id="sector-error"' in response.text and "jdl template" not in response.text


def test_a_bad_rerun_value_goes_back_to_the_form_in_plain_words(lab, approved_flow):
    put_in_state(lab, approved_flow, "awaiting_review")
    signed_in(lab, "analyst")
    page = lab.client.get(f"/submissions/{approved_flow}")
    response = lab.client.post(f"/submissions/{approved_flow}/rerun", headers=HTML, data={
        "csrf_token": csrf(page.text), "adjusted": "1", "matching.caliper": "0,2 sd",
        "matching.ratio": "1", "linkage.match_threshold": "0.9"})
    assert response.status_code == 422
    assert '<a href="#matching.caliper">Enter the caliper as a number' in response.text
    assert 'value="0,2 sd"' in response.text and "<details open>" in response.text
    assert "pydantic" not in response.text and "float_parsing" not in response.text


def test_a_past_publication_date_goes_back_to_the_approval_form(lab, approved_flow):
    signed_in(lab, "reviewer")
    page = lab.client.get(f"/submissions/{approved_flow}")
    response = lab.client.post(f"/submissions/{approved_flow}/approve", headers=HTML, data={
        "csrf_token": csrf(page.text), "embargo_until": "2001-01-01"})
    assert response.status_code == 422
    assert '<a href="#embargo_until">The publication date cannot be in the past.</a>' \
        in response.text
    assert 'value="2001-01-01"' in response.text and "Approve for release" in response.text
    impossible = lab.client.post(f"/submissions/{approved_flow}/approve", headers=HTML, data={
        "csrf_token": csrf(page.text), "embargo_until": "2031-02-30"})
    assert impossible.status_code == 422 and "Enter a real date" in impossible.text
    with lab.sessions() as db:
        from jdl.service._models import Submission

        assert db.get(Submission, approved_flow).state == "awaiting_review"


# ------------------------------------------------------------------------------ feedback


def _all_stored_bytes(lab) -> bytes:
    storage = Path(lab.settings.service.storage_dir)
    return b"".join(p.read_bytes() for p in storage.rglob("*") if p.is_file())


def test_a_file_failing_one_way_names_the_column_and_lists_groups(lab, synthetic_upload,
                                                                  tmp_path):
    token = signed_in(lab, "submitter_a")
    path = refused_file(synthetic_upload, tmp_path)
    rows = len(pd.read_csv(path, dtype=str))
    with open(path, "rb") as fh:
        refused = lab.client.post("/upload", headers=HTML,
                                  data=form_data(synthetic_upload["programme"], token),
                                  files={"file": ("people.csv", fh, "text/csv")})
    assert refused.status_code == 422
    text = refused.text
    assert f"None of the {rows} rows could be accepted: in every one of them, " \
           "date_of_birth is not a real date" in text
    assert "needs at least 60 people to run" not in text and "jdl template" not in text
    # one group row for the repeated mistake, with its count and first rows
    summary = text[text.index('id="problem-summary"'):text.index("</table>",
                                                                  text.index("problem-summary"))]
    assert summary.count("date_of_birth is not a real date") == 1
    assert f">{rows}</td>" in summary and "2, 3, 4, 5, 6 and" in summary
    # every problem row downloadable; the identifiers only as sent
    download = lab.client.get("/upload/problems.csv")
    assert download.status_code == 200 and "attachment" in download.headers[
        "content-disposition"]
    lines = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    dob = [r for r in lines if r["Column"] == "date_of_birth"]
    assert len(dob) == rows and {r["What the file holds"] for r in dob} == {"1985-13-45"}
    assert [int(r["Row"]) for r in dob] == list(range(2, rows + 2))
    # nothing of the file is on disk in clear: not the names, not the CSV
    first = pd.read_csv(path, dtype=str)["surname"].iloc[0].encode()
    stored = _all_stored_bytes(lab)
    assert first not in stored and b"1985-13-45" not in stored and b"What the file" not in stored
    # another user of the same organisation cannot take it (the token is this session's)
    other = TestClient(lab.client.app)
    other.cookies.clear()
    assert other.get("/upload/problems.csv", follow_redirects=False).status_code == 303


def test_an_accepted_files_rejected_rows_are_listed_and_downloadable(lab, synthetic_upload):
    token = signed_in(lab, "submitter_a")
    with open(synthetic_upload["upload"], "rb") as fh:
        accepted = lab.client.post("/upload", follow_redirects=False,
                                   data=form_data(synthetic_upload["programme"], token),
                                   files={"file": ("u.csv", fh, "text/csv")})
    assert accepted.status_code == 303
    page = lab.client.get(accepted.headers["location"]).text
    counts = re.search(r"(\d+) rows: (\d+) accepted, (\d+) rejected", page)
    rejected = int(counts.group(3))
    assert rejected > 0 and 'id="problem-summary"' in page
    download = lab.client.get(accepted.headers["location"] + "/problems.csv")
    assert download.status_code == 200
    lines = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    rejected_rows = {r["Row"] for r in lines if r["Effect"] == "row rejected"}
    assert len(rejected_rows) == rejected
    # a warning on a rejected row is not "the row is kept"
    assert not any(r["Effect"] == "row kept" and r["Row"] in rejected_rows for r in lines)
    # the stored summary holds no cell values
    from jdl.service._models import Submission

    sid = int(accepted.headers["location"].rsplit("/", 1)[1])
    with lab.sessions() as db:
        stored = repr(db.get(Submission, sid).validation)
    values = {r["What the file holds"] for r in lines if len(r["What the file holds"]) > 3}
    assert values and not any(v in stored for v in values)
    # another organisation: not found
    signed_in(lab, "submitter_b")
    assert lab.client.get(f"/submissions/{sid}/problems.csv", headers=HTML).status_code == 404


# ------------------------------------------------------------------------------ template


def test_templates_and_guidance_come_from_the_portal(lab, tmp_path):
    from openpyxl import load_workbook

    from jdl.intake import write_template

    csv_file = lab.client.get("/template.csv")
    assert csv_file.status_code == 200
    assert csv_file.content == write_template(tmp_path / "t.csv", "csv").read_bytes()
    xlsx = lab.client.get("/template.xlsx")
    (tmp_path / "t.xlsx").write_bytes(xlsx.content)
    book = load_workbook(tmp_path / "t.xlsx")
    assert book.sheetnames == ["Submission", "Guidance"]
    guidance = lab.client.get("/guidance", headers=HTML)
    assert guidance.status_code == 200 and "What to send the lab" in guidance.text
    assert 'href="/template.xlsx"' in guidance.text and "jdl template" not in guidance.text
    signed_in(lab, "submitter_a")
    home = lab.client.get("/").text
    assert 'href="/guidance"' in home and 'href="/template.csv"' in home


def test_a_refused_file_never_sends_a_charity_to_the_command_line(lab, programme, tmp_path):
    from jdl.intake._limits import TEMPLATE_HINT

    assert "jdl template" in TEMPLATE_HINT  # what the command line still says
    token = signed_in(lab, "submitter_a")
    response = lab.client.post("/upload", headers=HTML, data=form_data(programme, token),
                               files={"file": ("people.csv", b"%PDF-1.7 not a table",
                                               "text/csv")})
    assert response.status_code == 422 and "This is a PDF document" in response.text
    assert "jdl template" not in response.text
    assert "Download the lab&#39;s template from the upload page" in response.text


def test_a_refused_uploads_problem_list_expires_after_an_hour(lab, synthetic_upload, tmp_path):
    import os

    from jdl.service._web_feedback import KEEP_SECONDS

    token = signed_in(lab, "submitter_a")
    with open(refused_file(synthetic_upload, tmp_path), "rb") as fh:
        lab.client.post("/upload", data=form_data(synthetic_upload["programme"], token),
                        files={"file": ("people.csv", fh, "text/csv")})
    kept = list((Path(lab.settings.service.storage_dir) / "incoming").glob("*problems-*.enc"))
    assert len(kept) == 1 and oct(kept[0].stat().st_mode & 0o777) == "0o600"
    assert lab.client.get("/upload/problems.csv").status_code == 200
    old = kept[0].stat().st_mtime - KEEP_SECONDS - 1
    os.utime(kept[0], (old, old))
    gone = lab.client.get("/upload/problems.csv", headers=HTML)
    assert gone.status_code == 404 and "no longer available" in gone.text
    assert not kept[0].exists()
