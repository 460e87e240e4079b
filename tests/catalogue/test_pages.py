"""The public pages and the export: only stored publications, filters, the export equal to the
pages, CSV injection, and what publish refuses."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest

from jdl.catalogue import CatalogueError, ReportToPublish, publish
from jdl.service._catalogue_models import Publication
from tests.catalogue._build import PDF, RAW, publish_one, released
from tests.catalogue._html import Tables

ATTACK = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def three(db, settings):
    """Three publications: a significant decrease (VCS, London), an inconclusive result (public,
    Wales, published 2025) and an organisation whose name is a spreadsheet formula."""
    storage = settings.service.storage_dir
    a = publish_one(db, storage, released(n=400, diff=-0.08, p=0.01, organisation="New Leaf",
                                          programme_name="Routes to Work",
                                          sector="voluntary_community",
                                          intervention_type="employment", region="London"),
                    submission_id=11, settings=settings)
    b = publish_one(db, storage, released(n=150, diff=0.03, p=0.5, organisation="Open Door",
                                          programme_name="Housing First", sector="public",
                                          intervention_type="accommodation", region="Wales"),
                    submission_id=12, when=datetime(2025, 3, 1, tzinfo=UTC), settings=settings)
    c = publish_one(db, storage, released(n=250, diff=-0.02, p=0.6, organisation=ATTACK,
                                          programme_name="+SUM(A1:A9)", sector="private",
                                          intervention_type="mentoring", region="North West"),
                    submission_id=13, settings=settings)
    return a, b, c


def listed(client, query: str = "") -> list[str]:
    page = client.get("/catalogue" + query)
    assert page.status_code == 200, page.text
    rows = Tables(page.text).row_attrs.get("reports", [])
    return [r["data-id"] for r in rows if r.get("data-id")]


def test_only_stored_publications_are_shown_and_others_are_404(client, db, three, settings):
    a = three[0]
    assert sorted(listed(client)) == sorted(str(i) for i in three)
    assert client.get(f"/catalogue/reports/{a}").status_code == 200
    missing = max(three) + 1
    assert client.get(f"/catalogue/reports/{missing}").status_code == 404
    assert client.get(f"/catalogue/reports/{missing}/report.pdf").status_code == 404
    assert client.get("/catalogue/reports/abc").status_code == 404
    assert client.get("/catalogue/reports/²").status_code == 404
    assert client.get(f"/catalogue/reports/{a}x/report.pdf").status_code == 404
    # an approved submission still under embargo is the service's: never in the catalogue
    from jdl.service._accounts import create_org, create_user
    from jdl.service._models import Submission, SubmissionState

    org = create_org(db, "Embargoed Org")
    user = create_user(db, "Embargoed Org", "submitter", "e@example.org",
                       lab_organisation=settings.service.lab_organisation)
    db.add(Submission(organisation_id=org.id, submitted_by=user.user_id,
                      state=SubmissionState.approved, file_name="upload.csv",
                      programme={"programme_name": "Secret Programme"}, validation={},
                      embargo_until=date(2999, 1, 1)))
    db.commit()
    assert "Secret Programme" not in client.get("/catalogue").text
    assert "Embargoed Org" not in client.get("/catalogue/export.csv").text


def test_filters(client, three):
    a, b, c = three
    assert listed(client, "?sector=public") == [str(b)]
    assert listed(client, "?intervention_type=employment") == [str(a)]
    assert listed(client, "?region=Wales") == [str(b)]
    assert listed(client, "?year=2025") == [str(b)]
    assert listed(client, "?result=decrease") == [str(a)]
    assert sorted(listed(client, "?result=inconclusive")) == sorted([str(b), str(c)])
    assert listed(client, "?min_size=200&max_size=300") == [str(c)]
    assert listed(client, "?q=leaf") == [str(a)]
    assert listed(client, "?q=housing") == [str(b)]
    assert listed(client, "?sector=education") == []
    bad = client.get("/catalogue?min_size=lots&result=best")
    assert bad.status_code == 400
    assert "must be a whole number" in bad.text and "Choose a result" in bad.text


def test_report_page_and_pdf(client, three, settings):
    a = three[0]
    page = client.get(f"/catalogue/reports/{a}")
    assert "Routes to Work" in page.text and "New Leaf" in page.text
    assert "must not be compared with one another" in page.text
    rows = Tables(page.text).body("estimates")
    # the unit and the rounding are the PDF report's (per 100 people, one decimal)
    assert rows[0][0] == "One-year proven re-offending rate (per 100 people)"
    # rates from the rounded counts: 120 of 400 and 150 (152 rounded) of 400
    assert rows[0][1:4] == ["30.0", "37.5", "−7.5"]
    # limits from those released counts (Newcombe's interval: −0.1396 to −0.0095)
    assert rows[0][4] == "−14.0 to −0.9" and rows[0][6] == \
        "Significant decrease"
    pdf = client.get(f"/catalogue/reports/{a}/report.pdf")
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/pdf"


def test_findings_are_worded_as_the_report_words_them(client, three, settings):
    """The catalogue page's sentences are the report's (one name per group, "for 100 typical
    participants"), and what "inconclusive" means is said once, not after every measure."""
    from jdl.report import measure_sentences
    from jdl.service._catalogue_models import Publication

    for publication in three[:2]:
        page = client.get(f"/catalogue/reports/{publication}").text
        with client.app.state.sessions() as db:
            results = db.get(Publication, publication).results
        sentences = measure_sentences(results)
        shown = [key for key in sentences if f'class="finding" data-measure="{key}"' in page]
        assert "proven_reoffending_rate" in shown
        for key in shown:
            for sentence in sentences[key]:
                assert str(sentence) in page
        assert "treatment group" not in page.lower()
        assert "do not receive support" not in page
        # said once, under the table, not after each inconclusive measure
        assert page.count("This does not mean the programme has no effect") == 1


def test_export_matches_the_pages(client, three):
    data = client.get("/catalogue/export.json").json()
    rows = {str(r["publication_id"]): r for r in data["results"]}
    csv_rows = {r["publication_id"]: r for r in
                csv.DictReader(io.StringIO(client.get("/catalogue/export.csv").text))}
    assert set(rows) == set(csv_rows) == {str(i) for i in three}
    assert data["columns"] == list(next(iter(csv_rows.values())).keys())
    assert any("compared" in c for c in data["cautions"])
    page = Tables(client.get("/catalogue").text)
    header = page.tables["reports"][0]
    for attrs, cells in zip(page.row_attrs["reports"][1:], page.body("reports"), strict=True):
        row, line = rows[attrs["data-id"]], csv_rows[attrs["data-id"]]
        shown = dict(zip(header, cells, strict=True))
        assert shown["Programme"].removesuffix(" synthetic") == row["programme_name"]
        assert shown["Organisation"] == row["organisation"]
        assert shown["Treatment group"] == f"{row['treatment_n']:,}"
        assert shown["Published"] == row["published_on"][:4]
        labels = {"decrease": "Significant decrease", "inconclusive": "Inconclusive",
                  "increase": "Significant increase", "not_reported": "Not reported"}
        assert shown["Re-offending rate"] == labels[row["proven_reoffending_rate__result"]]
        assert line["proven_reoffending_rate__result"] == row["proven_reoffending_rate__result"]
        assert float(line["proven_reoffending_rate__difference"]) == \
            row["proven_reoffending_rate__difference"]
        report = Tables(client.get(f"/catalogue/reports/{attrs['data-id']}").text)
        rate = report.body("estimates")[0]
        assert rate[3] == f"{'−' if row['proven_reoffending_rate__difference'] < 0 else '+'}" \
            f"{abs(row['proven_reoffending_rate__difference']) * 100:.1f}"
    # the export's values are the released ones, untouched
    a = rows[str(three[0])]
    assert a["proven_reoffending_rate__ci_low"] == pytest.approx(-0.1396)
    assert a["treatment_n"] == 400 and a["synthetic"] is False
    # filtered exports carry the same filters as the list
    assert [r["publication_id"] for r in
            client.get("/catalogue/export.json?sector=public").json()["results"]] == [three[1]]


def test_csv_is_safe_against_formula_injection(client, three):
    text = client.get("/catalogue/export.csv").text
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["publication_id"] ==
               str(three[2]))
    assert row["organisation"] == "'" + ATTACK
    assert row["programme_name"] == "'+SUM(A1:A9)"
    assert float(row["proven_reoffending_rate__difference"]) < 0  # numbers stay numbers
    assert client.get("/catalogue/export.json").json()["results"][0]["organisation"] == ATTACK
    assert '">=HYPERLINK(&#34;' in client.get("/catalogue").text  # escaped on the page


