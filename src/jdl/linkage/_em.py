"""The m-probabilities of each upload, estimated by EM on its own candidate pairs.

The saved model's m-probabilities describe a typical hand-typed list (documented priors,
blended with labelled pairs at training). Uploads differ: one charity's list has a fifth of its
forenames written differently from the records, another almost none. Fellegi and Sunter (1969)
and Winkler (1988) estimate m by EM on the very pairs being linked; fastLink (Enamorado,
Fifield and Imai 2019) does so per linkage. Here the E-step is the lab's own row-level
posterior (:func:`jdl.linkage._resolve.row_posteriors`: each row is one of its candidate people
or nobody), so a row contributes at most one expected match, and the M-step blends the expected
level counts of the matches with the model's m as a Dirichlet prior of ``prior_strength``
pseudo-pairs (the same blend as training): a small upload keeps the model's m, a large one
learns its own. u stays the register's (random pairs), except for the levels that need a
1 January date on one side, whose u is re-based on the upload's own share of such dates
(:func:`rebase_placeholder_u`); the ID comparisons keep theirs (rows with an agreeing ID were
linked by the ID pass, so the remaining rows under-represent them).

Guards on the result, as in training (:func:`jdl.linkage._model.sanity_check`): no partial
level may count for more than exact agreement, and a comparison whose estimate makes exact
agreement not the most likely level for a match, or disagreement not evidence against one,
keeps the model's m.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jdl.linkage._model import ID_COMPARISONS, LinkageModel
from jdl.linkage._resolve import row_posteriors

#: Comparisons whose m is re-estimated per upload.
ESTIMATED = ("forename", "surname", "dob", "sex")


@dataclass(frozen=True)
class _Comparison:
    name: str
    labels: tuple[str, ...]  # by gamma: index 0 = "else", the last = the top level
    m: np.ndarray
    u: np.ndarray


def _comparisons(model: LinkageModel) -> list[_Comparison]:
    out = []
    for comparison in model.splink["comparisons"]:
        name = comparison["output_column_name"]
        if name in ID_COMPARISONS or name not in ESTIMATED:
            continue
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        levels = levels[::-1]  # Splink numbers non-null levels from the bottom (else = 0) up
        out.append(_Comparison(
            name=name, labels=tuple(lv["label_for_charts"] for lv in levels),
            m=np.array([lv["m_probability"] for lv in levels], dtype=float),
            u=np.array([lv["u_probability"] for lv in levels], dtype=float)))
    return out


def _m_step(comparison: _Comparison, counts: np.ndarray, strength: float) -> np.ndarray:
    """Blend of the expected counts with the model's m; partial levels capped at exact's
    Bayes factor; the model's m back when the estimate fails the sanity checks."""
    m = (counts + strength * comparison.m) / (counts.sum() + strength)
    exact = comparison.labels.index("exact")
    ratio = m[exact] / comparison.u[exact]
    m = np.minimum(m, ratio * comparison.u)
    m[exact] = ratio * comparison.u[exact]
    m = m / m.sum()
    if m[exact] < m.max() or not m[exact] > comparison.u[exact] or not m[0] < comparison.u[0]:
        return comparison.m
    return m


#: The date-of-birth levels that need one of the two dates to be 1 January (only the year was
#: known): they can occur only where a placeholder date is.
PLACEHOLDER_LEVELS = ("1 January of the same year", "1 January, a year or two out")


def placeholder_u_factor(*, upload_share: float, register_share: float) -> float:
    """How much likelier a placeholder level is between an upload's row and a random register
    record than between two random register records (where the model's u was sampled).

    A placeholder level needs a 1 January date on either side: about ``2 p_r q`` of register
    pairs show it and ``(p_s + p_r) q`` of upload-register pairs (``p``: the share of dates
    that are 1 January; ``q``: the chance the years then agree as the level asks). The m of
    such a level is the share of the upload's true matches that show it, and grows with the
    upload's ``p_s`` (the per-upload EM learns it); with u kept at the register's, the Bayes
    factor m/u would grow with how many placeholders the upload holds, not with how much a
    placeholder says about a pair. Measured on Splink's historical figures (38% of its dates
    1 January): namesakes a year or two apart linked at p 0.9-0.96. Fellegi and Sunter's u is
    P(level | non-match) over the pairs being compared, here the upload's."""
    if register_share <= 0:
        return 1.0
    return (upload_share + register_share) / (2.0 * register_share)


def rebase_placeholder_u(candidates: pd.DataFrame, model: LinkageModel, *,
                         upload_share: float, register_share: float) -> pd.DataFrame:
    """The candidates with the placeholder levels' weights re-based on the upload's own share of
    1 January dates (:func:`placeholder_u_factor`); other pairs unchanged."""
    factor = placeholder_u_factor(upload_share=upload_share, register_share=register_share)
    dob = next((c for c in _comparisons(model) if c.name == "dob"), None)
    if dob is None or "gamma_dob" not in candidates or factor == 1.0 or candidates.empty:
        return candidates
    gammas = [dob.labels.index(label) for label in PLACEHOLDER_LEVELS if label in dob.labels]
    at_level = candidates["gamma_dob"].isin(gammas).to_numpy()
    weight = candidates["match_weight"].to_numpy(float) - np.log2(factor) * at_level
    return candidates.assign(match_weight=weight, match_probability=_probability(weight))


