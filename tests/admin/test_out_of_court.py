"""Out-of-court and lower-court index events (cautions, fines, discharges): one definition per
index type, what the generator writes (index events since 1.4, calibrated since 1.5), and that
the programme around them leaves every other programme as it would be without it."""

from __future__ import annotations

import json
from typing import get_args

import pandas as pd
import pyarrow.parquet as pq

from jdl.admin.contract import INDEX_EVENTS, INDEX_TYPES
from jdl.admin.summary import headline
from jdl.admin.synth import DEFAULT_PROGRAMMES, generate
from jdl.cohort import INDEX_TYPES_BY_SETTING
from jdl.core import index_types
from jdl.engines import open_admin
from jdl.intake._programme import Setting

OUT_OF_COURT = ("caution", "fine", "discharge")
# MoJ, Proven reoffending statistics: July to September 2019 (gov.uk, published 29 July 2021):
# adults 25.6%; adults released from custody or starting a court order 33.4%. The rest of the
# adult cohort (cautions, fines, discharges and other court disposals) therefore re-offends at
# less than 25.6%: the all-adult rate is a weighted mean of the two groups.
PUBLISHED_ALL_ADULTS_JUL_SEP_2019 = 0.256
PUBLISHED_CUSTODY_OR_ORDER_JUL_SEP_2019 = 0.334
# The same era and measure as the generator's sentence rates (42.5%, 33.6%, 2011-12): adults,
# April 2011 to March 2012, 25.3% (132,383 of 524,132; MoJ overview table before the 2017
# methodology, as recreated in cat-lord/criminal_justice). The same argument bounds the others.
PUBLISHED_ALL_ADULTS_APR_2011_MAR_2012 = 0.253


def test_every_list_of_index_types_and_settings_is_the_one_definition():
    assert tuple(t.code for t in index_types.INDEX_TYPE_DEFINITIONS) == INDEX_TYPES
    assert dict(zip(INDEX_EVENTS.column_names, INDEX_EVENTS.columns, strict=True))[
        "index_type"].allowed == INDEX_TYPES
    assert get_args(Setting) == index_types.SETTINGS  # the programme form's choices
    assert INDEX_TYPES_BY_SETTING is index_types.INDEX_TYPES_BY_SETTING
    assert {t for ts in INDEX_TYPES_BY_SETTING.values() for t in ts} == set(INDEX_TYPES)
    # only a release counts its own day (the MoJ rule the measure and the generator share)
    assert [t.code for t in index_types.INDEX_TYPE_DEFINITIONS if t.counts_index_day] == [
        "custody_release"]


def test_report_wording_comes_from_the_definitions():
    assert index_types.follow_up_start("custody") == "release from custody"
    assert index_types.follow_up_start("out_of_court") == "a caution or conditional caution"
    assert index_types.follow_up_start("fine_or_discharge") == (
        "a fine at court or an absolute or conditional discharge at court")
    every = index_types.follow_up_start(None)
    assert all(t.start in every for t in index_types.INDEX_TYPE_DEFINITIONS)
    from jdl.report._glossary import glossary_term

    assert every in glossary_term("proven-reoffending").definition


def test_disposal_index_events_are_the_caution_or_conviction(synthetic_data_dir):
    with open_admin(synthetic_data_dir) as e:
        by_type = e.df("""SELECT index_type, count(*) AS n FROM index_events GROUP BY 1""")
        assert set(by_type["index_type"]) == set(INDEX_TYPES)
        assert (by_type["n"] > 1000).all(), by_type
        wrong = e.scalar("""
            SELECT count(*) FROM index_events ie JOIN offences o USING (offence_id)
            WHERE ie.index_type IN ('caution', 'fine', 'discharge')
              AND NOT (ie.index_date = o.outcome_date AND ie.sentence_start = o.outcome_date
                       AND ie.disposal = ie.index_type AND o.disposal = ie.index_type
                       AND ie.person_id = o.person_id)""")
        assert wrong == 0
        # one index event per case: two of a person on one day and of one type only when two
        # cases are disposed of together (rare, as for court orders since generator 1.0)
        twice = e.scalar("""SELECT count(*) FROM (SELECT person_id, index_date, index_type
                            FROM index_events WHERE index_type IN ('caution', 'fine', 'discharge')
                            GROUP BY ALL HAVING count(*) > 1)""")
        assert twice < 0.001 * by_type["n"].sum()


def test_out_of_court_programme_is_planted_around_cautions(synthetic_data_dir):
    truth = json.loads((synthetic_data_dir / "truth" / "programmes.json").read_text())
    spec = next(p for p in truth["programmes"] if p["name"] == "crossroads-diversion")
    assert spec["setting"] == "out_of_court" and spec["participants"] > 200
    assert spec["true_effect"]["att_rate"] < 0  # hazard ratio 0.8
    parts = pq.read_table(synthetic_data_dir / "truth" / "participants.parquet").to_pandas()
    mine = parts[parts["programme"] == "crossroads-diversion"]
    assert set(mine["index_type"]) == {"caution"}
    assert (mine["conviction_date"] == mine["index_date"]).all()  # the caution's own date
    assert (mine["intervention_start"] >= mine["index_date"]).all()


def _participants(directory) -> pd.DataFrame:
    parts = pq.read_table(directory / "truth" / "participants.parquet").to_pandas()
    return parts.drop(columns=["event_id"]).reset_index(drop=True)


