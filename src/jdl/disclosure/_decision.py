"""Whether a request is answered: a decision that no one person can turn (issue 18).

The lab declines a request whose matched treatment group is smaller than its minimum (the
JDL's 60 people). Made on the exact count, "answered" or "could not be answered" is itself a
released bit that can turn on one person: an organisation that submits the same people twice,
once without person x, is answered once and declined once exactly when x was linked, eligible
and matched — membership information about x. The differencing guard cannot close this: its
own verdict (hold or not) turns on whether x was linked, and a held request ends up visibly
different from an answered one.

So the decision goes through the rules released numbers go through:

1. **The count as released.** The decision uses the matched count rounded as a report would
   release it (``DisclosureSettings.rounding_base``, 5): it depends on the people no more than
   the report's own count does.
2. **A band, not a line.** Each request's threshold is drawn from the steps ``minimum,
   minimum + base, ..., minimum + band`` (60, 65, ..., 100 by default) by a keyed hash
   (HMAC-SHA256) of the request's *submitted rows* and a lab secret: the first step with
   probability 1/2, the next 1/4, and so on (a geometric draw; the top step takes what is
   left, 1/256). Whether x is linked or matched does not enter the draw (the organisation
   knows its own rows; the key tells it nothing), and an identical re-submission gets the same
   threshold, so repeating a file gives no new draw. Two uploads that differ by one person draw
   independent thresholds whatever that person's record. Where removing x moves the rounded
   count down one step, "declined" becomes exactly twice as likely (a geometric draw makes the
   ratio the same at every step) and "answered" at most 1.5 times less likely, so one pair of
   answers is a likelihood ratio of at most 2 about x, never a certainty — except at the two
   ends of the band: below ``minimum`` (rounded) no request is answered, so the lab's published
   minimum stays a floor on the released count (there, "answered without x" says x was not
   matched, when x's removal crosses the floor's rounding edge), and at the top step (probability
   1/256) "declined without x" says x was matched.

This is the "noisy threshold" of differential privacy's sparse-vector technique (Dwork and
Roth 2014, *The Algorithmic Foundations of Differential Privacy*, §3.6) with geometric noise
on the rounding grid, bounded so that the lab's minimum holds exactly and a request above the
band is always answered: an answer worth ε = ln 2 about one person away from the band's ends.

Residual risk (docs/disclosure-control.md, "Answered or declined"): an organisation that
submits many variants of the same people (each padded with different invented people to get a
fresh draw) can average the noise; each variant is a request a reviewer sees, and the guard
notes near-duplicates to the reviewer.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from jdl.disclosure._rules import round_count


@dataclass(frozen=True)
class AnswerDecision:
    """Whether a request is answered. ``rounded`` is the count as a report would release it;
    ``threshold`` is this request's draw from the band (lab-internal: never shown, since with
    the decision it would pin the rounded count to one step)."""

    answered: bool
    rounded: int
    threshold: int
    minimum: int
    band_top: int


def rounded_count(n: int, base: int) -> int:
    """``n`` rounded as a released count is (:func:`jdl.disclosure._rules.round_count`: the
    nearest multiple of ``base``, halves up)."""
    return round_count(n, base) if base > 1 else int(n)


def band_thresholds(minimum: int, band: int, base: int) -> tuple[int, ...]:
    """The thresholds a request's draw can take: ``minimum`` rounded up to the rounding grid,
    then every step of ``base`` up to ``minimum + band`` (``(60, 65, 70)`` by default; one
    threshold, the minimum itself, when ``band`` is 0)."""
    step = max(base, 1)
    low = -(-minimum // step) * step
    return tuple(range(low, max(low, minimum + band) + 1, step))


def request_key(secret: str | bytes, content: bytes) -> bytes:
    """The key of one request's draw: HMAC-SHA256 of its submitted rows (``content``, in a
    canonical form) under the lab's secret. Without the secret nobody can tell which variant
    of an upload draws which threshold."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, content, hashlib.sha256).digest()


#: Each step of the band is drawn half as often as the one below it: "declined" is twice as
#: likely one rounding step lower, at every step (a likelihood ratio of 2 about one person).
STEP_RATIO = 0.5


def draw_threshold(minimum: int, band: int, base: int, key: bytes,
                   ratio: float = STEP_RATIO) -> int:
    """This request's threshold: step ``k`` of :func:`band_thresholds` with probability
    ``(1 - ratio) * ratio**k`` (the top step takes the rest), chosen by ``key`` (a geometric
    draw for a uniformly random key)."""
    import math

    options = band_thresholds(minimum, band, base)
    bits = int.from_bytes(hashlib.sha256(b"jdl-answer-threshold" + key).digest()[:7], "big")
    u = (bits >> 3) / 2.0**53  # uniform on [0, 1)
    step = math.floor(math.log1p(-u) / math.log(ratio)) if 0 < ratio < 1 else 0
    return options[min(step, len(options) - 1)]


def decide_answerable(n: int, minimum: int, *, band: int, base: int,
                      key: bytes) -> AnswerDecision:
    """Answer when ``n`` rounded like a released count reaches this request's threshold."""
    rounded = rounded_count(n, base)
    threshold = draw_threshold(minimum, band, base, key)
    top = band_thresholds(minimum, band, base)[-1]
    return AnswerDecision(answered=rounded >= threshold, rounded=rounded, threshold=threshold,
                          minimum=minimum, band_top=top)
