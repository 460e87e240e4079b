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


def register_records_sql(schema: str = "adm") -> str:
    """People and their aliases as records ``(unique_id, person_id, names, dob, sex, ids)``.

    An alias is another record of the same person: it keeps the person's sex and IDs and takes
    the person's date of birth when the alias has none. Alias records let a submission that uses
    an alias name link without any special comparison level.
    """
    return f"""
        SELECT person_id, 0 AS alias_no, forename, surname, date_of_birth, sex, pnc_id,
               prison_number
        FROM {schema}.people
        UNION ALL
        SELECT a.person_id,
               row_number() OVER (PARTITION BY a.person_id ORDER BY a.forename, a.surname,
                                  a.date_of_birth) AS alias_no,
               a.forename, a.surname, coalesce(a.date_of_birth, p.date_of_birth), p.sex,
               p.pnc_id, p.prison_number
        FROM {schema}.aliases AS a JOIN {schema}.people AS p USING (person_id)
    """


def features_sql(records: str, source: str, *, id_expr: str, person_expr: str) -> str:
    """Feature columns for the rows of ``records`` (a table name or a parenthesised query).

    ``id_expr`` gives the record's unique id, ``person_expr`` its person_id (NULL for a
    submission). Needs a ``nickname_groups(name, name_group)`` table in the same database.
    """
    return f"""
        WITH cleaned AS (
            SELECT {id_expr} AS unique_id,
                   {person_expr} AS person_id,
                   {clean_name_sql("forename")} AS forename,
                   {clean_name_sql("surname")} AS surname,
                   {name_parts_sql("forename")} AS forename_parts,
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


def register_features_sql(schema: str = "adm") -> str:
    """Feature records of the whole register (people and aliases)."""
    records = f"({register_records_sql(schema)})"
    return features_sql(
        records,
        REGISTER,
        id_expr="person_id * 64 + alias_no",
        person_expr="person_id",
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
