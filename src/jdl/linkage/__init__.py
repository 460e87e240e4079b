"""Record linkage: find each submitted person in the national records.

A deterministic pass (exact PNC ID or prison number confirmed by name/date evidence) runs
first; the remaining rows are scored with a Fellegi–Sunter model (Splink 5) trained once per
data version and saved as ``DIR/linkage-model.json``; each row then gets its best candidate
above a threshold, or none. The link table stays inside the lab; the :class:`LinkageSummary`
is what a report shows. The threshold is chosen on labelled calibration uploads
(:mod:`jdl.linkage._calibration`) and each result carries the model's estimate of its false and
missed links (:class:`LinkageUncertainty`).
"""

from jdl.linkage._api import (
    link_submission,
    model_for,
    open_workspace,
    prepare_linkage,
    train_model,
)
from jdl.linkage._calibration import (
    CALIBRATION_FILE,
    LinkageCalibration,
    ThresholdRule,
    load_calibration,
    other_thresholds,
)
from jdl.linkage._evaluate import blocking_recall, link_quality, recall_by
from jdl.linkage._link import LinkOptions, link_rows, score_candidates
from jdl.linkage._model import (
    MODEL_FILE,
    LinkageModel,
    LinkageModelError,
    load_model,
    sanity_check,
    save_model,
)
from jdl.linkage._names import clean_name, forename_groups, nickname_groups
from jdl.linkage._register import Workspace
from jdl.linkage._result import (
    LINK_COLUMNS,
    LinkageSummary,
    LinkageUncertainty,
    LinkResult,
    estimate_uncertainty,
)

__all__ = [
    "CALIBRATION_FILE",
    "LINK_COLUMNS",
    "MODEL_FILE",
    "LinkOptions",
    "LinkResult",
    "LinkageCalibration",
    "LinkageModel",
    "LinkageModelError",
    "LinkageSummary",
    "LinkageUncertainty",
    "ThresholdRule",
    "Workspace",
    "blocking_recall",
    "clean_name",
    "estimate_uncertainty",
    "forename_groups",
    "link_quality",
    "link_rows",
    "link_submission",
    "load_calibration",
    "load_model",
    "model_for",
    "nickname_groups",
    "open_workspace",
    "other_thresholds",
    "prepare_linkage",
    "recall_by",
    "sanity_check",
    "save_model",
    "score_candidates",
    "train_model",
]