def test_publish_is_idempotent_and_refuses_unreleased_results(db, settings, tmp_path):
    storage = settings.service.storage_dir
    results = released()
    first = publish_one(db, storage, results, submission_id=5, settings=settings)
    again = publish_one(db, storage, results, submission_id=5, settings=settings)
    assert first == again and db.query(Publication).count() == 1
    assert len(list((storage / "catalogue").glob("*.pdf"))) == 1
    raw = json.loads(RAW.read_text())  # lab-internal aggregates, never released
    with pytest.raises(CatalogueError, match="disclosure control"):
        publish_one(db, storage, raw, submission_id=6, settings=settings)
    internal = tmp_path / "job" / "internal"
    internal.mkdir(parents=True)
    (internal / "report.pdf").write_bytes(PDF)
    (tmp_path / "not.pdf").write_text("hello")
    for path, message in ((internal / "report.pdf", "lab-internal"),
                          (tmp_path / "not.pdf", "no report PDF")):
        report = ReportToPublish(7, "Org", results["programme"], results, path, None,
                                 datetime.now(UTC))
        with pytest.raises(CatalogueError, match=message):
            publish(report, storage, settings)  # the check needs no database
    assert db.query(Publication).count() == 1


def test_empty_catalogue(client):
    assert "No reports have been published yet." in client.get("/catalogue").text
    page = client.get("/catalogue/summary")
    # no charts of nothing (empty bars drew a legend in one colour and a negative axis)
    assert page.status_code == 200 and "No reports have been published yet" in page.text
    assert page.text.count('role="img"') == 0
    assert client.get("/catalogue/export.json").json()["results"] == []
    assert client.get("/catalogue/export.csv").text.startswith("publication_id,")


