"""Choosing the match threshold by a documented rule on labelled calibration uploads.

The threshold is not fixed by hand. After training, the lab links labelled uploads (rows whose
true person is known) with the new model and resolves them at every threshold of a grid; the
**rule** considers the thresholds whose precision is at least ``min_precision`` (99.5%: at most
one wrong person in 200 links — a wrong link puts someone else's re-offending into the
programme's results, which harms more than a missed person), finds the highest F1 among them,
and takes the **highest threshold whose F1 is within one standard error of that best** — the
"one-standard-error rule" of model selection (Breiman et al. 1984, *Classification and
Regression Trees*, §3.4.3; Hastie, Tibshirani & Friedman 2009, *The Elements of Statistical
Learning*, §7.10). F1 hardly moves between neighbouring thresholds (0.9947 at 0.5 against
0.9945 at 0.6 on the 200k register's labelled rows), well inside its sampling error, so the
point estimate alone picks among thresholds the data cannot tell apart; among those, the more
precise is the side the lab errs on. The standard error is a bootstrap over the labelled rows
(rows resampled, fixed seed, the same resamples at every threshold). If no threshold on the
grid reaches the precision, the most precise one is taken and the calibration says so.

The labelled uploads are, by default, the generator's harsh mix (``jdl synth-submission
--errors harsh``) for every planted programme of a synthetic data directory, with a seed no test
or benchmark uses; for real records they are earlier uploads whose links a person has checked
(``jdl link-train --labelled FILE.csv``, truth in ``FILE.truth.csv``: ``row_number,
person_id``). The same run measures, at the chosen threshold, how many of the rows the model
left unresolved were in fact in the records (:class:`UnresolvedRows`, used by the per-upload
uncertainty), and checks the uncertainty estimator against the truth.

Saved next to the model as ``DIR/linkage-calibration.json``, tied to the model by its data
version and training time: a retrained model needs a new calibration.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jdl.core.config import LinkageSettings
from jdl.core.errors import UsageError
from jdl.linkage._evaluate import link_outcomes, outcome_quality
from jdl.linkage._link import LinkOptions, link_rows
from jdl.linkage._model import LinkageModel
from jdl.linkage._register import Workspace
from jdl.linkage._result import (
    LinkResult,
    UnresolvedRows,
    estimate_uncertainty,
    unresolved_rows,
)

CALIBRATION_FILE = "linkage-calibration.json"
CALIBRATION_FORMAT = 1
#: Thresholds the rule chooses from.
THRESHOLD_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)
#: Where the evaluation re-estimates the effect (sensitivity rows): the lowest and highest of
#: these other than the threshold used — "more likely than not", the old fixed 0.9, "near
#: certain".
SENSITIVITY_THRESHOLDS = (0.5, 0.9, 0.99)
#: Generator seed of the labelled calibration uploads (no test or benchmark uses it).
CALIBRATION_SEED = 20_191
ROW_OFFSET = 1_000_000  # row numbers of the k-th labelled upload start at k * ROW_OFFSET


def other_thresholds(threshold: float) -> tuple[float, float]:
    """The two thresholds the effect is re-estimated at, besides ``threshold``."""
    others = [t for t in SENSITIVITY_THRESHOLDS if abs(t - threshold) > 1e-9]
    return min(others), max(others)


@dataclass(frozen=True)
class ThresholdRule:
    """Among thresholds with precision ≥ ``min_precision``: the highest whose F1 is within
    ``standard_errors`` bootstrap standard errors of the best F1 (0: the best F1 itself, ties
    to the higher threshold)."""

    min_precision: float = 0.995
    standard_errors: float = 1.0
    grid: tuple[float, ...] = THRESHOLD_GRID
    bootstrap: int = 400  # resamples of the labelled rows for the standard error of F1
    seed: int = 20_191


@dataclass(frozen=True)
class ThresholdPoint:
    """Precision and recall of the labelled rows resolved at one threshold."""

    threshold: float
    precision: float
    recall: float
    f1: float
    links: int
    wrong: int
    f1_se: float = 0.0  # bootstrap standard error of f1 (0: not computed)


@dataclass(frozen=True)
class LinkageCalibration:
    """The chosen threshold with the evidence for it (saved as ``linkage-calibration.json``)."""

    data_version: str
    model_trained_at: str
    source: str  # what the labelled rows were
    rows: int
    in_records: int
    min_precision: float
    threshold: float
    rule_met: bool  # False: no grid threshold reached min_precision; the most precise taken
    table: tuple[ThresholdPoint, ...]
    unresolved: UnresolvedRows
    # The uncertainty estimator against the truth at the chosen threshold (in-sample).
    estimator_check: dict[str, float] = field(default_factory=dict)
    calibrated_at: str = ""
    standard_errors: float = 0.0  # the rule's F1 tolerance (0 in calibrations made before it)

    def chosen(self) -> ThresholdPoint:
        return next(p for p in self.table if p.threshold == self.threshold)

    def to_json(self) -> dict[str, Any]:
        return {"format": CALIBRATION_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> LinkageCalibration:
        if payload.get("format") != CALIBRATION_FORMAT:
            raise UsageError("The linkage calibration file has an unknown format.",
                             hint="Retrain with `jdl link-train --data DIR`.")
        fields = {k: v for k, v in payload.items() if k != "format"}
        fields["table"] = tuple(ThresholdPoint(**p) for p in fields["table"])
        fields["unresolved"] = UnresolvedRows(**fields["unresolved"])
        return cls(**fields)


def threshold_table(result: LinkResult, truth: pd.DataFrame,
                    grid: tuple[float, ...] = THRESHOLD_GRID, *, bootstrap: int = 0,
                    seed: int = 0) -> tuple[ThresholdPoint, ...]:
    """Precision, recall and F1 of one linked labelled upload at each threshold of ``grid``,
    with F1's bootstrap standard error over ``bootstrap`` resamples of the rows (0: none)."""
    outcomes = [link_outcomes(result.at_threshold(t).links, truth) for t in grid]
    qualities = [outcome_quality(o) for o in outcomes]
    errors = f1_standard_errors([o.to_numpy(float) for o in outcomes], bootstrap, seed)
    points = []
    for t, q, se in zip(grid, qualities, errors, strict=True):
        p, r = float(q["precision"]), float(q["recall"])
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        points.append(ThresholdPoint(threshold=float(t), precision=p, recall=r, f1=f1,
                                     links=int(q["linked"]), wrong=int(q["wrong"]), f1_se=se))
    return tuple(points)


