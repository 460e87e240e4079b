"""One comparison pool for the cohorts of every linkage threshold (issue 18's speed target).

The linkage-threshold sensitivity rows (issue 19) analyse the people linked at two other
thresholds. Their comparison pools differ from the main one only in the people excluded and the
strata kept, so the evaluation scans the national records once and takes each cohort's pool from
that scan. These tests hold it to the pool each cohort would get on its own: the same rows, in
the same order, with the same types.
"""

from __future__ import annotations

import pandas as pd
import pytest

from jdl.admin.records import open_records
from jdl.admin.synth import make_submission
from jdl.cohort import analysis_frame, build_pool, restrict_pool
from jdl.core.config import Settings
from jdl.intake import load_programme, validate_submission
from jdl.linkage import link_submission, other_thresholds

PROGRAMME = "new-leaf-employment"


@pytest.fixture(scope="module")
def linked_upload(synthetic_data_dir, tmp_path_factory):
    """A harsh-mix upload (typing errors, missing identifiers), so that the other thresholds
    link other people; validated and linked once."""
    paths = make_submission(synthetic_data_dir, PROGRAMME,
                            tmp_path_factory.mktemp("upload") / f"{PROGRAMME}.csv",
                            errors="harsh", seed=5)
    settings = Settings()
    prog = load_programme(paths["programme"])
    submission = validate_submission(paths["upload"], prog, settings.intake)
    linked = link_submission(submission.accepted_rows(), synthetic_data_dir,
                             settings=settings.linkage)
    return prog, submission, linked, settings


def test_restrict_pool_gives_the_pool_built_for_those_people_and_strata(synthetic_data_dir):
    with open_records(synthetic_data_dir) as engine:
        everyone = build_pool(engine)
        strata = sorted({(str(t), int(y)) for t, y in
                         everyone[["index_type", "index_year"]].itertuples(index=False)})
        kept = strata[1::2]  # every other stratum
        excluded = sorted(everyone["person_id"].drop_duplicates().sample(
            200, random_state=1).astype("int64"))
        direct = build_pool(engine, exclude_person_ids=excluded, strata=kept)
    taken = restrict_pool(everyone, exclude_person_ids=excluded, strata=kept)
    assert 0 < len(taken) < len(everyone)
    pd.testing.assert_frame_equal(taken, direct)
    # nothing to leave out: the same frame; no strata: no rows (as build_pool's strata=[])
    assert restrict_pool(everyone) is everyone
    assert restrict_pool(everyone, strata=[]).empty


def test_every_thresholds_frame_from_the_shared_pool_is_its_own(linked_upload,
                                                                synthetic_data_dir):
    from jdl.evaluation._evaluate import _cohort_and_pool, _cohorts_and_pool

    prog, submission, linked, settings = linked_upload
    rows = submission.accepted_rows()
    (_cohort, frame), relinked = _cohorts_and_pool(synthetic_data_dir, linked, rows, prog.setting,
                                                  submission, settings)
    _, alone = _cohort_and_pool(synthetic_data_dir, linked.link_table(), rows, prog.setting,
                                submission, settings)
    pd.testing.assert_frame_equal(frame, alone)
    assert relinked is not None
    assert set(relinked.cohorts) == set(other_thresholds(linked.threshold))
    built = {t: c for t, c in relinked.cohorts.items() if c is not None
             and not isinstance(c, Exception)}
    assert built, "no other threshold linked other people: the test would prove nothing"
    for threshold, other in built.items():
        links = linked.at_threshold(threshold).link_table()
        assert not links.equals(linked.link_table())
        _, own = _cohort_and_pool(synthetic_data_dir, links, rows, prog.setting, submission,
                                  settings)
        pd.testing.assert_frame_equal(relinked.frame(other), own)
        pd.testing.assert_frame_equal(relinked.frame(other),
                                      analysis_frame(other, own[own["treated"] == 0]
                                                     .reset_index(drop=True)))


