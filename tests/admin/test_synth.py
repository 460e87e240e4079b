"""The synthetic generator: determinism, internal consistency, truth files, calibration."""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest

from jdl.admin.summary import PUBLISHED_RATES, headline
from jdl.admin.synth import DEFAULT_PROGRAMMES, generate
from jdl.engines import open_admin


def _table_digest(path) -> str:
    con = duckdb.connect()
    return con.execute(
        f"SELECT sum(hash(COLUMNS(*))) FROM read_parquet('{path.as_posix()}/*.parquet')"
    ).fetchall()


def test_same_seed_same_data_and_other_seed_differs(tmp_path):
    """Deterministic for a seed, whatever the number of worker processes."""
    a = generate(tmp_path / "a", people=3000, seed=5, chunk_size=1500, workers=2)
    b = generate(tmp_path / "b", people=3000, seed=5, chunk_size=1500, workers=1)
    c = generate(tmp_path / "c", people=3000, seed=6, chunk_size=1500, workers=1)
    assert a["data_version"] == b["data_version"] != c["data_version"]
    for table in ("people", "offences", "index_events", "employment_spells", "assessments"):
        da = _table_digest(tmp_path / "a" / "parquet" / table)
        assert da == _table_digest(tmp_path / "b" / "parquet" / table)
        assert da != _table_digest(tmp_path / "c" / "parquet" / table)


def _fingerprints(data_dir) -> dict[str, str]:
    """A short digest of each table's columns as generator 1.5 wrote them."""
    import hashlib

    con = duckdb.connect()
    out = {}
    for table, cols, key in (
        ("people", "person_id, pnc_id, prison_number, forename, surname, date_of_birth, sex, "
                   "ethnicity, nationality, region", "person_id"),
        ("aliases", "person_id, forename, surname, date_of_birth", "ALL"),
        ("offences", "offence_id, person_id, offence_date, outcome_date, offence_code, "
                     "disposal, sentence_days", "offence_id"),
        ("index_events", "event_id, person_id, index_date, index_type", "event_id"),
        ("assessments", "person_id, assessment_date, risk_score", "ALL"),
    ):
        rows = con.execute(
            f"SELECT {cols} FROM read_parquet('{(data_dir / 'parquet' / table).as_posix()}"
            f"/*.parquet') ORDER BY {key}").fetchall()
        out[table] = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    return out


def test_middle_names_leave_every_other_draw_as_it_was(tmp_path):
    """Generator 1.6 draws middle names from a stream of their own: everything else is what
    generator 1.5 wrote for the same seed and size (digests taken from 1.5's output, commit
    9623307; a change of the name lists, e.g. a Faker upgrade, changes them too)."""
    generate(tmp_path / "g", people=3000, seed=5, chunk_size=1500, workers=1)
    assert _fingerprints(tmp_path / "g") == {
        "people": "1128c1cb53ccb9fb", "aliases": "2bd6880dd75981dc",
        "offences": "e593a2c7316d2caa", "index_events": "d5c4a8a130947bd6",
        "assessments": "dc503ac850761505",
    }


def test_middle_names_at_the_documented_rates(synthetic_data_dir):
    from jdl.admin.synth._names import MIDDLE_NAME_SHARE, TWO_MIDDLE_NAMES_SHARE, name_pools

    with open_admin(synthetic_data_dir) as e:
        people = e.df("SELECT forename, middle_names, sex FROM people")
    n = len(people)
    parts = people["middle_names"].dropna().str.split(" ")
    assert abs(len(parts) / n - MIDDLE_NAME_SHARE) < 0.015
    assert abs((parts.map(len) == 2).sum() / n - TWO_MIDDLE_NAMES_SHARE) < 0.01
    # two names at most (a pool name may itself have two words: the Polish "Anna Maria")
    assert (parts.map(len) <= 2).mean() > 0.999
    # never the forename, never twice the same
    forenames = people.loc[parts.index, "forename"]
    assert not any(f in p for f, p in zip(forenames, parts, strict=True))
    assert all(len(set(p)) == len(p) for p in parts)
    # from the forename pools of the person's sex
    pools = name_pools().forenames
    for sex in ("M", "F"):
        pool = {word for g in ("british", "asian", "polish") for name in pools[(g, sex)].names
                for word in name.split(" ")}
        mine = parts[people.loc[parts.index, "sex"] == sex].explode()
        assert set(mine) <= pool, sex