def f1_standard_errors(outcomes: list[np.ndarray], resamples: int, seed: int) -> list[float]:
    """Bootstrap standard error of F1 = 2·correct / (linked + in records) for each threshold's
    rows × (linked, in records, correct) of :func:`~jdl.linkage._evaluate.link_outcomes`
    (0/1, the rows in the same order at every threshold): rows resampled with replacement,
    the **same** resamples for every threshold so their F1s are compared on the same draws;
    one row count vector per resample (memory grows with the rows, not with rows ×
    resamples). 0 when ``resamples`` < 2."""
    if resamples < 2 or not outcomes or len(outcomes[0]) == 0:
        return [0.0] * len(outcomes)
    stacked = np.stack(outcomes)  # thresholds × rows × (linked, in records, correct)
    n_rows = stacked.shape[1]
    rng = np.random.default_rng(seed)
    f1 = np.empty((resamples, len(outcomes)))
    for b in range(resamples):
        counts = np.bincount(rng.integers(0, n_rows, n_rows), minlength=n_rows)
        linked, in_records, correct = (stacked.transpose(0, 2, 1) @ counts).T
        denominator = linked + in_records
        f1[b] = np.divide(2.0 * correct, denominator, out=np.zeros(len(outcomes)),
                          where=denominator > 0)
    return [float(x) for x in np.std(f1, axis=0, ddof=1)]


def choose_threshold(table: tuple[ThresholdPoint, ...],
                     rule: ThresholdRule | None = None) -> tuple[float, bool]:
    """The rule's threshold, and whether any threshold met the precision floor."""
    rule = rule or ThresholdRule()
    if not table:
        raise UsageError("No thresholds to choose from.")
    ok = [p for p in table if p.precision >= rule.min_precision]
    if ok:
        best = max(ok, key=lambda p: (round(p.f1, 12), p.threshold))
        floor = best.f1 - rule.standard_errors * best.f1_se
        return max(p.threshold for p in ok if p.f1 >= floor - 1e-12), True
    return max(table, key=lambda p: (p.precision, p.recall)).threshold, False


