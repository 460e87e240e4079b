"""Matching stage: propensity-score matching that reproduces R's MatchIt, and balance checks.

Public API
----------
match : match treated rows to comparison rows (nearest neighbour, exact, subclass).
match_with_settings : ``match`` with the lab's configured specification (MatchingSettings).
MatchResult : matched rows, weights, pair ids, ``balance()``, ``love_plot()``, ``summary()``.
BalanceTable : SMDs, variance ratios and eCDF statistics before and after matching.
MatchSpec, Thresholds : the specification and balance thresholds stored with a result.
fit_logit : R-identical unpenalised logistic regression (MatchIt's ``distance = "glm"``).
MatchingError : raised for specifications that cannot run on the data.
CovariateSpec, prepare_covariates, restrict_to_shared_levels, varying_covariates : getting an
    analysis frame ready (gaps filled with indicators, like compared with like).
"""

from jdl.matching._balance import BalanceTable
from jdl.matching._errors import MatchingError
from jdl.matching._glm import LogitFit, fit_logit
from jdl.matching._match import match, match_with_settings
from jdl.matching._preparation import (
    CovariateSpec,
    prepare_covariates,
    restrict_to_shared_levels,
    varying_covariates,
)
from jdl.matching._result import MatchResult, MatchSpec, Thresholds

__all__ = [
    "BalanceTable",
    "CovariateSpec",
    "LogitFit",
    "MatchResult",
    "MatchSpec",
    "MatchingError",
    "Thresholds",
    "fit_logit",
    "match",
    "match_with_settings",
    "prepare_covariates",
    "restrict_to_shared_levels",
    "varying_covariates",
]
