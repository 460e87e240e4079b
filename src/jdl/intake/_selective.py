"""The selective-sample safeguard, decided once: does the file look like a biased subset?

An organisation that submits only the people who completed its programme, or a small share of
the people it worked with, hands the lab a group chosen by how things went: people who finish
tend to differ from those who drop out (for example in motivation), so the comparison flatters
the programme (the JDL's guidance on "selection bias from submitting completers only"). Intake
checks it when the file arrives; the evaluation releases the same finding with the results and
the report states it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from jdl.core.results import Kind, internal, released

Concern = Literal["completers_only", "other_basis", "low_share"]

#: The sentence released for each concern (the report shows it once, above the results).
CONCERN_SENTENCES: dict[str, str] = {
    "completers_only": (
        "The organisation submitted only people who completed the programme. People who drop "
        "out often differ from those who finish, so these results are likely to make the "
        "programme look more effective than it is."),
    "low_share": (
        # no exact figure: the share to the nearest 10% (as released), never the declared
        # number (with the released submitted count it would pin the share exactly)
        "The file holds about {share_10:.0%} of the people the organisation says it worked "
        "with. If those left out differ from those included, the results may not represent the "
        "programme as a whole."),
    "other_basis": (
        "The people in the file were chosen in a way other than 'all participants'; the results "
        "may not represent everyone the programme worked with."),
}


def selection_concerns(basis: str | None, declared: int | None, submitted: int,
                       min_share: float) -> tuple[Concern, ...]:
    """The rule: completers only; chosen some other way; or fewer than ``min_share`` of the
    declared participants submitted (each at most once, in that order)."""
    concerns: list[Concern] = []
    if basis == "completers_only":
        concerns.append("completers_only")
    elif basis == "other":
        concerns.append("other_basis")
    if declared and min(1.0, submitted / declared) < min_share:
        concerns.append("low_share")
    return tuple(concerns)


@dataclass(frozen=True)
class SelectiveSample:
    """Who the organisation says it worked with against who it submitted, and the concern."""

    declared_participants: int | None = released(Kind.COUNT)
    submitted: int = released(Kind.COUNT)
    share_submitted: float | None = released(Kind.STATISTIC)
    selection_basis: str = released(Kind.LABEL)
    warning: str | None = released(Kind.LABEL)
    concerns: tuple[Concern, ...] = internal(default=())


def selective_sample(programme: dict[str, Any], submitted: int,
                     min_share: float) -> SelectiveSample:
    """The finding for ``programme`` (its form as a dict) and ``submitted`` rows."""
    declared = programme.get("declared_participants")
    basis = programme.get("selection_basis") or "all_participants"
    share = None if not declared else min(1.0, submitted / declared)
    concerns = selection_concerns(basis, declared, submitted, min_share)
    share_10 = None if share is None else round(share, 1)
    warning = " ".join(CONCERN_SENTENCES[c].format(share_10=share_10)
                       for c in concerns) or None
    return SelectiveSample(declared, submitted, share, basis, warning, concerns)
