"""What linkage returns: the lab-internal link table and the summary a report may show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

LINK_COLUMNS = ("row_number", "person_id", "match_probability", "method")
METHODS = ("id", "probabilistic", "none")


@dataclass(frozen=True)
class LinkageSummary:
    """Counts of submitted rows by linkage outcome (shown in the report's attrition chevron).

    ``submitted = linked_by_id + linked_probabilistically + not_found + ambiguous``;
    ``duplicate`` counts linked rows whose person an earlier row already linked to, so
    ``distinct people found = linked_by_id + linked_probabilistically - duplicate``.
    """

    submitted: int
    linked_by_id: int
    linked_probabilistically: int
    not_found: int
    ambiguous: int
    duplicate: int

    @property
    def linked(self) -> int:
        return self.linked_by_id + self.linked_probabilistically

    @property
    def people_found(self) -> int:
        return self.linked - self.duplicate

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "linked": self.linked, "people_found": self.people_found}


#: An unlinked row whose candidates hold less than this probability of being the person is
#: *unresolved*: the model has no real candidate for it.
WEAK_CANDIDATES = 0.5


@dataclass(frozen=True)
class UnresolvedRows:
    """Measured on labelled calibration uploads: among the rows the model left *unresolved*
    (not linked, and no candidate or candidates with Σ_j P(j | row) < :data:`WEAK_CANDIDATES`),
    the share whose person was in fact in the records.

    The row-level posterior cannot see a person that blocking never proposed, so for these
    rows the model's own probability is no guide (on the harsh mix it put 14 people in the
    records where 81 were); the labelled share is used instead."""

    share_in_records: float
    rows: int


@dataclass(frozen=True)
class LinkageUncertainty:
    """The model's own estimate of an upload's linkage errors (lab-internal; the report shows
    ``expected_missed`` rounded, through disclosure control).

    As fastLink reports them (Enamorado, Fifield and Imai 2019, *Using a probabilistic model to
    assist merging of large-scale administrative records*, APSR 113(2)): with P(i | row) the
    row-level posterior of :mod:`jdl.linkage._resolve`,

    * expected false links = Σ over probabilistic links of (1 − P(linked person | row)); ID
      links count as certain;
    * expected missed people = Σ over rows not linked whose candidates are strong
      (Σ_j P(j | row) ≥ :data:`WEAK_CANDIDATES`: ambiguous rows) of Σ_j P(j | row), plus, for
      each *unresolved* row (no candidate, or only weak ones), the share of such rows found in
      the records on labelled calibration uploads (:class:`UnresolvedRows`; without a
      calibration, the model's own Σ_j P(j | row), 0 for no candidate — an underestimate);
    * shares: false links / links made; missed / (expected correct links + missed).

    Limits: the false-link estimate trusts the model's posteriors (measured: it undercounts
    wrong links by a third to a half, docs/linkage.md); the missed estimate carries over the
    calibration mix's share of unresolved rows in the records, so an upload with fewer
    mistakes or more people outside the records than the calibration uploads gets an
    overestimate (measured on the default mix: about twice the actual number). ID links are
    taken as certain.
    """

    threshold: float
    linked: int
    expected_false_links: float
    expected_missed: float
    expected_in_records: float

    @property
    def false_link_share(self) -> float:
        return self.expected_false_links / self.linked if self.linked else 0.0

    @property
    def missed_share(self) -> float:
        denominator = self.expected_in_records
        return self.expected_missed / denominator if denominator > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "false_link_share": self.false_link_share,
                "missed_share": self.missed_share}


def estimate_uncertainty(links: pd.DataFrame, *, threshold: float,
                         unresolved: UnresolvedRows | None = None) -> LinkageUncertainty:
    """Expected false and missed links of a link table (see :class:`LinkageUncertainty`).

    ``links`` needs the columns :func:`jdl.linkage._resolve.assemble` writes, ``in_records``
    included.
    """
    linked = links["person_id"].notna()
    probabilistic = linked & (links["method"] == "probabilistic")
    p = links["match_probability"].astype(float)
    false_links = float((1.0 - p[probabilistic]).clip(lower=0.0).sum())
    correct = float(p[probabilistic].sum()) + int((linked & ~probabilistic).sum())
    mass = links["in_records"].astype(float).fillna(0.0)
    weak = unresolved_rows(links)
    strong = ~linked & ~weak
    missed = float(mass[strong].sum())
    if unresolved is not None:
        missed += int(weak.sum()) * unresolved.share_in_records
    else:
        missed += float(mass[weak].sum())
    return LinkageUncertainty(threshold=threshold, linked=int(linked.sum()),
                              expected_false_links=false_links, expected_missed=missed,
                              expected_in_records=correct + missed)


def unresolved_rows(links: pd.DataFrame) -> pd.Series:
    """Rows the model left unresolved (see :class:`UnresolvedRows`)."""
    mass = links["in_records"].astype(float).fillna(0.0)
    return links["person_id"].isna() & (mass < WEAK_CANDIDATES)


@dataclass(frozen=True)
class LinkResult:
    """The link table (one row per submitted row) and its summary. Lab-internal.

    ``links`` columns: ``row_number, person_id`` (nullable Int64), ``match_probability``,
    ``method`` (id / probabilistic / none), ``ambiguous`` (several people fit the row
    equally well: not linked), ``duplicate`` (an earlier row links to the same person), and,
    whatever the threshold, ``best_person_id, best_probability`` (the row's best candidate)
    and ``in_records`` (the probability its person is in the records; NaN: no candidate).
    ``threshold``: the match threshold used; ``uncertainty``: the model's estimate of false
    and missed links (set by :func:`jdl.linkage.link_submission`).
    """

    links: pd.DataFrame
    summary: LinkageSummary
    threshold: float | None = None
    uncertainty: LinkageUncertainty | None = None
    # where the threshold came from (:func:`jdl.linkage._calibration.threshold_for`)
    threshold_source: str | None = None

    def link_table(self) -> pd.DataFrame:
        """The four columns written to ``links.csv``."""
        return self.links.loc[:, list(LINK_COLUMNS)]

    def linked_people(self) -> pd.DataFrame:
        """Distinct people found, with the first row that linked to each (for the cohort)."""
        linked = self.links[self.links["person_id"].notna() & ~self.links["duplicate"]]
        return linked.loc[:, ["row_number", "person_id", "method", "match_probability"]]

    def at_threshold(self, threshold: float) -> LinkResult:
        """The same scored rows resolved at another threshold (no re-scoring): a row links to
        its best person when their posterior reaches ``threshold``, is ambiguous when it is
        probably in the records but nobody reaches it; ID links stay. Uncertainty not set."""
        links = self.links.copy()
        scored = links["method"] != "id"
        best = links["best_probability"].astype(float)
        linked = scored & best.notna() & (best >= threshold)
        ambiguous = scored & ~linked & (links["in_records"].astype(float) >= threshold)
        links["person_id"] = links["person_id"].where(~scored, links["best_person_id"]
                                                      .where(linked)).astype("Int64")
        links["method"] = links["method"].where(~scored, np.where(linked, "probabilistic",
                                                                  "none"))
        links["ambiguous"] = links["ambiguous"].where(~scored, ambiguous).astype(bool)
        links["match_probability"] = links["match_probability"].where(
            ~scored, best.where(linked | ambiguous))
        has_person = links["person_id"].notna()
        links["duplicate"] = has_person & links["person_id"].duplicated()
        return replace(self, links=links, summary=summarise(links), threshold=threshold,
                       uncertainty=None, threshold_source=None)


def summarise(links: pd.DataFrame) -> LinkageSummary:
    """Count the link table's outcomes."""
    return LinkageSummary(
        submitted=len(links),
        linked_by_id=int((links["method"] == "id").sum()),
        linked_probabilistically=int((links["method"] == "probabilistic").sum()),
        not_found=int(((links["method"] == "none") & ~links["ambiguous"]).sum()),
        ambiguous=int(links["ambiguous"].sum()),
        duplicate=int(links["duplicate"].sum()),
    )
