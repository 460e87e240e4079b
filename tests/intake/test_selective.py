"""The selective-sample rule, decided once (intake) and released with the results."""

from __future__ import annotations

import pytest

from jdl.intake import selection_concerns, selective_sample


@pytest.mark.parametrize("basis, declared, submitted, expected", [
    ("all_participants", 400, 431, ()),
    ("all_participants", None, 50, ()),
    ("all_participants", 400, 319, ("low_share",)),  # 79.75% < 80%
    ("all_participants", 400, 320, ()),  # exactly 80%
    ("completers_only", 400, 400, ("completers_only",)),
    ("completers_only", 400, 100, ("completers_only", "low_share")),
    ("other", 400, 400, ("other_basis",)),
])
def test_the_rule(basis, declared, submitted, expected):
    assert selection_concerns(basis, declared, submitted, 0.8) == expected


def test_the_finding_states_each_concern_once():
    form = {"declared_participants": 400, "selection_basis": "completers_only"}
    finding = selective_sample(form, 100, 0.8)
    assert finding.concerns == ("completers_only", "low_share")
    assert finding.share_submitted == 0.25
    assert finding.warning.count("completed the programme") == 1
    assert "The file holds about 20% of the people" in finding.warning  # never the figure
    clear = selective_sample({"declared_participants": 400}, 431, 0.8)
    assert (clear.warning, clear.share_submitted, clear.selection_basis) == (
        None, 1.0, "all_participants")


def test_intake_warns_on_the_same_rule():
    from jdl.core.config import IntakeSettings
    from jdl.intake import programme_from_dict, selection_warnings

    base = {"organisation": "O", "programme_name": "P", "sector": "voluntary_community",
            "intervention_type": "employment", "setting": "custody",
            "delivery_start": "2015-01-01", "delivery_end": "2016-01-01",
            "referral_route": "Probation", "region": "London", "description": "Mentoring."}
    for basis, declared, accepted in (("completers_only", 400, 400), ("other", None, 10),
                                      ("all_participants", 400, 100),
                                      ("all_participants", 400, 400)):
        prog = programme_from_dict({**base, "selection_basis": basis, "selection_notes": "Chosen.",
                                    "declared_participants": declared})
        notes = selection_warnings(prog, accepted, IntakeSettings())
        concerns = selection_concerns(basis, declared, accepted, 0.8)
        assert len(notes) == len(concerns), (basis, declared, accepted)
