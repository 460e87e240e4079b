"""The match threshold is chosen when a data directory is prepared (``jdl synth``, ``jdl
link-train``), never by an evaluation (issue 18: it cost the first evaluation of new records
about 25 s at 30,000 people).

A directory whose model has no calibration links at the ``match_threshold`` setting (0.9 by
default) and says so, rather than calibrating or failing: real records have no labelled rows
until people have checked links, so a lab that refused to link without a calibration could not
start; and an evaluation's cost should be its upload's, not a one-off half minute that a
service job happens to pay.
"""

from __future__ import annotations

import json
import shutil

import pytest

from jdl.admin.synth import make_submission
from jdl.core.config import LinkageSettings
from jdl.intake import check_submission
from jdl.linkage import (
    CALIBRATION_FILE,
    link_submission,
    load_calibration,
    model_for,
    prepare_linkage,
)


@pytest.fixture
def uncalibrated(synthetic_data_dir, tmp_path):
    """A copy of the 30,000-person synthetic records with their model, without its calibration
    (as left by an older `jdl synth`, or after `jdl link-train` on records with no labels)."""
    data = tmp_path / "data"
    shutil.copytree(synthetic_data_dir, data)
    (data / CALIBRATION_FILE).unlink()
    return data


def _rows(data, tmp_path):
    paths = make_submission(data, "new-leaf-employment", tmp_path / "upload.csv")
    return check_submission(paths["upload"]).accepted_rows()


def test_linking_never_calibrates_and_says_it_used_the_default(uncalibrated, tmp_path):
    model = model_for(uncalibrated)
    assert load_calibration(uncalibrated, model) is None
    result = link_submission(_rows(uncalibrated, tmp_path), uncalibrated)
    assert not (uncalibrated / CALIBRATION_FILE).exists()
    assert result.threshold == LinkageSettings().match_threshold == 0.9
    assert result.threshold_source == "default (no calibration for this model)"
    assert result.summary.linked > 0


def test_an_evaluation_records_where_its_threshold_came_from(uncalibrated, tmp_path, capsys):
    from jdl.evaluation._evaluate import _write_linkage_quality
    from jdl.pipeline_cli import _print_linkage_quality

    result = link_submission(_rows(uncalibrated, tmp_path), uncalibrated)
    _write_linkage_quality(tmp_path, result)
    written = json.loads((tmp_path / "linkage.json").read_text())
    assert written["threshold"] == 0.9 and written["threshold_source"].startswith("default")
    _print_linkage_quality(tmp_path)
    out = " ".join(capsys.readouterr().out.split())
    assert "default match threshold 0.9" in out and "jdl link-train --data DIR" in out


def test_a_calibrated_directory_links_at_its_threshold_without_the_note(synthetic_data_dir,
                                                                        tmp_path, capsys):
    from jdl.evaluation._evaluate import _write_linkage_quality
    from jdl.pipeline_cli import _print_linkage_quality

    model = prepare_linkage(synthetic_data_dir)  # the fixture's data is prepared: no work
    chosen = load_calibration(synthetic_data_dir, model)
    assert chosen is not None
    result = link_submission(_rows(synthetic_data_dir, tmp_path), synthetic_data_dir)
    assert result.threshold == chosen.threshold
    assert result.threshold_source.startswith("calibrated")
    # the sensitivity rows' re-resolutions do not claim the main threshold's source
    assert result.at_threshold(0.5).threshold_source is None
    _write_linkage_quality(tmp_path, result)
    _print_linkage_quality(tmp_path)
    assert "default match threshold" not in capsys.readouterr().out


@pytest.mark.slow
def test_prepare_linkage_calibrates_what_is_missing_once(uncalibrated):
    model = prepare_linkage(uncalibrated)
    chosen = load_calibration(uncalibrated, model)
    assert chosen is not None and "harsh" in chosen.source
    assert chosen.threshold in [p.threshold for p in chosen.table]
    written = (uncalibrated / CALIBRATION_FILE).stat().st_mtime_ns
    again = prepare_linkage(uncalibrated)
    assert again.trained_at == model.trained_at  # not retrained
    assert (uncalibrated / CALIBRATION_FILE).stat().st_mtime_ns == written  # nor recalibrated