def _probability(match_weight: np.ndarray | pd.Series) -> np.ndarray | pd.Series:
    """Splink's match probability from a match weight (which includes the prior odds)."""
    return 1.0 / (1.0 + np.exp2(-match_weight))


@dataclass(frozen=True)
class UploadEstimate:
    """What the per-upload EM returns: the candidates re-weighted with the upload's own m, the
    m by comparison and level label, and the estimated share of the upload's rows (those left
    after the ID pass) whose person is on the register."""

    candidates: pd.DataFrame
    m: dict[str, dict[str, float]]
    in_register: float


def estimate_upload_m(candidates: pd.DataFrame, model: LinkageModel, *,
                      prior_in_register: float, prior_strength: float = 200.0,
                      adjust: Callable[[np.ndarray, float], np.ndarray] | None = None,
                      n_rows: int | None = None,
                      iterations: int = 20, tolerance: float = 1e-4) -> UploadEstimate:
    """The candidates with ``match_weight`` re-computed from the upload's own m.

    ``candidates``: scored pairs with ``row_number, person_id, match_weight`` and Splink's
    ``gamma_<comparison>`` columns (-1 = a value missing). ``adjust(weights, in_register)``
    maps the weights to the ones resolution sees (the sibling guard), applied in every E-step
    with the share on the register that step uses.

    ``n_rows``: the number of rows linked (with or without a candidate). When given, the share
    of them on the register is estimated too (fastLink's λ): the M-step's share of rows whose
    person is among their candidates, blended with ``prior_in_register`` as ``prior_strength``
    pseudo-rows; rows without a candidate count as not on the register. Without it an upload
    of people none of whom is on the register (a diversion scheme's first-timers, say) would
    have the E-step call its near-namesakes matches at the prior's 90%, and the M-step learn
    from them that a different surname or date of birth is common among matches — measured:
    224 of 3,000 such rows linked at 0.8 before, when λ was fixed.
    """
    comparisons = [c for c in _comparisons(model) if f"gamma_{c.name}" in candidates]
    if candidates.empty or not comparisons:
        return UploadEstimate(candidates, {}, prior_in_register)
    base = candidates["match_weight"].to_numpy(float)
    gammas = {c.name: candidates[f"gamma_{c.name}"].to_numpy(int) for c in comparisons}
    m_now = {c.name: c.m for c in comparisons}
    keys = candidates[["row_number", "person_id"]]
    pair_prior = model.splink["probability_two_random_records_match"]
    in_register = prior_in_register

    def weights(m_new: dict[str, np.ndarray], share: float) -> np.ndarray:
        w = base.copy()
        for c in comparisons:
            g = gammas[c.name]
            known = g >= 0
            w[known] += np.log2(m_new[c.name][g[known]] / c.m[g[known]])
        return adjust(w, share) if adjust is not None else w

    for _ in range(iterations):
        w = weights(m_now, in_register)
        frame = keys.assign(match_weight=w, pair=np.arange(len(w)))
        # each (row, person): the record the resolution uses (the best-scoring one)
        best = frame.sort_values("match_weight", ascending=False, kind="stable").drop_duplicates(
            ["row_number", "person_id"])
        posterior = row_posteriors(best, pair_prior=pair_prior, n_people=model.n_people,
                                   prior_in_register=in_register)
        best = best.merge(posterior, on=["row_number", "person_id"])
        p = np.zeros(len(w))
        p[best["pair"].to_numpy()] = best["posterior"].to_numpy()
        change = 0.0
        for c in comparisons:
            g = gammas[c.name]
            known = g >= 0
            counts = np.bincount(g[known], weights=p[known], minlength=len(c.labels))
            new = _m_step(c, counts, prior_strength)
            change = max(change, float(np.abs(new - m_now[c.name]).max()))
            m_now[c.name] = new
        if n_rows:
            share = (float(best["posterior"].sum()) + prior_strength * prior_in_register) / (
                max(n_rows, best["row_number"].nunique()) + prior_strength)
            change = max(change, abs(share - in_register))
            in_register = min(max(share, 1e-6), 1 - 1e-6)
        if change < tolerance:
            break
    out = candidates.assign(match_weight=weights(m_now, in_register))
    out["match_probability"] = _probability(out["match_weight"])
    estimated = {c.name: dict(zip(c.labels, map(float, m_now[c.name]), strict=True))
                 for c in comparisons}
    return UploadEstimate(out, estimated, in_register)