def test_the_out_of_court_programme_leaves_the_other_programmes_as_they_were(tmp_path):
    """The out-of-court programme draws from its own random stream, after the others: with or
    without it, every other programme recruits the same people with the same dates, outcomes
    and truth (event ids may differ: the recruits' later records are re-simulated). Generator
    1.4 added it this way so that the 1.3 programmes were unchanged; 1.5 keeps the property."""
    old = DEFAULT_PROGRAMMES[:-1]
    assert not any(p.setting == "out_of_court" for p in old)
    generate(tmp_path / "without", 12_000, 5, programmes=old, workers=1)
    generate(tmp_path / "with", 12_000, 5, workers=1)
    without, with_ = _participants(tmp_path / "without"), _participants(tmp_path / "with")
    kept = with_[with_["programme"] != "crossroads-diversion"].reset_index(drop=True)
    assert len(kept) > 1000 and len(with_) > len(kept)
    pd.testing.assert_frame_equal(kept, without)
    truth = {p["name"]: p for p in json.loads(
        (tmp_path / "with" / "truth" / "programmes.json").read_text())["programmes"]}
    for p in json.loads((tmp_path / "without" / "truth" / "programmes.json").read_text())[
            "programmes"]:
        assert truth[p["name"]] == p


def test_generated_disposal_rates_fall_below_the_sentences(calibration_data_dir):
    """What the career model gives the new index types (adults, one-year follow-up): less
    re-offending after a caution, fine or discharge than after a court order or a release, as
    in the MoJ's statistics (their offenders have shorter records)."""
    rates = _rates(calibration_data_dir)
    rate = rates["reoffending_rate"]
    for t in OUT_OF_COURT:
        assert rates.loc[t, "events"] > 5_000
        assert rate[t] < rate["court_order"] < rate["custody_release"], rates
    assert rate["caution"] < min(rate["fine"], rate["discharge"])


def _rates(directory) -> pd.DataFrame:
    with open_admin(directory) as e:
        return headline(e, "2024-12-31").reoffending.set_index("index_type")


def _combined(rates: pd.DataFrame, types) -> float:
    """The rate of several index types together (weighted by events, as the MoJ's is by
    offenders)."""
    mine = rates.loc[list(types)]
    return float((mine["reoffending_rate"] * mine["events"]).sum() / mine["events"].sum())


def test_disposal_rates_meet_the_published_level(calibration_data_dir):
    """Generator 1.5's calibration (docs/data-contract.md, Calibration). The published all-adult
    rate (25.6%) is a mean of releases and court orders (33.4%) and the other disposals, so those
    others re-offend at less than 25.6%; and at less than 25.6/33.4 of the rate after releases
    and court orders, a ratio free of the year's level (the generator's sentence rates are
    2011-12's, 42.5% and 33.6%, higher than 2019's). Each of the three is held below the bound
    too, and the caution lowest. The 2011-12 all-adult rate (25.3%), of the sentence rates' own
    era, bounds the three the same way."""
    rates = _rates(calibration_data_dir)
    rate = rates["reoffending_rate"]
    combined = _combined(rates, OUT_OF_COURT)
    sentences = _combined(rates, ("custody_release", "court_order"))
    assert combined < PUBLISHED_ALL_ADULTS_JUL_SEP_2019, rates
    assert combined < PUBLISHED_ALL_ADULTS_APR_2011_MAR_2012, rates
    assert combined / sentences < (PUBLISHED_ALL_ADULTS_JUL_SEP_2019
                                   / PUBLISHED_CUSTODY_OR_ORDER_JUL_SEP_2019), rates
    for t in OUT_OF_COURT:
        assert rate[t] < PUBLISHED_ALL_ADULTS_JUL_SEP_2019, rates
    assert rate["caution"] < min(rate["fine"], rate["discharge"])
    # not calibrated into nothing: first offenders cautioned still re-offend (about one in six)
    assert rate["caution"] > 0.10, rates


def test_the_out_of_court_programme_has_its_participants_at_the_calibration_size(
        calibration_data_dir):
    """Fewer cautions than generator 1.4 made (none after three offences, bar a few): the
    programme around them still recruits its full 900, not capped by the 20%-of-candidates
    rule, on the calibration population."""
    truth = json.loads((calibration_data_dir / "truth" / "programmes.json").read_text())
    spec = next(p for p in truth["programmes"] if p["name"] == "crossroads-diversion")
    planned = next(p for p in DEFAULT_PROGRAMMES if p.name == "crossroads-diversion")
    assert spec["participants"] == planned.size


def test_the_records_summary_shows_a_dash_where_no_rate_is_published(synthetic_data_dir,
                                                                      monkeypatch):
    """``jdl synth`` / ``jdl demo`` print the generated rates beside the published ones; the
    out-of-court index types have no published figure to show, and the table says so with a
    dash rather than "nan%"."""
    from rich.console import Console

    import jdl.admin.cli as admin_cli

    out = Console(record=True, width=120)
    monkeypatch.setattr(admin_cli, "console", out)
    admin_cli.print_summary(synthetic_data_dir)
    text = out.export_text()
    assert "nan" not in text
    caution = next(line for line in text.splitlines() if "caution" in line)
    assert "–" in caution
