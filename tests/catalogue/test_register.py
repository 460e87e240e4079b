"""The public register's logic (issue 20): outcomes, the pooled summary against known answers,
the forest plot's data, the right of reply's checks; and the catalogue pages that show them
(withdrawal, replacement, the response), on hand-built publications released through the real
disclosure stage."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime

import numpy as np
import pytest

from jdl.catalogue._register import (
    MAX_RESPONSE,
    Effect,
    ResponseProblem,
    clean_response,
    count_outcomes,
    forest_groups,
    outcome_of,
    pool,
    pooled_by_type,
    register_date,
)
from tests.catalogue._build import publish_one, released

# --- the pooled summary: known answers -------------------------------------------------------

# BCG vaccine trials (Colditz et al. 1994), the standard meta-analysis example: log risk ratios
# from (vaccinated TB, vaccinated no TB, control TB, control no TB). metafor's
# rma(yi, vi, method = "DL") documents: estimate -0.7141, se 0.1787, tau^2 0.3088,
# I^2 92.12%, Q(df = 12) = 152.2330, CI -1.0644 to -0.3638.
BCG = [(4, 119, 11, 128), (6, 300, 29, 274), (3, 228, 11, 209), (62, 13536, 248, 12619),
       (33, 5036, 47, 5761), (180, 1361, 372, 1079), (8, 2537, 10, 619),
       (505, 87886, 499, 87892), (29, 7470, 45, 7232), (17, 1699, 65, 1600),
       (186, 50448, 141, 27197), (5, 2493, 3, 2338), (27, 16886, 29, 17825)]


def test_pooled_estimate_reproduces_the_published_bcg_answer():
    yi = [math.log((a / (a + b)) / (c / (c + d))) for a, b, c, d in BCG]
    se = [math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)) for a, b, c, d in BCG]
    p = pool(yi, se)
    assert p.estimate == pytest.approx(-0.7141, abs=5e-5)
    assert (p.ci_high - p.ci_low) / (2 * 1.959964) == pytest.approx(0.1787, abs=5e-5)
    assert p.tau2 == pytest.approx(0.3088, abs=5e-5)
    assert p.i2 == pytest.approx(0.9212, abs=5e-5)
    assert p.q == pytest.approx(152.2330, abs=5e-4)
    assert (p.ci_low, p.ci_high) == (pytest.approx(-1.0644, abs=5e-5),
                                      pytest.approx(-0.3638, abs=5e-5))


def test_pooled_estimate_by_hand():
    """Three effects worked by hand: w = 1/v = 100, 50, 66.67; fixed mean 0.1; Q = 3.5;
    C = 216.67 - 16944.4/216.67 = 138.46; tau² = (3.5 - 2)/C = 0.010833; I² = 1.5/3.5;
    random-effects weights 1/(v + tau²) = 48, 32.432, 38.710 give mean 0.10571, SE
    sqrt(1/119.142) = 0.091615."""
    p = pool([0.1, 0.3, -0.05], np.sqrt([0.01, 0.02, 0.015]))
    assert p.q == pytest.approx(3.5)
    assert p.tau2 == pytest.approx(0.0108333, abs=1e-7)
    assert p.i2 == pytest.approx(1.5 / 3.5)
    assert p.estimate == pytest.approx(0.105708, abs=1e-6)
    assert p.ci_high - p.estimate == pytest.approx(1.959964 * 0.091615, abs=1e-5)


def test_no_heterogeneity_truncates_tau2_at_zero_and_gives_the_fixed_effect():
    """Q below its degrees of freedom: DerSimonian-Laird's tau² is max(0, ...) = 0 and the
    pooled estimate is the inverse-variance mean (statsmodels 0.15 leaves tau² negative)."""
    p = pool([-0.08, -0.08, -0.07], [0.02, 0.02, 0.02])
    assert p.tau2 == 0 and p.i2 == 0
    assert p.estimate == pytest.approx(-0.0766667, abs=1e-7)
    assert p.ci_high - p.estimate == pytest.approx(1.959964 * 0.02 / math.sqrt(3), abs=1e-6)
    with pytest.raises(ValueError):
        pool([0.1], [0.1])
    with pytest.raises(ValueError):
        pool([0.1, 0.2], [0.1, 0.0])


def _effect(i, kind="mentoring", diff=-0.05, half=0.04, synthetic=False, result="decrease"):
    return Effect(id=i, label=f"P{i}", organisation=f"Org {i}", intervention_type=kind,
                  difference=diff, ci_low=diff - half, ci_high=diff + half, treatment_n=200,
                  result=result, unit="proportion", synthetic=synthetic)


def test_pooling_needs_three_reports_of_a_type_and_never_mixes_synthetic_with_real():
    effects = [_effect(1), _effect(2, diff=-0.02), _effect(3, diff=0.01),
               _effect(4, "employment"), _effect(5, "employment"),
               _effect(6, "housing", synthetic=True), _effect(7, "housing", synthetic=True),
               _effect(8, "housing", synthetic=True), _effect(9, "housing")]
    pooled = pooled_by_type(effects)
    assert [(p["key"], p["reports"], p["synthetic"]) for p in pooled] == [
        ("mentoring", 3, False), ("housing", 3, True)]
    assert pooled[0]["ids"] == [1, 2, 3]
    # the half-width 0.04 of each interval gives its SE: 0.04 / 1.96
    se = 0.04 / 1.959963984540054
    assert pooled[0]["estimate"] == pytest.approx(pool([-0.05, -0.02, 0.01], [se] * 3).estimate)


def test_pooled_types_are_in_alphabetical_order_not_by_effect():
    effects = [_effect(i, "youth", diff=-0.2) for i in range(3)]
    effects += [_effect(i + 3, "employment", diff=0.1) for i in range(3)]
    assert [p["key"] for p in pooled_by_type(effects)] == ["employment", "youth"]


def test_forest_groups_keep_publication_order_within_a_type():
    effects = [_effect(5, diff=0.1), _effect(2, diff=-0.3), _effect(3, "employment")]
    groups = forest_groups(effects)
    assert [g["key"] for g in groups] == ["mentoring", "employment"]  # most reports first
    assert [r["id"] for r in groups[0]["rows"]] == [2, 5]  # by id, not by effect


# --- the register's outcomes -------------------------------------------------------------------

@pytest.mark.parametrize("state, withdrawn, outcome", [
    ("published", False, "published"), ("published", True, "withdrawn"),
    ("not_answerable", False, "not_answerable"), ("declined", False, "not_answerable"),
    ("withdrawn", False, "withdrawn"), ("queued", False, "held"), ("running", False, "held"),
    ("held", False, "held"), ("awaiting_review", False, "held"), ("approved", False, "held"),
    ("failed", False, "held"), ("sent_back", False, "held"),
])
def test_every_state_has_a_register_outcome(state, withdrawn, outcome):
    assert outcome_of(state, withdrawn) == outcome


def test_counts_include_zeros_and_add_up():
    counts = count_outcomes(["published", "published", "held", "withdrawn"])
    assert counts == {"published": 2, "not_answerable": 0, "withdrawn": 1, "held": 1,
                      "requests": 4}
    with pytest.raises(ValueError):
        count_outcomes(["lost"])


def test_the_register_is_as_at_the_end_of_the_last_complete_month():
    assert register_date(date(2026, 12, 5)) == date(2026, 11, 30)
    assert register_date(date(2026, 3, 1)) == date(2026, 2, 28)
    assert register_date(date(2027, 1, 31)) == date(2026, 12, 31)


# --- the right of reply ------------------------------------------------------------------------

def test_a_response_is_cleaned_and_length_limited():
    assert clean_response("  We welcome this.\r\n\r\n\r\n\r\nThank you.\u202e ", None) == (
        "We welcome this.\n\nThank you.")
    assert clean_response(" \n ", None) is None
    assert len(clean_response("a" * MAX_RESPONSE, None)) == MAX_RESPONSE
    with pytest.raises(ResponseProblem, match="3,000 characters"):
        clean_response("a" * (MAX_RESPONSE + 1), None)


@pytest.mark.parametrize("text", [
    "Of the 7 people who did not finish, most moved away.",
    "3 of our participants found work.",
    "n = 12 completed the course",
    "We lost touch with 12 young men.",
])
def test_a_response_giving_a_small_or_unrounded_number_of_people_is_refused(text):
    with pytest.raises(ResponseProblem, match="number of people"):
        clean_response(text, released())


@pytest.mark.parametrize("text", [
    "We worked with 400 people over 3 years.",
    "Since 2019, our 23 staff have supported participants.",
    "We welcome the findings and will use them.",
])
def test_a_response_without_such_numbers_passes(text):
    assert clean_response(text, released()) == text


# --- the pages -------------------------------------------------------------------------------

def _publish(db, tmp_path, settings, name, *, org="Org A", kind="mentoring", diff=-0.08,
             when=datetime(2026, 9, 1, tzinfo=UTC), **kw):
    results = released(diff=diff, programme_name=name, intervention_type=kind)
    return publish_one(db, tmp_path / "files", results, settings=settings, organisation=org,
                       when=when, **kw)


def test_forest_plot_and_pooled_summary_on_the_summary_page(db, client, tmp_path, settings):
    ids = [_publish(db, tmp_path, settings, f"Programme {i}", org=f"Org {i}", diff=d)
           for i, d in enumerate((-0.08, -0.03, 0.02))]
    other = _publish(db, tmp_path, settings, "Lone", org="Org Z", kind="employment")
    page = client.get("/catalogue/summary").text
    svg = re.search(r'<svg id="chart-forest".*?</svg>', page, re.S).group(0)
    assert 'role="img"' in svg and "<desc" in svg and "4 published headline effects" in svg
    rows = re.findall(r'<tr data-id="(\d+)" data-type="(\w+)">', page)
    assert rows == [(str(i), "mentoring") for i in ids] + [(str(other), "employment")]
    # released values, shown per 100 people
    pubs = [json.loads(client.get("/catalogue/export.json").text)["results"]]
    diffs = {r["publication_id"]: r["proven_reoffending_rate__difference"] for r in pubs[0]}
    assert f"{diffs[ids[0]] * 100:+.1f}".replace("-", "−") in page
    pooled = re.search(r'<table id="table-pooled">.*?</table>', page, re.S).group(0)
    assert 'data-type="mentoring"' in pooled and "employment" not in pooled  # needs 3
    assert "Do not compare intervention types" in page and "I²" in pooled


def test_a_withdrawn_report_is_kept_marked_and_leaves_the_summary(db, client, tmp_path,
                                                                  settings):
    from jdl.service._catalogue import current_summary, withdraw_publication

    first = _publish(db, tmp_path, settings, "Kept")
    gone = _publish(db, tmp_path, settings, "Gone", org="Org B")
    assert current_summary(db, settings).summary["publications"] == 2
    # the lab's reason is published as written, so it gets the response's text check
    with pytest.raises(ResponseProblem, match="The reason gives a number of people"):
        withdraw_publication(db, settings, gone, "7 people were wrongly included.", None)
    with pytest.raises(ResponseProblem, match="Enter the reason"):
        withdraw_publication(db, settings, gone, "  ", None)
    db.rollback()
    withdraw_publication(db, settings, gone, "An error in the <b>data</b> was found.", None)
    page = client.get(f"/catalogue/reports/{gone}")
    assert page.status_code == 200 and 'id="withdrawn"' in page.text
    assert "An error in the &lt;b&gt;data&lt;/b&gt; was found." in page.text
    assert current_summary(db, settings).summary["publications"] == 1
    summary = client.get("/catalogue/summary").text
    assert f'data-id="{gone}"' not in summary and f'data-id="{first}"' in summary
    listing = client.get("/catalogue").text
    assert "withdrawn</span>" in listing  # still listed, marked
    row = {r["publication_id"]: r for r in client.get("/catalogue/export.json").json()[
        "results"]}[gone]
    assert row["withdrawn_on"] and row["withdrawn_reason"].startswith("An error")
    from jdl.service._catalogue import PublicationConflict

    with pytest.raises(PublicationConflict):
        withdraw_publication(db, settings, gone, "again", None)


def test_a_replacement_links_both_ways_and_counts_once(db, client, tmp_path, settings):
    from jdl.catalogue import CatalogueError
    from jdl.service._catalogue import check_supersedes, current_summary

    old = _publish(db, tmp_path, settings, "Cohort 2025")
    new = _publish(db, tmp_path, settings, "Cohort 2025-26", supersedes_id=old,
                   when=datetime(2026, 10, 3, tzinfo=UTC))
    new_page, old_page = (client.get(f"/catalogue/reports/{i}").text for i in (new, old))
    assert f'This report replaces <a href="/catalogue/reports/{old}">the one of 01 September ' \
           '2026</a>' in new_page
    assert f'Replaced by <a href="/catalogue/reports/{new}">' in old_page
    assert "03 October 2026" in old_page
    assert current_summary(db, settings).summary["publications"] == 1
    listing = client.get("/catalogue").text
    assert f'data-id="{new}"' in listing and f'data-id="{old}"' not in listing
    export = client.get("/catalogue/export.json").json()["results"]
    assert [(r["publication_id"], r["replaces_publication_id"]) for r in export] == [(new, old)]
    with pytest.raises(CatalogueError, match="already replaced"):
        check_supersedes(db, old, "Org A")
    with pytest.raises(CatalogueError, match="no published report"):
        check_supersedes(db, new, "Org B")  # another organisation's report


def test_the_response_is_shown_escaped_and_rechecked_at_publication(db, client, tmp_path,
                                                                     settings):
    from jdl.catalogue import CatalogueError

    pid = _publish(db, tmp_path, settings, "Replied",
                   response="We <script>alert(1)</script> welcome this.\nSecond line.")
    page = client.get(f"/catalogue/reports/{pid}").text
    assert "We &lt;script&gt;alert(1)&lt;/script&gt; welcome this.\nSecond line." in page
    assert "<script>alert(1)" not in page
    assert "The organisation&#39;s response" in page or "The organisation's response" in page
    with pytest.raises(CatalogueError, match="number of people"):
        _publish(db, tmp_path, settings, "Leaky", response="Only 4 people dropped out.")
    quiet = _publish(db, tmp_path, settings, "Quiet", org="Org Q")
    assert "did not add a response" in client.get(f"/catalogue/reports/{quiet}").text


def test_a_programme_name_that_looks_like_mathtext_or_markup_is_drawn_as_text(db, client,
                                                                               tmp_path,
                                                                               settings):
    """Programme names are the organisations' own text, drawn on the forest plot's axis:
    matplotlib would parse "$...$" as mathtext (and fail on a bad formula, so one name could
    take the summary page down for everyone) and the SVG must not carry markup."""
    name = r"Save $\frac{$ <b>now</b>"
    _publish(db, tmp_path, settings, name)
    page = client.get("/catalogue/summary")
    assert page.status_code == 200
    svg = re.search(r'<svg id="chart-forest".*?</svg>', page.text, re.S).group(0)
    assert r"Save $\frac{$ &lt;b&gt;now&lt;/b&gt;" in svg and "<b>" not in svg


def test_a_withdrawn_report_never_hides_a_standing_one_on_the_same_programme(db, client,
                                                                              tmp_path,
                                                                              settings):
    """Two reports on one programme (same organisation, name and period): the newer is shown
    and the older replaced; once the newer is withdrawn the older stands again."""
    from jdl.service._catalogue import current_summary, withdraw_publication

    older = _publish(db, tmp_path, settings, "Same programme", key="synthetic:one")
    newer = _publish(db, tmp_path, settings, "Same programme", key="synthetic:two",
                     when=datetime(2026, 10, 1, tzinfo=UTC))
    assert f'data-id="{older}"' not in client.get("/catalogue").text
    withdraw_publication(db, settings, newer, "Withdrawn for a test.", None)
    assert f'data-id="{older}"' in client.get("/catalogue").text
    assert current_summary(db, settings).summary["publications"] == 1
    assert 'id="withdrawn"' in client.get(f"/catalogue/reports/{newer}").text  # still kept
