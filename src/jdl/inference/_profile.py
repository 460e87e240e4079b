"""Who the analysis is about: the matched treatment group by characteristic (counts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from jdl.core.results import Kind, released

#: Age bands used by the report's profile and by the sub-group analysis (JDL report bands).
AGE_BANDS = ((0, 17, "under 18"), (17, 24, "18-24"), (24, 29, "25-29"), (29, 39, "30-39"),
             (39, 49, "40-49"), (49, 200, "50+"))

#: The profile's characteristics, in report order; sex codes are written out.
PROFILE_DIMENSIONS = ("sex", "age_band", "ethnicity", "nationality", "index_offence_group")
_SEX = {"M": "Male", "F": "Female"}


def age_band(age: pd.Series) -> pd.Series:
    """Age in completed years as the JDL's bands (right-closed: 17 is "under 18")."""
    edges = [AGE_BANDS[0][0], *(hi for _, hi, _ in AGE_BANDS)]
    return pd.cut(age, edges, labels=[label for *_, label in AGE_BANDS]).astype(str)


@dataclass(frozen=True)
class Profile:
    """People in the matched treatment group by category, per characteristic (most common
    first): every count is of people, and the counts of one table sum to the group."""

    tables: Mapping[str, Mapping[str, int]] = released(Kind.COUNT)


def treated_profile(matched: pd.DataFrame, treatment: str = "treated") -> Profile:
    """The profile of the matched treatment group (``matched``: a MatchResult's rows)."""
    treated = matched[matched[treatment] == 1]
    columns = {
        "sex": treated["sex"].map(_SEX),
        "age_band": age_band(treated["age_at_index"]),
        "ethnicity": treated["ethnicity"],
        "nationality": treated["nationality"],
        "index_offence_group": treated["index_offence_group"],
    }
    return Profile({dim: {str(level): int(n) for level, n in col.value_counts().items()}
                    for dim, col in columns.items()})