def test_register_is_consistent(synthetic_data_dir):
    with open_admin(synthetic_data_dir) as e:
        assert e.scalar("SELECT count(*) FROM people") == 30_000
        assert e.scalar("SELECT count(DISTINCT pnc_id) FROM people") == 30_000
        # everyone on the register has a proven offence
        assert e.scalar("SELECT count(*) FROM people ANTI JOIN offences USING (person_id)") == 0
        assert e.scalar("SELECT count(*) FROM offences WHERE outcome_date < offence_date") == 0
        assert e.scalar("SELECT max(outcome_date) FROM offences") <= __import__("datetime").date(
            2024, 12, 31
        )
        # custody releases follow custodial sentences of the stated length (half served)
        bad = e.scalar(
            """SELECT count(*) FROM index_events e JOIN offences o USING (offence_id)
               WHERE e.index_type = 'custody_release' AND (o.disposal <> 'custody'
                 OR e.index_date <> o.outcome_date + CAST(ceil(o.sentence_days / 2) AS INT))"""
        )
        assert bad == 0
        assert (
            e.scalar(
                """SELECT count(*) FROM index_events e JOIN offences o USING (offence_id)
               WHERE e.index_type = 'court_order' AND (o.disposal NOT IN
                 ('community', 'suspended') OR e.index_date <> o.outcome_date)"""
            )
            == 0
        )
        # people with a custodial sentence have a prison number, others none
        assert (
            e.scalar(
                """SELECT count(*) FROM people p WHERE (prison_number IS NOT NULL) <>
               EXISTS (SELECT 1 FROM offences o WHERE o.person_id = p.person_id
                       AND o.disposal = 'custody')"""
            )
            == 0
        )
        # no employment while in custody
        assert (
            e.scalar(
                """SELECT count(*) FROM employment_spells s JOIN index_events e USING (person_id)
               WHERE e.index_type = 'custody_release'
                 AND s.start_date > e.sentence_start AND s.start_date < e.index_date"""
            )
            == 0
        )
        # common names collide with dates of birth, as in real registers
        shared = e.scalar(
            """SELECT count(*) FROM (SELECT surname, date_of_birth FROM people
               GROUP BY ALL HAVING count(*) > 1)"""
        )
        assert shared > 10  # ~N²·Σp²/(2·days): about 15 expected among 30,000 people


def test_truth_files_match_the_records(synthetic_data_dir):
    truth = json.loads((synthetic_data_dir / "truth" / "programmes.json").read_text())
    assert {p["name"] for p in truth["programmes"]} == {s.name for s in DEFAULT_PROGRAMMES}
    participants = synthetic_data_dir / "truth" / "participants.parquet"
    assert pq.read_metadata(participants).num_rows == sum(
        p["participants"] for p in truth["programmes"]
    )
    with open_admin(synthetic_data_dir) as e:
        path = participants.as_posix()
        # each participant's index event exists with the recorded date and type
        missing = e.scalar(
            f"""SELECT count(*) FROM read_parquet('{path}') t ANTI JOIN index_events e
                ON e.event_id = t.event_id AND e.person_id = t.person_id
                AND e.index_date = t.index_date AND e.index_type = t.index_type"""
        )
        assert missing == 0
        # the recorded (treated) outcome is what the offences table says, counted as the
        # proven re-offending measure counts (the day of release from custody included)
        mismatched = e.scalar(
            f"""WITH o AS (
                  SELECT t.person_id, t.reoffences_treated, count(o.offence_id) AS n
                  FROM read_parquet('{path}') t LEFT JOIN offences o
                    ON o.person_id = t.person_id
                   AND o.offence_date >= t.index_date
                       + CASE WHEN t.index_type = 'custody_release' THEN 0 ELSE 1 END
                   AND o.offence_date <= t.index_date + 365
                   AND o.outcome_date <= t.index_date + 548
                  GROUP BY ALL)
                SELECT count(*) FROM o WHERE n <> reoffences_treated"""
        )
        assert mismatched == 0
        # nobody is in two programmes; interventions are dated sensibly
        assert (
            e.scalar(f"SELECT count(*) - count(DISTINCT person_id) FROM read_parquet('{path}')")
            == 0
        )
        assert (
            e.scalar(
                f"""SELECT count(*) FROM read_parquet('{path}')
                WHERE intervention_end < intervention_start"""
            )
            == 0
        )


def test_true_effects_follow_the_hazard_ratios(synthetic_data_dir):
    truth = json.loads((synthetic_data_dir / "truth" / "programmes.json").read_text())
    for p in truth["programmes"]:
        effect = p["true_effect"]
        if not p["participants"]:
            continue
        if p["hazard_ratio"] == 1.0:
            assert abs(effect["att_rate"]) < 0.02, p["name"]
        elif p["hazard_ratio"] < 1:
            assert effect["att_rate"] < 0, p["name"]
        else:
            assert effect["att_rate"] > 0, p["name"]


