"""SQL that turns people records into the columns the linkage model compares.

Pure functions returning DuckDB SQL; :mod:`jdl.linkage._link` runs them. The same feature
columns are built for the register (people plus their aliases, one record each) and for a
submission, so every comparison and blocking rule is plain column equality or a string
distance: nothing backend-specific is left for Splink to translate.
"""

from __future__ import annotations

from jdl.linkage._names import clean_name_sql, name_parts_sql, soundex_sql

# Columns of a linkage record, in order (the Splink input tables).
FEATURE_COLUMNS = (
    "unique_id",
    "source_dataset",
    "person_id",
    "forename",
    "surname",
    "forename_groups",
    "forename_parts",
    "surname_parts",
    "surname_first",
    "surname_last",
    "forename_soundex",
    "surname_soundex",
    "dob",
    "dob_swapped",
    "dob_md",
    "dob_md_swapped",
    "dob_ym",
    "dob_yd",
    "dob_year",
    "dob_placeholder_year",
    "sex",
    "pnc_id",
    "prison_number",
)
REGISTER = "register"
# A date of birth on or before this day is a placeholder for "unknown" (1900-01-01,
# 0001-01-01, Excel's 1899-12-31): no evidence either way, compared as missing. A later date,
# however unlikely (1900-06-08), is what was typed and is compared as it stands (FEBRL's
# people are born from 1900 on: treating the whole year 1900 as unknown lost 1% of them).
UNKNOWN_DOB_LAST = "1900-01-01"
SUBMISSION = "submission"


def register_records_sql(schema: str = "adm", *, middle_names: bool = True) -> str:
    """People and their aliases as records ``(unique_id, person_id, names, dob, sex, ids)``.

    An alias is another record of the same person: it keeps the person's sex, middle names and
    IDs and takes the person's date of birth when the alias has none. Alias records let a
    submission that uses an alias name link without any special comparison level. Middle names
    (contract 1.2) go with the alias because given names do not change with another surname or
    a nickname: "Anthony Jones" for Mark Anthony Smith, known as Mark Jones, is his alias with
    his middle name. ``middle_names=False``: the people table has no such column (a database
    written under contract 1.1, a hand-made test register); no one has middle names then.
    """
    middle, p_middle = ("middle_names", "p.middle_names") if middle_names else (
        "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)")
    return f"""
        SELECT person_id, 0 AS alias_no, forename, {middle} AS middle_names, surname,
               date_of_birth, sex, pnc_id, prison_number
        FROM {schema}.people
        UNION ALL
        SELECT a.person_id,
               row_number() OVER (PARTITION BY a.person_id ORDER BY a.forename, a.surname,
                                  a.date_of_birth) AS alias_no,
               a.forename, {p_middle}, a.surname, coalesce(a.date_of_birth, p.date_of_birth),
               p.sex, p.pnc_id, p.prison_number
        FROM {schema}.aliases AS a JOIN {schema}.people AS p USING (person_id)
    """


