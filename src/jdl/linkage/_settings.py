"""The linkage model's specification: comparisons, levels, blocking rules (Splink 5).

One backend-neutral definition: every level is an equality, a null check, a Splink string
distance or a comparison of pre-computed columns (see :mod:`jdl.linkage._features`), so the
same creators give the DuckDB and the Spark settings. Heavy import (splink) happens on call.
Custom SQL uses bare identifiers: a double-quoted name is an identifier in DuckDB but a string
literal in Spark (found by the Spark parity test). Levenshtein rather than Damerau-Levenshtein:
on DuckDB it is 3-5x faster (measured on 2.4M pairs) and the Jaro-Winkler level already catches
transposed letters.
"""

from __future__ import annotations

from typing import Any

# Prior m-probabilities: what share of true matches falls in each level of each comparison.
# They describe a hand-typed list compared with official records (a few typos, nicknames,
# day/month swaps, IDs often wrong or missing) and are used where the labelled pairs available
# at training time cannot estimate a level (see _train.sanity_check). Keys are level labels.
PRIOR_M: dict[str, dict[str, float]] = {
    "forename": {
        "exact": 0.86, "nickname or variant": 0.06, "one edit": 0.04, "similar": 0.015,
        "another forename part": 0.005, "swapped with surname": 0.004,
        "swapped with surname, one edit": 0.001, "loosely similar": 0.005, "initial": 0.003,
        "else": 0.007,
    },
    "surname": {
        "exact": 0.87, "one edit": 0.06, "similar": 0.02, "one part agrees": 0.01,
        "swapped with forename": 0.004,
        "swapped with forename, one edit": 0.001, "loosely similar": 0.015, "else": 0.02,
    },
    "dob": {
        "exact": 0.82, "day and month swapped": 0.04, "year one off": 0.04,
        "a day or two off": 0.02, "1 January of the same year": 0.01,
        "1 January, a year or two out": 0.003, "one character": 0.035,
        "digits transposed": 0.005, "swapped and year one off": 0.005,
        "two characters": 0.01, "else": 0.012,
    },
    "sex": {"exact": 0.98, "else": 0.02},
    "pnc_id": {"exact": 0.97, "else": 0.03},
    "prison_number": {"exact": 0.97, "else": 0.03},
}


# Forename typed in the surname box (and the other way round), exactly or with one typo
# (``levenshtein`` has the same name and meaning in DuckDB and Spark SQL). Two levels: a
# looser cross match is common between unrelated short names (u 0.003 for two edits).
_SWAPPED = "{a}_l = {b}_r"
_SWAPPED_TYPO = "length({a}_l) >= 4 AND levenshtein({a}_l, {b}_r) <= 1"


def digits_transposed_sql(left: str, right: str) -> str:
    """Two ``YYYY-MM-DD`` dates alike but for two neighbouring digits of the year's last two,
    the month or the day typed in the wrong order (``1986`` → ``1968``, ``13`` → ``31``): the
    classic keying error (Damerau 1964), and two characters apart for Levenshtein, so without
    this level a transposed year looked like another person's date — or, decades away, like a
    same-named parent's. ``substr`` and ``=`` only: the same in DuckDB and Spark SQL."""
    def same(start: int, length: int) -> str:
        return f"substr({left}, {start}, {length}) = substr({right}, {start}, {length})"

    def crossed(i: int) -> str:
        return (f"substr({left}, {i}, 1) = substr({right}, {i + 1}, 1) "
                f"AND substr({left}, {i + 1}, 1) = substr({right}, {i}, 1)")

    return (f"(({same(1, 2)} AND {crossed(3)} AND {same(5, 6)}) "
            f"OR ({same(1, 5)} AND {crossed(6)} AND {same(8, 3)}) "
            f"OR ({same(1, 8)} AND {crossed(9)}))")


