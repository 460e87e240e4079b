"""Evaluation: one call from an upload to disclosure-controlled results (orchestration only).

Public API
----------
evaluate(upload, programme, data_dir, out_dir, *, settings, seed, progress, checkpoints)
    validate -> link -> cohort and pool -> match -> estimate -> sensitivity -> disclose.
Evaluation : what ``evaluate`` produced.
Checkpoints : where a run keeps its completed stages' outputs (resumable jobs).
STAGES : the progress steps, in order.
EvaluationError : the evaluation cannot produce results for this submission.
"""

from jdl.evaluation._evaluate import (
    STAGES,
    Checkpoints,
    Evaluation,
    EvaluationError,
    config_hash,
    evaluate,
)

__all__ = ["STAGES", "Checkpoints", "Evaluation", "EvaluationError", "config_hash", "evaluate"]