def unresolved_share(result: LinkResult, truth: pd.DataFrame) -> UnresolvedRows:
    """Among the rows ``result`` left unresolved, the share whose person is in the records."""
    merged = result.links.merge(_truth(truth), on="row_number", how="left")
    rows = unresolved_rows(merged)
    inside = merged["true_person_id"].notna()
    share = float(inside[rows].mean()) if rows.any() else 0.0
    return UnresolvedRows(share_in_records=share, rows=int(rows.sum()))


def uncertainty_check(result: LinkResult, truth: pd.DataFrame, *,
                      unresolved: UnresolvedRows | None) -> dict[str, float]:
    """Estimated against actual shares of false links and of missed people (people in the
    records whose row was not linked)."""
    threshold = result.threshold if result.threshold is not None else float("nan")
    est = estimate_uncertainty(result.links, threshold=threshold, unresolved=unresolved)
    merged = result.links.merge(_truth(truth), on="row_number", how="left")
    linked = merged["person_id"].notna()
    inside = merged["true_person_id"].notna()
    wrong = linked & (merged["person_id"] != merged["true_person_id"]).fillna(True)
    missed = inside & ~linked
    return {
        "rows": float(len(merged)),
        "estimated_false_links": est.expected_false_links,
        "actual_false_links": float(wrong.sum()),
        "estimated_false_link_share": est.false_link_share,
        "actual_false_link_share": float(wrong.sum() / linked.sum()) if linked.any() else 0.0,
        "estimated_missed": est.expected_missed,
        "actual_missed": float(missed.sum()),
        "estimated_missed_share": est.missed_share,
        "actual_missed_share": float(missed.sum() / inside.sum()) if inside.any() else 0.0,
    }


def _truth(truth: pd.DataFrame) -> pd.DataFrame:
    out = truth.loc[:, ["row_number", "person_id"]].rename(columns={"person_id": "true_person_id"})
    out["true_person_id"] = pd.to_numeric(out["true_person_id"]).astype("Int64")
    return out


def calibrate(workspace: Workspace, model: LinkageModel, rows: pd.DataFrame,
              truth: pd.DataFrame, *, settings: LinkageSettings | None = None,
              rule: ThresholdRule | None = None, source: str = "labelled rows"
              ) -> LinkageCalibration:
    """Link the labelled ``rows`` with ``model`` once and apply the threshold rule."""
    settings = settings or LinkageSettings()
    rule = rule or ThresholdRule()
    if rows.empty:
        raise UsageError("The labelled calibration rows are empty.")
    result = link_rows(workspace, model, rows, LinkOptions.from_settings(settings))
    truth = truth[truth["row_number"].isin(rows["row_number"])]
    table = threshold_table(result, truth, rule.grid,
                            bootstrap=rule.bootstrap if rule.standard_errors > 0 else 0,
                            seed=rule.seed)
    threshold, met = choose_threshold(table, rule)
    chosen = result.at_threshold(threshold)
    rates = unresolved_share(chosen, truth)
    check = uncertainty_check(chosen, truth, unresolved=rates)
    return LinkageCalibration(
        data_version=model.data_version, model_trained_at=model.trained_at, source=source,
        rows=len(rows), in_records=int(_truth(truth)["true_person_id"].notna().sum()),
        min_precision=rule.min_precision, threshold=threshold, rule_met=met, table=table,
        unresolved=rates, estimator_check=check,
        calibrated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        standard_errors=rule.standard_errors)