def test_selection_into_programmes_is_confounded(synthetic_data_dir):
    """Participants differ from other people with index events on what predicts
    re-offending — so a naive comparison is biased (the lab's reason to match)."""
    path = (synthetic_data_dir / "truth" / "participants.parquet").as_posix()
    with open_admin(synthetic_data_dir) as e:
        prior = e.df(
            f"""SELECT t.programme IS NOT NULL AS participant, avg(n) AS mean_prior FROM (
                  SELECT e.event_id, e.person_id, count(o.offence_id) AS n
                  FROM index_events e LEFT JOIN offences o ON o.person_id = e.person_id
                   AND o.outcome_date < e.index_date
                  WHERE e.index_type = 'custody_release'
                    AND e.index_date BETWEEN DATE '2015-01-01' AND DATE '2018-12-31'
                  GROUP BY ALL) x
                LEFT JOIN (SELECT * FROM read_parquet('{path}')
                           WHERE programme = 'new-leaf-employment') t USING (event_id)
                GROUP BY 1 ORDER BY 1"""
        )
    non, part = prior["mean_prior"].tolist()
    assert part < 0.85 * non  # New Leaf recruits people with shorter records


def test_calibrated_to_published_reoffending_rates(calibration_data_dir):
    with open_admin(calibration_data_dir) as e:
        rates = headline(e, "2024-12-31").reoffending.set_index("index_type")
    for index_type, published in PUBLISHED_RATES.items():
        assert rates.loc[index_type, "reoffending_rate"] == pytest.approx(published, abs=0.02)
        assert 2.0 < rates.loc[index_type, "reoffences_per_reoffender"] < 5.0
        assert 100 < rates.loc[index_type, "mean_days_to_first"] < 180


def test_a_case_under_way_at_the_index_date_is_kept_whole(calibration_data_dir):
    """A participant's future is the cases *begun* after the index date. The generator used to
    cut a case under way at the index date (offences committed over a few weeks, sentenced
    together) and drop its later offences from the recorded future while the untreated future
    kept them, so programmes with no effect appeared to cut re-offending. Participants must
    have such cases about as often as everyone else with an index event."""
    path = (calibration_data_dir / "truth" / "participants.parquet").as_posix()
    with open_admin(calibration_data_dir) as e:
        shares = e.df(
            f"""WITH cases AS (
                  SELECT person_id, outcome_date, min(offence_date) AS first,
                         max(offence_date) AS last
                  FROM offences GROUP BY ALL),
                events AS (
                  SELECT e.event_id, e.person_id, e.index_date,
                         t.person_id IS NOT NULL AS participant
                  FROM index_events e
                  LEFT JOIN read_parquet('{path}') t ON t.event_id = e.event_id),
                flagged AS (
                  SELECT ev.event_id, any_value(ev.participant) AS participant,
                         count(c.person_id) > 0 AS straddling
                  FROM events ev LEFT JOIN cases c ON c.person_id = ev.person_id
                   AND c.first <= ev.index_date AND c.last > ev.index_date
                  GROUP BY ev.event_id)
                SELECT participant, count(*) AS events, avg(straddling::INT) AS straddling
                FROM flagged GROUP BY participant"""
        ).set_index("participant")
    assert shares.loc[True, "events"] > 5000
    participant, everyone = shares.loc[True, "straddling"], shares.loc[False, "straddling"]
    assert participant > 0.01
    assert abs(participant - everyone) < 0.5 * everyone, shares


@pytest.mark.slow
def test_a_programme_without_effect_leaves_reoffending_as_it_was(tmp_path):
    """Every programme planted with hazard ratio 1: the participants' recorded futures (lived
    anew from the index date) must re-offend as their untreated futures (the career they had)
    do. Generator 1.1 differed by -0.4 to -1.4 points (a case cut at the index date, no
    re-offending on the day of release, offending allowed before a pending custodial
    sentence), which made programmes with no effect look as if they worked."""
    import dataclasses

    import numpy as np

    programmes = tuple(dataclasses.replace(p, hazard_ratio=1.0) for p in DEFAULT_PROGRAMMES)
    diffs = []
    for seed in (21, 22, 23, 24):
        out = tmp_path / str(seed)
        generate(out, people=100_000, seed=seed, workers=2, programmes=programmes)
        t = pq.read_table(out / "truth" / "participants.parquet").to_pandas()
        diffs.append((t["reoffences_treated"] > 0).astype(int)
                     - (t["reoffences_untreated"] > 0).astype(int))
    d = np.concatenate(diffs)
    se = d.std(ddof=1) / np.sqrt(len(d))
    assert len(d) > 30_000
    assert abs(d.mean()) < 3 * se, (d.mean(), se)
