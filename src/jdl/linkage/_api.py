"""Entry points: train the model for a data directory, link a submission against it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from jdl.core.config import LinkageSettings, SparkSettings
from jdl.engines import EngineName
from jdl.engines.duckdb import open_admin
from jdl.linkage._calibration import (
    LinkageCalibration,
    ThresholdRule,
    calibrate,
    generated_labelled_rows,
    load_calibration,
    save_calibration,
    threshold_for,
)
from jdl.linkage._link import LinkOptions, id_pass, link_rows, load_submission
from jdl.linkage._model import (
    MODEL_FILE,
    LinkageModel,
    LinkageModelError,
    data_version,
    load_model,
    save_model,
    train,
)
from jdl.linkage._register import Workspace
from jdl.linkage._result import LinkResult, estimate_uncertainty

Labelled = tuple[pd.DataFrame, pd.DataFrame, str]  # rows, truth (row_number, person_id), source


def options_from(settings: LinkageSettings, data_engine: EngineName = "duckdb",
                 spark: SparkSettings | None = None) -> LinkOptions:
    """Per-run options; the backend, when not set for linkage, is the data engine's
    (:meth:`LinkageSettings.backend_for`); ``spark``: the Spark section of the settings."""
    return LinkOptions.from_settings(settings, settings.backend_for(data_engine), spark)


def register_cache(data_dir: str | Path) -> Path:
    """Where the register's feature records for this data version are cached."""
    return Path(data_dir) / f"linkage-register-{data_version(data_dir)}.parquet"


def open_workspace(data_dir: str | Path, settings: LinkageSettings | None = None) -> Workspace:
    """The register's feature records, from the cache when :func:`train_model` wrote one."""
    settings = settings or LinkageSettings()
    open_admin(data_dir).close()  # a friendly error when the records are missing
    return Workspace.open(data_dir, threads=settings.threads, memory_limit=settings.memory_limit,
                          cache=register_cache(data_dir))


def train_model(
    data_dir: str | Path,
    *,
    calibration: list[pd.DataFrame] | None = None,
    settings: LinkageSettings | None = None,
    workspace: Workspace | None = None,
    save: bool = True,
    labelled: Labelled | None = None,
    choose_threshold: bool = True,
    rule: ThresholdRule | None = None,
) -> LinkageModel:
    """Train the linkage model for the records in ``data_dir`` and save it there.

    ``calibration``: accepted rows of earlier submissions; their rows that the deterministic ID
    pass links become labelled same-person pairs for the m-probabilities.

    With ``choose_threshold`` the match threshold is then chosen by ``rule`` on labelled rows
    (``labelled``, else — for a synthetic data directory — the generator's harsh-mix uploads of
    its planted programmes) and saved as ``DIR/linkage-calibration.json``
    (:mod:`jdl.linkage._calibration`). Without labelled rows no threshold is chosen and linking
    uses the ``match_threshold`` setting.
    """
    settings = settings or LinkageSettings()
    own = workspace is None
    ws = workspace or open_workspace(data_dir, settings)
    try:
        pairs, features = _calibration_pairs(ws, calibration or [], settings)
        model = train(
            ws, data_version=data_version(data_dir), calibration_pairs=pairs,
            calibration_features=features, prior_in_register=settings.prior_in_register,
            prior_strength=settings.prior_strength, u_max_pairs=settings.u_max_pairs,
            seed=settings.seed,
        )
        if save:
            save_model(model, Path(data_dir) / MODEL_FILE)
            _write_cache(ws, data_dir)
        if choose_threshold:
            chosen = calibrate_threshold(data_dir, model, ws, settings=settings,
                                         labelled=labelled, rule=rule)
            if chosen is not None and save:
                save_calibration(chosen, data_dir)
    finally:
        if own:
            ws.close()
    return model


def calibrate_threshold(data_dir: str | Path, model: LinkageModel, workspace: Workspace, *,
                        settings: LinkageSettings | None = None,
                        labelled: Labelled | None = None, rule: ThresholdRule | None = None
                        ) -> LinkageCalibration | None:
    """The threshold ``rule`` picks on labelled rows (None when there are none)."""
    labelled = labelled or generated_labelled_rows(data_dir)
    if labelled is None:
        return None
    rows, truth, source = labelled
    return calibrate(workspace, model, rows, truth, settings=settings, rule=rule, source=source)


def _calibrate_saved(data_dir: str | Path, model: LinkageModel,
                     settings: LinkageSettings | None, workspace: Workspace | None) -> None:
    """Choose the threshold of a saved model that has none yet (a model trained before
    thresholds were calibrated), when labelled rows exist; saved beside the model."""
    settings = settings or LinkageSettings()
    ws = workspace or open_workspace(data_dir, settings)
    try:
        chosen = calibrate_threshold(data_dir, model, ws, settings=settings)
    finally:
        if workspace is None:
            ws.close()
    if chosen is not None:
        save_calibration(chosen, data_dir)


