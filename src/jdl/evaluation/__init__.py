"""Evaluation: one call from an upload to disclosure-controlled results (orchestration only).

Public API
----------
evaluate(upload, programme, data_dir, out_dir, *, settings, seed, progress, checkpoints)
    validate -> link -> cohort and pool -> match -> estimate -> sensitivity -> disclose; writes
    results.json and internal/. The report is written above this layer, by
    :func:`jdl.run.run_evaluation` (the end-to-end entry).
Evaluation : what ``evaluate`` produced (released dict, disclosure object, typed results).
covariate_spec : matching's covariates from the registry of measures.
Checkpoints : where a run keeps its completed stages' outputs (resumable jobs).
STAGES : the progress steps, in order.
EvaluationError : the evaluation cannot produce results for this submission.
CouldNotBeAnswered : the request is below the lab's minimum criteria (fewer than
    ``InferenceSettings.min_matched_treated`` people eligible or matched): declined, recorded as
    "could not be answered".
"""

from jdl.evaluation._evaluate import (
    STAGES,
    Checkpoints,
    CouldNotBeAnswered,
    Evaluation,
    EvaluationError,
    config_hash,
    covariate_spec,
    evaluate,
)
from jdl.evaluation._results import Results

__all__ = ["STAGES", "Checkpoints", "CouldNotBeAnswered", "Evaluation", "EvaluationError",
           "Results", "config_hash", "covariate_spec", "evaluate"]
