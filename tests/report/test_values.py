"""Formatting rules for released numbers: suppression marks, dashes, signs, p-values, paths."""

from __future__ import annotations

import math

import pytest

from jdl.report import ReportError
from jdl.report._values import (
    Released,
    fmt_count,
    fmt_number,
    fmt_p,
    fmt_yes_no,
    normalise_path,
)


@pytest.mark.parametrize("path", ["/profile/sex/Female", "profile.sex.Female",
                                  "$.profile.sex.Female", "$['profile']['sex']['Female']"])
def test_path_spellings(path):
    assert normalise_path(path) == ("profile", "sex", "Female")


def test_json_pointer_keys_keep_dots_and_escapes():
    assert normalise_path("/exclusions/Aged 14 or under. Really~1not~0") == (
        "exclusions", "Aged 14 or under. Really/not~")
    assert normalise_path("/attrition/1/n") == ("attrition", "1", "n")


def _rel(*suppressed: str) -> Released:
    return Released.from_dict({"programme": {}, "measures": {}, "headline_measures": [],
                               "disclosure": {"suppressed": list(suppressed)}})


def test_null_is_the_mark_unless_the_field_does_not_apply():
    rel = _rel("/balance/1/smd_after", "/balance/2/variance_ratio_after")
    assert "[c]" in fmt_number(rel, None, ("balance", 1, "smd_after"))
    assert "[c]" in fmt_number(rel, None, ("counts", "rejected"))  # unlisted null: still [c]
    assert "[c]" not in fmt_number(rel, None, ("balance", 0, "variance_ratio_after"))
    assert "[c]" in fmt_number(rel, None, ("balance", 2, "variance_ratio_after"))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, None])
def test_non_finite_numbers_are_never_printed(value):
    text = str(fmt_number(_rel(), value, ("x",)))
    assert "[c]" in text and "nan" not in text.lower() and "inf" not in text.lower()


def test_number_formats():
    rel = _rel()
    assert fmt_number(rel, -0.0749, ("d",), scale=100, signed=True) == "-7.5"
    assert fmt_number(rel, 0.0001, ("d",), scale=100, signed=True) == "0.0"  # never "+0.0"/"-0.0"
    assert fmt_number(rel, -0.0004, ("d",), scale=100, signed=True) == "0.0"
    assert fmt_count(rel, 41875, ("n",)) == "41,875"
    assert fmt_p(rel, 0.0247, ("p",)) == "0.025"
    assert fmt_p(rel, 0.00001, ("p",)) == "&lt;0.001"
    assert fmt_yes_no(rel, True, ("s",)) == "Yes" and fmt_yes_no(rel, False, ("s",)) == "No"
    assert "[c]" in fmt_yes_no(rel, None, ("s",))
    with pytest.raises(ReportError, match=r"expected a number at measures\.x\.treatment"):
        fmt_number(rel, "lots", ("measures", "x", "treatment"))


def test_suppressed_list_must_be_paths():
    with pytest.raises(ReportError, match="JSON paths"):
        Released.from_dict({"programme": {}, "measures": {}, "headline_measures": [],
                            "disclosure": {"suppressed": [3]}})


@pytest.mark.parametrize(("code", "name"), [
    ("sexF", "Sex: Female"), ("sex[M]", "Sex: Male"), ("ethnicityAsian", "Ethnicity: Asian"),
    ("index_offence_groupcriminal_damage", "Index offence: Criminal damage and arson"),
    ("prev_custodial", "Previous custodial sentences"), ("distance", "Propensity score"),
    ("sexual_history", "Sexual history"), ("some_new_thing", "Some new thing"),
])
def test_covariate_names(code, name):
    from jdl.report._values import covariate_name

    assert covariate_name(code) == name


def test_an_object_with_a_results_dict_is_read():
    from types import SimpleNamespace

    result = SimpleNamespace(results={"programme": {}, "measures": {}, "headline_measures": [],
                                      "disclosure": {"suppressed": ["/counts/rejected"]}})
    assert Released.from_dict(result).is_suppressed("counts", "rejected")


def test_every_offence_group_has_a_reader_name_used_in_tables():
    from jdl.admin.contract import OFFENCE_GROUP_NAMES, OFFENCE_GROUPS
    from jdl.report._values import covariate_name, level_name

    assert set(OFFENCE_GROUP_NAMES) == set(OFFENCE_GROUPS)
    assert all(name and "_" not in name for name in OFFENCE_GROUP_NAMES.values())
    assert level_name("misc_society", "index_offence_group") == "Other crimes against society"
    assert covariate_name("index_offence_groupsummary_motoring") == \
        "Index offence: Less serious motoring offences"
    assert level_name("violence") == "Violence"  # another characteristic's code is only tidied