def _write_cache(ws: Workspace, data_dir: str | Path) -> None:
    """Cache the register's features for this data version (and drop older caches)."""
    target = register_cache(data_dir)
    for old in Path(data_dir).glob("linkage-register-*.parquet"):
        if old != target:
            old.unlink()
    if not target.exists():
        ws.save_register(target)


def _calibration_pairs(ws: Workspace, frames: list[pd.DataFrame], settings: LinkageSettings):
    """ID-confirmed (row, person) pairs of the calibration submissions, renumbered."""
    if not frames:
        return None, None
    rows = pd.concat(frames, ignore_index=True)
    rows["row_number"] = range(1, len(rows) + 1)
    load_submission(ws, rows)
    ws.run("CREATE OR REPLACE TABLE calibration_features AS SELECT * FROM submission_features")
    return id_pass(ws, min_evidence=settings.min_id_evidence), "calibration_features"


def model_for(data_dir: str | Path, *, settings: LinkageSettings | None = None,
              train_if_missing: bool = True, workspace: Workspace | None = None) -> LinkageModel:
    """The saved model for ``data_dir``; trained (once) when missing or made for other data.

    Never chooses the threshold: that is :func:`prepare_linkage`'s (``jdl synth``, ``jdl
    link-train``), before any submission. Linking a model that has no calibration uses the
    ``match_threshold`` setting (0.9 by default) and says so (:func:`threshold_for`): an
    evaluation or a service job costs what its upload costs, never a calibration's half a
    minute, and real records have no labelled rows to calibrate on until people check links."""
    path = Path(data_dir) / MODEL_FILE
    if path.exists():
        model = load_model(path)
        if model.data_version == data_version(data_dir):
            return model
        if not train_if_missing:
            raise LinkageModelError(
                f"The linkage model at {path} was trained on another version of the records.",
                hint="Retrain it with `jdl link-train --data DIR`.",
            )
    elif not train_if_missing:
        load_model(path)  # raises the friendly "no model" error
    return train_model(data_dir, settings=settings, workspace=workspace, choose_threshold=False)


def prepare_linkage(data_dir: str | Path, *, settings: LinkageSettings | None = None,
                    workspace: Workspace | None = None) -> LinkageModel:
    """What a data directory needs before its first submission: the linkage model for its
    records and, where labelled rows exist (a synthetic directory's planted programmes), the
    threshold chosen on them (``linkage-calibration.json``). Trains or calibrates only what is
    missing or stale, so a prepared directory costs nothing.

    ``jdl synth`` (and the demo's data) call it after generating; ``jdl link-train`` always
    retrains. About 40 s at 1M people on 2 cores (training, then linking the labelled uploads)
    that an evaluation would otherwise pay."""
    path = Path(data_dir) / MODEL_FILE
    if path.exists():
        model = load_model(path)
        if model.data_version == data_version(data_dir):
            if load_calibration(data_dir, model) is None:
                _calibrate_saved(data_dir, model, settings, workspace)
            return model
    return train_model(data_dir, settings=settings, workspace=workspace)


def link_submission(
    rows: pd.DataFrame,
    data_dir: str | Path,
    *,
    settings: LinkageSettings | None = None,
    model: LinkageModel | None = None,
    workspace: Workspace | None = None,
    data_engine: EngineName = "duckdb",
    spark: SparkSettings | None = None,
) -> LinkResult:
    """Link a submission's accepted rows to the records in ``data_dir`` with the saved model.

    ``rows``: ``row_number, forename, surname, date_of_birth, sex`` and, where known,
    ``pnc_id, prison_number`` (the intake stage's accepted rows). ``data_engine``: the engine
    the records are analysed on (``Settings.data.engine``), where pairs are scored unless
    ``settings.backend`` says otherwise; ``spark``: the Spark section of the settings. Never
    retrains a model that exists for this data version.

    The threshold is the calibrated one (``DIR/linkage-calibration.json``) unless
    ``settings.match_threshold`` was set explicitly (:func:`threshold_for`). The result carries
    it and the model's estimate of false and missed links (:class:`LinkageUncertainty`).
    """
    settings = settings or LinkageSettings()
    own = workspace is None
    ws = workspace or open_workspace(data_dir, settings)
    try:
        model = model or model_for(data_dir, settings=settings, workspace=ws)
        calibration = load_calibration(data_dir, model)
        threshold, source = threshold_for(settings, calibration)
        options = replace(options_from(settings, data_engine, spark), match_threshold=threshold)
        result = link_rows(ws, model, rows, options)
    finally:
        if own:
            ws.close()
    uncertainty = estimate_uncertainty(
        result.links, threshold=threshold,
        unresolved=calibration.unresolved if calibration else None)
    return replace(result, threshold=threshold, threshold_source=source,
                   uncertainty=uncertainty)