def test_threshold_rows_match_with_the_design_the_main_analysis_chose(linked_upload,
                                                                      synthetic_data_dir,
                                                                      monkeypatch):
    """Under the power-first design the threshold rows use the main analysis's chosen ratio
    (one match each, the score refitted on their people) instead of choosing again: a row then
    differs from the main analysis in the people linked only."""
    import jdl.evaluation._evaluate as ev
    from jdl.inference import Sensitivity

    prog, submission, linked, settings = linked_upload
    (_cohort, frame), relinked = ev._cohorts_and_pool(
        synthetic_data_dir, linked, submission.accepted_rows(), prog.setting, submission,
        settings)
    assert relinked is not None and any(c is not None for c in relinked.cohorts.values())
    from jdl.matching import prepare_covariates, restrict_to_shared_levels, varying_covariates

    spec = ev.covariate_spec(tuple(settings.matching.exact))
    frame, _ = restrict_to_shared_levels(prepare_covariates(frame, spec), spec.categorical)
    design = ev._design(frame, varying_covariates(frame, spec), list(spec.exact), settings, 1)
    assert design.choice is not None
    effects = ev._effects(design.result, settings)
    used: list[tuple[int, bool]] = []
    real_match = ev._match

    def recording_match(*args, **kwargs):
        result = real_match(*args, **kwargs)
        used.append((int(result.spec.ratio), bool(result.spec.replace)))
        return result

    def no_second_choice(*_args, **_kwargs):
        raise AssertionError("a threshold row chose its design again")

    monkeypatch.setattr(ev, "_match", recording_match)
    monkeypatch.setattr(ev, "_design", no_second_choice)
    empty = Sensitivity(specifications=(), e_value=None, rosenbaum=None)
    out = ev._with_linkage_thresholds(empty, linked, effects, synthetic_data_dir, submission,
                                      prog.setting, settings, 1, relinked=relinked,
                                      design=design)
    estimated = [row for row in out.specifications if row.note is None]
    assert len(out.specifications) == 2 and estimated
    assert used and set(used) == {(design.choice.ratio, True)}


@pytest.fixture()
def records_copy(synthetic_data_dir, tmp_path):
    """The records' database and manifest in a directory of their own (preparing writes beside
    the records; the shared fixture's directory must stay unprepared for the other tests)."""
    import shutil

    for name in ("admin.duckdb", "manifest.json"):
        shutil.copy(synthetic_data_dir / name, tmp_path / name)
    return tmp_path


def test_a_prepared_pool_reads_as_the_pool_built_for_those_people_and_strata(records_copy):
    from jdl.cohort import prepare_pool

    with open_records(records_copy) as engine:
        path = prepare_pool(engine)
        assert path is not None and path.exists()
        assert prepare_pool(engine) == path  # prepared once: nothing to do
        built = build_pool(engine, use_prepared=False)
        read = build_pool(engine)
        strata = sorted({(str(t), int(y)) for t, y in
                         built[["index_type", "index_year"]].itertuples(index=False)})[::2]
        excluded = sorted(built["person_id"].drop_duplicates().sample(
            300, random_state=2).astype("int64"))
        direct = build_pool(engine, exclude_person_ids=excluded, strata=strata,
                            use_prepared=False)
        prepared = build_pool(engine, exclude_person_ids=excluded, strata=strata)
        none = build_pool(engine, strata=[])
    pd.testing.assert_frame_equal(read, built)
    assert 0 < len(direct) < len(built)
    pd.testing.assert_frame_equal(prepared, direct)
    assert none.empty and list(none.columns) == list(built.columns)


def test_a_prepared_pool_is_never_read_for_other_definitions_or_records(records_copy):
    import json

    from jdl.cohort import prepare_pool, prepared_pool_file
    from jdl.cohort._build import _resolve_spec
    from jdl.core.config import CohortSettings

    with open_records(records_copy) as engine:
        first = prepare_pool(engine)
        spec = _resolve_spec(engine, None, None, None)
        other = _resolve_spec(engine, None, None, CohortSettings(min_age_at_index=21))
        assert prepared_pool_file(engine, other) != first
        assert not prepared_pool_file(engine, other).exists()
        older = build_pool(engine, spec=other, use_prepared=False)
        assert build_pool(engine, spec=other).equals(older)  # derived, not the prepared file
        assert prepared_pool_file(engine, spec) == first
    manifest = records_copy / "manifest.json"  # a new release of the records
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "note": "refreshed"}))
    with open_records(records_copy) as engine:
        assert prepared_pool_file(engine, spec) != first
        second = prepare_pool(engine)
    assert second.exists() and not first.exists()  # the old release's pool is removed
