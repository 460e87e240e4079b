"""Eligibility: exclusion rules as data, applied in order; the first rule an event meets is its
one counted reason (so every person lands in exactly one bucket of the attrition chevron)."""

from __future__ import annotations

from dataclasses import dataclass

from jdl.cohort._spec import OFFENCE_FLAG_RULES, CohortSpec
from jdl.engines.dialect import add_days, age_at, date_literal, quote_string


@dataclass(frozen=True)
class Exclusion:
    """One exclusion: a SQL predicate over the eligibility columns (the event's columns,
    ``age_at_index``, ``index_dv_flag``, ``index_terrorism_flag``, ``flag_<name>_date``)."""

    reason: str
    label: str
    predicate: str


def exclusion_rules(spec: CohortSpec) -> tuple[Exclusion, ...]:
    """The rules in the order they are applied."""
    complete_by = add_days("index_date", spec.follow_up_days + spec.waiting_period_days)
    rules = [
        Exclusion(
            "follow_up_incomplete",
            f"Follow-up not complete ({spec.follow_up_days} days plus a "
            f"{spec.waiting_period_days}-day waiting period) by the data cut-off",
            f"{complete_by} > {date_literal(spec.data_cutoff)}",
        ),
        Exclusion(
            "under_minimum_age",
            f"Aged {spec.min_age_at_index - 1} or under at index",
            f"age_at_index < {spec.min_age_at_index}",
        ),
    ]
    for flag in spec.excluded_offence_flags:
        reason, label, predicate = OFFENCE_FLAG_RULES[flag]
        rules.append(Exclusion(reason, label, predicate))
    for flag in spec.excluded_person_flags:
        column = f"flag_{flag}_date"
        rules.append(
            Exclusion(
                f"flag_{flag}",
                f"Flagged {flag.replace('_', ' ')} at index",
                f"{column} IS NOT NULL AND {column} <= index_date",
            )
        )
    for reason, predicate in spec.custom_exclusions:
        rules.append(Exclusion(reason, reason.replace("_", " ").capitalize(), f"({predicate})"))
    return tuple(rules)


def _flags_join(spec: CohortSpec) -> tuple[str, str]:
    if not spec.excluded_person_flags:
        return "", ""
    columns = ", ".join(
        f"MIN(flag_date) FILTER (WHERE flag = {quote_string(f)}) AS flag_{f}_date"
        for f in spec.excluded_person_flags
    )
    select = ", " + ", ".join(f"fl.flag_{f}_date" for f in spec.excluded_person_flags)
    join = (
        f"\n      LEFT JOIN (SELECT person_id, {columns} FROM flags GROUP BY person_id) AS fl"
        "\n        ON fl.person_id = e.person_id"
    )
    return select, join


def eligibility_sql(events_sql: str, spec: CohortSpec) -> str:
    """``events_sql``'s rows with ``exclusion_reason`` (NULL when eligible) and ``age_at_index``.

    Needs the tables ``people`` and ``offences`` (and ``flags`` when person flags exclude).
    """
    flag_select, flag_join = _flags_join(spec)
    cases = "\n             ".join(
        f"WHEN {r.predicate} THEN {quote_string(r.reason)}" for r in exclusion_rules(spec)
    )
    return f"""
    SELECT b.*, CASE {cases}
             ELSE NULL END AS exclusion_reason
    FROM (
      SELECT e.*, {age_at("p.date_of_birth", "e.index_date")} AS age_at_index,
             COALESCE(io.dv_flag, FALSE) AS index_dv_flag,
             COALESCE(io.terrorism_flag, FALSE) AS index_terrorism_flag{flag_select}
      FROM ({events_sql}) AS e
      JOIN people AS p ON p.person_id = e.person_id
      LEFT JOIN offences AS io ON io.offence_id = e.index_offence_id{flag_join}
    ) AS b"""
