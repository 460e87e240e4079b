"""Cohort stage: index events, eligibility with counted reasons, covariates at index, and the
comparison pool - one set of SQL definitions for the treated people and the national records.

Typical use::

    cohort = build_cohort(engine, link, submission, setting="custody")
    pool = build_pool(engine, exclude_person_ids=cohort.linked_person_ids, strata=cohort.strata)
    data = analysis_frame(cohort, pool)  # treated = 1 rows, then the pool (treated = 0)
"""

from jdl.cohort._build import (
    Attrition,
    AttritionStep,
    CohortResult,
    analysis_frame,
    analysis_measures,
    build_cohort,
    build_pool,
    pool_attrition,
    pool_sql,
    prepare_pool,
    prepared_pool_file,
    read_pool,
    restrict_pool,
    write_pool,
)
from jdl.cohort._covariates import COVARIATE_SET_VERSION, COVARIATES, covariate_measures
from jdl.cohort._describe import describe_definitions
from jdl.cohort._eligibility import Exclusion, eligibility_sql, exclusion_rules
from jdl.cohort._index import pool_events_sql, treated_rows_sql
from jdl.cohort._spec import INDEX_TYPES_BY_SETTING, CohortSpec, read_data_cutoff

__all__ = [
    "COVARIATES",
    "COVARIATE_SET_VERSION",
    "INDEX_TYPES_BY_SETTING",
    "Attrition",
    "AttritionStep",
    "CohortResult",
    "CohortSpec",
    "Exclusion",
    "analysis_frame",
    "analysis_measures",
    "build_cohort",
    "build_pool",
    "covariate_measures",
    "describe_definitions",
    "eligibility_sql",
    "exclusion_rules",
    "pool_attrition",
    "pool_events_sql",
    "pool_sql",
    "prepare_pool",
    "prepared_pool_file",
    "read_data_cutoff",
    "read_pool",
    "restrict_pool",
    "treated_rows_sql",
    "write_pool",
]
