"""What linkage returns: the lab-internal link table and the summary a report may show."""

from __future__ import annotations

from dataclasses import asdict, dataclass

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


@dataclass(frozen=True)
class LinkResult:
    """The link table (one row per submitted row) and its summary. Lab-internal.

    ``links`` columns: ``row_number, person_id`` (nullable Int64), ``match_probability``,
    ``method`` (id / probabilistic / none), ``ambiguous`` (several people fit the row
    equally well: not linked), ``duplicate`` (an earlier row links to the same person).
    """

    links: pd.DataFrame
    summary: LinkageSummary

    def link_table(self) -> pd.DataFrame:
        """The four columns written to ``links.csv``."""
        return self.links.loc[:, list(LINK_COLUMNS)]

    def linked_people(self) -> pd.DataFrame:
        """Distinct people found, with the first row that linked to each (for the cohort)."""
        linked = self.links[self.links["person_id"].notna() & ~self.links["duplicate"]]
        return linked.loc[:, ["row_number", "person_id", "method", "match_probability"]]


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