def features_sql(records: str, source: str, *, id_expr: str, person_expr: str,
                 middle_expr: str | None = None) -> str:
    """Feature columns for the rows of ``records`` (a table name or a parenthesised query).

    ``id_expr`` gives the record's unique id, ``person_expr`` its person_id (NULL for a
    submission). ``middle_expr``: the record's other given names (a register record's
    ``middle_names``), which join the forename's parts in ``forename_parts`` — so a middle name
    used as the forename reaches the "another forename part" level and is no twin to the
    relatives guard — while ``forename`` stays the forename alone. Needs a
    ``nickname_groups(name, name_group)`` table in the same database.
    """
    given = "forename" if middle_expr is None else f"concat_ws(' ', forename, {middle_expr})"
    return f"""
        WITH cleaned AS (
            SELECT {id_expr} AS unique_id,
                   {person_expr} AS person_id,
                   {clean_name_sql("forename")} AS forename,
                   {clean_name_sql("surname")} AS surname,
                   {name_parts_sql(given)} AS forename_parts,
                   {name_parts_sql("surname")} AS surname_parts,
                   CASE WHEN CAST(date_of_birth AS DATE) > DATE '{UNKNOWN_DOB_LAST}'
                        THEN CAST(date_of_birth AS DATE) END AS date_of_birth,
                   nullif(upper(trim(CAST(sex AS VARCHAR))), '') AS sex,
                   nullif(upper(trim(CAST(pnc_id AS VARCHAR))), '') AS pnc_id,
                   nullif(upper(trim(CAST(prison_number AS VARCHAR))), '') AS prison_number
            FROM {records}
        ),
        groups AS (
            SELECT name, list(name_group ORDER BY name_group) AS name_groups
            FROM nickname_groups GROUP BY name
        )
        SELECT c.unique_id,
               '{source}' AS source_dataset,
               c.person_id,
               c.forename,
               c.surname,
               CASE WHEN c.forename IS NULL THEN NULL
                    ELSE list_distinct(list_concat([c.forename], coalesce(g.name_groups, [])))
               END AS forename_groups,
               CASE WHEN len(c.forename_parts) > 0 THEN c.forename_parts END AS forename_parts,
               CASE WHEN len(c.surname_parts) > 0 THEN c.surname_parts END AS surname_parts,
               coalesce(c.surname_parts[1], c.surname) AS surname_first,
               coalesce(c.surname_parts[-1], c.surname) AS surname_last,
               {soundex_sql("c.forename")} AS forename_soundex,
               {soundex_sql("c.surname")} AS surname_soundex,
               strftime(c.date_of_birth, '%Y-%m-%d') AS dob,
               CASE WHEN day(c.date_of_birth) <= 12
                    THEN strftime(c.date_of_birth, '%Y-%d-%m') END AS dob_swapped,
               strftime(c.date_of_birth, '%m-%d') AS dob_md,
               CASE WHEN day(c.date_of_birth) <= 12
                    THEN strftime(c.date_of_birth, '%d-%m') END AS dob_md_swapped,
               strftime(c.date_of_birth, '%Y-%m') AS dob_ym,
               strftime(c.date_of_birth, '%Y-%d') AS dob_yd,
               year(c.date_of_birth) AS dob_year,
               -- 1 January: often typed when only the year is known
               CASE WHEN strftime(c.date_of_birth, '%m-%d') = '01-01'
                    THEN year(c.date_of_birth) END AS dob_placeholder_year,
               c.sex,
               c.pnc_id,
               c.prison_number
        FROM cleaned AS c LEFT JOIN groups AS g ON g.name = c.forename
    """


def register_features_sql(schema: str = "adm", *, middle_names: bool = True) -> str:
    """Feature records of the whole register (people and aliases); ``middle_names``: whether
    the people table has the column (see :func:`register_records_sql`)."""
    records = f"({register_records_sql(schema, middle_names=middle_names)})"
    return features_sql(
        records,
        REGISTER,
        id_expr="person_id * 64 + alias_no",
        person_expr="person_id",
        middle_expr="middle_names",
    )


def submission_features_sql(table: str) -> str:
    """Feature records of a submission's accepted rows (unique id = row_number)."""
    return features_sql(
        table, SUBMISSION, id_expr="CAST(row_number AS BIGINT)", person_expr="CAST(NULL AS BIGINT)"
    )


def term_frequency_sql(column: str, features_table: str) -> str:
    """Relative frequency of each value of ``column`` in the register's records."""
    return f"""
        SELECT {column}, count(*) / sum(count(*)) OVER () AS tf_{column}
        FROM {features_table} WHERE {column} IS NOT NULL GROUP BY {column}
    """


def placeholder_share_sql(features_table: str) -> str:
    """The share of ``features_table``'s dates of birth that are 1 January
    (``dob_placeholder_year`` set), among those given: the u of a placeholder date level
    depends on it (:func:`jdl.linkage._em.placeholder_u_factor`)."""
    return (
        "SELECT coalesce(avg(CASE WHEN dob_placeholder_year IS NULL THEN 0.0 ELSE 1.0 END), 0.0) "
        f"FROM {features_table} WHERE dob IS NOT NULL"
    )