def comparisons() -> list[Any]:
    """The Fellegi–Sunter comparisons, most specific level first."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def label(level: Any, text: str) -> Any:
        return level.configure(label_for_charts=text)

    forename = cl.CustomComparison(
        output_column_name="forename",
        comparison_levels=[
            cll.NullLevel("forename"),
            label(cll.ExactMatchLevel("forename"), "exact").configure(
                tf_adjustment_column="forename", tf_adjustment_weight=1.0
            ),
            label(cll.ArrayIntersectLevel("forename_groups", 1), "nickname or variant"),
            label(cll.LevenshteinLevel("forename", 1), "one edit"),
            label(cll.JaroWinklerLevel("forename", 0.88), "similar"),
            # a middle name used as the forename ("Paul" for "John Paul")
            label(cll.ArrayIntersectLevel("forename_parts", 1), "another forename part"),
            label(cll.CustomLevel(_SWAPPED.format(a="forename", b="surname")),
                  "swapped with surname"),
            label(cll.CustomLevel(_SWAPPED_TYPO.format(a="forename", b="surname")),
                  "swapped with surname, one edit"),
            # several typing errors in one name (Splink's NameComparison's lowest level)
            label(cll.JaroWinklerLevel("forename", 0.7), "loosely similar"),
            label(cll.CustomLevel('substr(forename_l, 1, 1) = substr(forename_r, 1, 1)'),
                  "initial"),
            label(cll.ElseLevel(), "else"),
        ],
    )
    surname = cl.CustomComparison(
        output_column_name="surname",
        comparison_levels=[
            cll.NullLevel("surname"),
            label(cll.ExactMatchLevel("surname"), "exact").configure(
                tf_adjustment_column="surname", tf_adjustment_weight=1.0
            ),
            label(cll.LevenshteinLevel("surname", 1), "one edit"),
            label(cll.JaroWinklerLevel("surname", 0.88), "similar"),
            # double-barrelled and married names ("Williams-Dohworth" for "Dohworth")
            label(cll.ArrayIntersectLevel("surname_parts", 1), "one part agrees"),
            label(cll.CustomLevel(_SWAPPED.format(a="surname", b="forename")),
                  "swapped with forename"),
            label(cll.CustomLevel(_SWAPPED_TYPO.format(a="surname", b="forename")),
                  "swapped with forename, one edit"),
            label(cll.JaroWinklerLevel("surname", 0.7), "loosely similar"),
            label(cll.ElseLevel(), "else"),
        ],
    )
    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            label(cll.ExactMatchLevel("dob"), "exact"),
            label(cll.CustomLevel('dob_swapped_l = dob_r'), "day and month swapped"),
            label(cll.CustomLevel(
                'dob_md_l = dob_md_r AND abs(dob_year_l - dob_year_r) = 1'
            ), "year one off"),
            label(cll.AbsoluteDateDifferenceLevel("dob", input_is_string=True, threshold=2,
                                                  metric="day"), "a day or two off"),
            # before the placeholder levels: a one-digit slip that lands on, or comes from, a
            # 1 January is weighed as a slip, not by the upload's share of placeholder dates
            label(cll.LevenshteinLevel("dob", 1), "one character"),
            # 1 January typed when only the year of birth is known, on either side
            label(cll.CustomLevel(
                'dob_placeholder_year_l = dob_year_r OR dob_year_l = dob_placeholder_year_r'
            ), "1 January of the same year"),
            # 1 January of a year estimated from an age: a year or two out
            label(cll.CustomLevel(
                'abs(dob_placeholder_year_l - dob_year_r) <= 2 '
                'OR abs(dob_year_l - dob_placeholder_year_r) <= 2'
            ), "1 January, a year or two out"),
            label(cll.CustomLevel(digits_transposed_sql("dob_l", "dob_r")), "digits transposed"),
            label(cll.CustomLevel(
                'dob_md_swapped_l = dob_md_r AND abs(dob_year_l - dob_year_r) = 1'
            ), "swapped and year one off"),
            label(cll.LevenshteinLevel("dob", 2), "two characters"),
            label(cll.ElseLevel(), "else"),
        ],
    )
    return [
        forename,
        surname,
        dob,
        _exact("sex"),
        _exact("pnc_id"),
        _exact("prison_number"),
    ]


def _exact(column: str) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column).configure(label_for_charts="exact"),
            cll.ElseLevel().configure(label_for_charts="else"),
        ],
    )


# Blocking rules as data: each rule is a tuple of equalities (left expression, right
# expression), ``{t}`` standing for the table alias. The left side is the submission. One
# definition gives both Splink's rules (Spark, training) and the single DuckDB query of
# :func:`blocked_pairs_sql` (the fast path for linking).
_F1, _S1 = "substr({t}.forename, 1, 1)", "substr({t}.surname, 1, 1)"
_NO_DOB = ("coalesce({t}.dob, '-')", "'-'")  # the submitted row has no (usable) date of birth
BLOCKING_RULES: tuple[tuple[tuple[str, str], ...], ...] = (
    (("{t}.pnc_id", "{t}.pnc_id"),),
    (("{t}.prison_number", "{t}.prison_number"),),
    (("{t}.dob", "{t}.dob"), (_F1, _F1)),
    (("{t}.dob", "{t}.dob"), (_S1, _S1)),
    (("{t}.dob_swapped", "{t}.dob"), (_F1, _F1)),
    (("{t}.dob_swapped", "{t}.dob"), (_S1, _S1)),
    (("{t}.surname", "{t}.surname"), ("{t}.dob_md", "{t}.dob_md")),
    (("{t}.surname", "{t}.surname"), ("{t}.dob_md_swapped", "{t}.dob_md")),
    (("{t}.surname", "{t}.surname"), ("{t}.dob_ym", "{t}.dob_ym")),
    (("{t}.surname", "{t}.surname"), ("{t}.dob_yd", "{t}.dob_yd")),
    (("{t}.forename", "{t}.forename"), ("{t}.dob_md", "{t}.dob_md"), (_S1, _S1)),
    (("{t}.forename", "{t}.forename"), ("{t}.dob_ym", "{t}.dob_ym"), (_S1, _S1)),
    # forename and surname swapped, date of birth right
    (("{t}.dob", "{t}.dob"), (_F1, _S1)),
    # the full name, whatever the date of birth (several wrong digits, placeholder dates);
    # a surname part stands for a double-barrelled or married name
    (("{t}.forename", "{t}.forename"), ("{t}.surname", "{t}.surname")),
    (("{t}.forename", "{t}.forename"), ("{t}.surname_first", "{t}.surname_first")),
    (("{t}.forename", "{t}.forename"), ("{t}.surname_last", "{t}.surname_last")),
    # a double-barrelled or married name whose registered part is the second, with the date of
    # birth right, whatever the forename (a middle name or nickname with another initial)
    (("{t}.surname_last", "{t}.surname"), ("{t}.dob", "{t}.dob")),
    (("{t}.surname", "{t}.surname_last"), ("{t}.dob", "{t}.dob")),
    # the full name with one of the names mistyped (same Soundex code), whatever the date of
    # birth: a typo together with several wrong digits or a placeholder date
    (("{t}.forename", "{t}.forename"), ("{t}.surname_soundex", "{t}.surname_soundex")),
    (("{t}.forename_soundex", "{t}.forename_soundex"), ("{t}.surname", "{t}.surname")),
    # the full name swapped, whatever the date of birth
    (("{t}.forename", "{t}.surname"), ("{t}.surname", "{t}.forename")),
    # a name, the other's initial and the year of birth (a name error and a wrong day+month)
    (("{t}.surname", "{t}.surname"), ("{t}.dob_year", "{t}.dob_year"), (_F1, _F1)),
    (("{t}.forename", "{t}.forename"), ("{t}.dob_year", "{t}.dob_year"), (_S1, _S1)),
    # 1 January of the right year (only the year was known), on either side, with initials
    (("{t}.dob_placeholder_year", "{t}.dob_year"), (_F1, _F1), (_S1, _S1)),
    (("{t}.dob_year", "{t}.dob_placeholder_year"), (_F1, _F1), (_S1, _S1)),
    # no usable date of birth: the surname and the forename's initial
    (_NO_DOB, ("{t}.surname", "{t}.surname"), (_F1, _F1)),
    (_NO_DOB, ("{t}.forename", "{t}.forename"), (_S1, _S1)),
)


def _condition(rule: tuple[tuple[str, str], ...], left: str, right: str) -> str:
    return " AND ".join(f"{a.format(t=left)} = {b.format(t=right)}" for a, b in rule)


def blocking_rules() -> list[str]:
    """Candidate-pair rules (Splink SQL strings): a pair is scored when any rule holds.

    Designed for up to two errors per row among a name typo, a nickname, a day/month swap, a
    wrong year or digits, swapped forename and surname, a placeholder date (1 January of the
    year, or an unknown date), a double-barrelled or married surname, with no rule keyed on a
    single name or a date alone (a common name or a date of birth in a 10M register gives
    hundreds of pairs per row):

    * same PNC ID / prison number;
    * same date of birth, or with day and month swapped, plus the initial of either name, or
      the forename's initial equal to the register's surname's (names swapped);
    * surname with birth day/month (wrong year), with day/month swapped (swap and wrong year),
      with year-month (wrong day) or year-day (wrong month) — each plus a forename error;
    * forename and surname initial with birth day/month or year-month (surname typo plus a
      date error: typists rarely get the first letter wrong);
    * the full name (the surname's first or last part), or the full name swapped, whatever
      the date of birth;
    * one side's last surname part equal to the other's surname, with the date of birth (a
      double-barrelled name registered by its second part; the first part's initial is
      covered by the date-and-initial rules);
    * a name, the other name's initial and the year of birth;
    * both initials and the year when either date is 1 January (only the year was known);
    * a name and the other's initial when the row has no usable date of birth.
    """
    return [_condition(rule, "l", "r") for rule in BLOCKING_RULES]


def blocked_pairs_sql(left: str, right: str) -> str:
    """All candidate pairs of :data:`BLOCKING_RULES` in one DuckDB query:
    ``match_key, id_l, id_r`` (the lowest rule that produced the pair).

    Equivalent to Splink's own blocking for these rules, but one hash join per rule over the
    register instead of Splink's per-rule pipeline.
    """
    joins = " UNION ALL ".join(
        f"SELECT {k} AS match_key, l.unique_id AS id_l, r.unique_id AS id_r "
        f"FROM {left} AS l JOIN {right} AS r ON {_condition(rule, 'l', 'r')}"
        for k, rule in enumerate(BLOCKING_RULES)
    )
    return f"SELECT min(match_key) AS match_key, id_l, id_r FROM ({joins}) GROUP BY id_l, id_r"


def settings_creator(link_type: str, probability_two_random_records_match: float) -> Any:
    """Splink settings for the register (``dedupe_only``, training) or linking (``link_only``)."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        probability_two_random_records_match=probability_two_random_records_match,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=["person_id"],
        unique_id_column_name="unique_id",
        source_dataset_column_name="source_dataset",
    )