def test_export_values_are_the_released_values(client, db, three):
    data = client.get("/catalogue/export.json").json()
    for row in data["results"]:
        released = db.get(Publication, row["publication_id"]).results
        for m in released["headline_measures"]:
            for field in ("treatment", "comparison", "difference", "ci_low", "ci_high",
                          "p_value"):
                assert row[f"{m}__{field}"] == released["measures"][m][field]
        assert row["treatment_n"] == released["counts"]["treatment_n"]


def test_pages_and_export_follow_a_change_of_rules(app, client, three):
    assert listed(client, "?result=decrease") == [str(three[0])]
    app.state.settings.inference = app.state.settings.inference.model_copy(
        update={"alpha": 0.001})  # p = 0.01 is no longer significant
    assert listed(client, "?result=decrease") == []
    data = client.get("/catalogue/export.json").json()
    assert data["significance_rule"]["alpha"] == 0.001
    assert {r["proven_reoffending_rate__result"] for r in data["results"]} == {"inconclusive"}


def test_every_catalogue_output_passes_the_disclosure_text_check(client, db, settings):
    """The example's raw counts (347 treated, 126 comparison re-offenders...) are released
    rounded; no page or export may show a raw count or a small count in a count context."""
    import copy

    from jdl.disclosure import check_released_text, release

    rel = release(copy.deepcopy(json.loads(RAW.read_text())))
    pub = publish_one(db, settings.service.storage_dir, rel.results, submission_id=1,
                      settings=settings)
    for url in ("/catalogue", f"/catalogue/reports/{pub}", "/catalogue/summary",
                "/catalogue/export.csv", "/catalogue/export.json"):
        text = client.get(url).text.replace('<td data-label="Published">2026</td>',
                                            "")  # the year published
        assert check_released_text(text, rel) == [], url
    assert "347" not in client.get(f"/catalogue/reports/{pub}").text


@pytest.mark.parametrize(("unit", "value", "shown", "heading"), [
    ("proportion", 0.72, "72.0", "per 100 people"),
    ("per person", 0.72, "72.0", "re-offences per 100 people"),
    ("per person", -0.0349, "−3.5", "re-offences per 100 people"),
    ("days", 123.4, "123", "days")])
def test_catalogue_numbers_are_the_reports(unit, value, shown, heading):
    """Issue 21: the page showed 0.72 where its PDF said 72.0 per 100 people. Both now come
    from the report's scale and rounding."""
    from jdl.report._values import Released, fmt_number
    from jdl.report._wording import scale_for
    from jdl.service._web_catalogue import format_difference, format_unit, format_value

    scale = scale_for({"unit": unit})
    in_pdf = str(fmt_number(Released({}), value, ("m",), scale=scale.factor,
                            digits=scale.digits, signed=value < 0))
    formatted = format_difference(value, unit) if value < 0 else format_value(value, unit)
    assert formatted == shown == in_pdf.replace("-", "−")
    assert format_unit(unit) == heading == scale.unit