def generated_labelled_rows(data_dir: str | Path, *, errors: str = "harsh",
                            seed: int = CALIBRATION_SEED
                            ) -> tuple[pd.DataFrame, pd.DataFrame, str] | None:
    """Labelled uploads for a synthetic data directory: every planted programme's upload at
    ``errors``, through intake, with its truth (row numbers made unique). ``None`` when the
    directory has no planted programmes (real records)."""
    from jdl.admin.synth import make_submission
    from jdl.intake import check_submission

    spec_file = Path(data_dir) / "truth" / "programmes.json"
    if not spec_file.exists():
        return None
    names = [p["name"] for p in json.loads(spec_file.read_text())["programmes"]]
    rows, truths = [], []
    with tempfile.TemporaryDirectory(prefix="jdl-calibration-") as tmp:
        for k, name in enumerate(names):
            paths = make_submission(data_dir, name, Path(tmp) / f"{name}.csv", errors=errors,
                                    seed=seed + k)
            accepted = check_submission(paths["upload"]).accepted_rows()
            truth = pd.read_csv(paths["truth"], keep_default_na=False, na_values=[""])
            truth = truth[truth["row_number"].isin(accepted["row_number"])]
            offset = (k + 1) * ROW_OFFSET
            rows.append(accepted.assign(row_number=accepted["row_number"] + offset))
            truths.append(truth.assign(row_number=truth["row_number"] + offset))
    source = (f"the generator's {errors} mix for the {len(names)} planted programmes "
              f"(seeds {seed}-{seed + len(names) - 1})")
    return pd.concat(rows, ignore_index=True), pd.concat(truths, ignore_index=True), source


def labelled_from_files(paths: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Labelled uploads checked by a person: ``FILE.csv`` with ``FILE.truth.csv`` beside it
    (``row_number, person_id``; blank person: not in the records)."""
    from jdl.linkage._io import accepted_rows

    rows, truths = [], []
    for k, path in enumerate(paths):
        truth_path = path.with_name(path.stem + ".truth.csv")
        if not truth_path.exists():
            raise UsageError(f"No truth file for the labelled upload {path}.",
                             hint=f"Write {truth_path.name}: row_number, person_id.")
        accepted = accepted_rows(path)
        truth = pd.read_csv(truth_path, keep_default_na=False, na_values=[""])
        missing = {"row_number", "person_id"} - set(truth.columns)
        if missing:
            raise UsageError(f"{truth_path} lacks column(s): {', '.join(sorted(missing))}.")
        offset = (k + 1) * ROW_OFFSET
        rows.append(accepted.assign(row_number=accepted["row_number"] + offset))
        truths.append(truth.assign(row_number=truth["row_number"] + offset))
    names = ", ".join(p.name for p in paths)
    return (pd.concat(rows, ignore_index=True), pd.concat(truths, ignore_index=True),
            f"labelled uploads {names}")


def save_calibration(calibration: LinkageCalibration, data_dir: str | Path) -> Path:
    path = Path(data_dir) / CALIBRATION_FILE
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(calibration.to_json(), indent=2))
    partial.replace(path)  # atomic: a reader never sees half a file
    return path


def load_calibration(data_dir: str | Path, model: LinkageModel) -> LinkageCalibration | None:
    """The calibration of ``model`` (None when there is none, or it belongs to another model)."""
    path = Path(data_dir) / CALIBRATION_FILE
    if not path.exists():
        return None
    try:
        calibration = LinkageCalibration.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError):
        return None
    if (calibration.data_version, calibration.model_trained_at) != (model.data_version,
                                                                     model.trained_at):
        return None
    return calibration


def threshold_for(settings: LinkageSettings,
                  calibration: LinkageCalibration | None) -> tuple[float, str]:
    """The threshold to link at and where it comes from: the setting when it was set
    explicitly (configuration, environment or ``--threshold``), else the calibrated one, else
    the setting's default."""
    if "match_threshold" in settings.model_fields_set:
        return settings.match_threshold, "set explicitly"
    if calibration is not None:
        return calibration.threshold, f"calibrated: {rule_phrase(calibration)}"
    return settings.match_threshold, "default (no calibration for this model)"


def rule_phrase(calibration: LinkageCalibration) -> str:
    """How the calibrated threshold was chosen, in a few words (CLI and run logs)."""
    if not calibration.rule_met:
        return (f"no threshold reached precision {calibration.min_precision:.1%}: "
                f"the most precise one")
    within = ("" if calibration.standard_errors <= 0 else
              f", the highest within {calibration.standard_errors:g} standard error of it")
    return f"highest F1 with precision ≥ {calibration.min_precision:.1%}{within}"
