"""Statistical disclosure control: the only way results leave the lab.

``release(raw)`` turns the pipeline's raw results into a :class:`Released` object whose
``results`` dict is all the report, the JSON export and the service may read (counts below
``min_count`` hidden, others rounded, estimates over hidden counts hidden, secondary
suppression, no per-person field). ``assert_released`` proves a released dict obeys the rules;
``check_released_text`` scans rendered files; ``differencing_risks`` compares a cohort with the
same organisation's earlier ones; ``decide_answerable`` decides whether a request near the
lab's minimum is answered (the rounded count against a per-request threshold). Rules and
sources: docs/disclosure-control.md.
"""

from jdl.disclosure._check import assert_released, check_released_text, find_release_problems
from jdl.disclosure._decision import AnswerDecision, decide_answerable, request_key
from jdl.disclosure._describe import describe_schema
from jdl.disclosure._differencing import (
    DifferencingRisk,
    assert_no_differencing_risk,
    differencing_risks,
)
from jdl.disclosure._errors import DisclosureError
from jdl.disclosure._release import Action, Released, refuse_individual_level, release
from jdl.disclosure._rules import (
    complement_small,
    is_small,
    released_count,
    round_count,
    secondary_cells,
)
from jdl.disclosure._schema import INDIVIDUAL_KEYS, SCHEMA, FieldSpec, Kind, kind_of

__all__ = [
    "INDIVIDUAL_KEYS",
    "SCHEMA",
    "Action",
    "AnswerDecision",
    "DifferencingRisk",
    "DisclosureError",
    "FieldSpec",
    "Kind",
    "Released",
    "assert_no_differencing_risk",
    "assert_released",
    "check_released_text",
    "complement_small",
    "decide_answerable",
    "describe_schema",
    "differencing_risks",
    "find_release_problems",
    "is_small",
    "kind_of",
    "refuse_individual_level",
    "release",
    "released_count",
    "request_key",
    "round_count",
    "secondary_cells",
]
