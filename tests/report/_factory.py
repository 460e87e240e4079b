"""Builders for the report tests: released results simulated from the typed example, HTML outline.

The disclosure stage is written in parallel, so these fixtures imitate its output without
importing it: counts rounded to the nearest 5, chosen values set to ``null`` and listed in a
``disclosure`` block with rules and notes.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

#: The date the report prints (the run adds it to the released results; results.json has none).
GENERATED_AT = "2026-11-24T19:30:00+00:00"


def raw_example() -> dict:
    """The raw results of the typed example evaluation (``tests/fixtures/example_results``)."""
    from tests.fixtures.example_results import example_results

    return example_results().to_dict()

NOTES = ["Counts below 10 are suppressed and shown as [c].",
         "Other counts are rounded to the nearest 5; totals may not add up."]


def _round5(x: Any) -> Any:
    return x if x is None else int(5 * round(x / 5))


def _set(d: dict, path: str, value: Any) -> None:
    steps = [int(s) if s.isdigit() else s for s in path.split(".")]
    node: Any = d
    for s in steps[:-1]:
        node = node[s]
    node[steps[-1]] = value


def pointer(dotted: str) -> str:
    """``profile.sex.Female`` as the JSON pointer the disclosure stage writes."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in dotted.split("."))


def make_released(raw: dict, suppress: Iterable[str] = (), **top: Any) -> dict:
    """A released dict: counts rounded to 5, ``suppress`` paths nulled and listed."""
    rel = copy.deepcopy(raw)
    for k in rel["counts"]:
        rel["counts"][k] = _round5(rel["counts"][k])
    rel["exclusions"] = {k: _round5(v) for k, v in rel["exclusions"].items()}
    for step in rel["attrition"]:
        step["n"] = _round5(step["n"])
    for dim, levels in rel["profile"].items():
        rel["profile"][dim] = {k: _round5(v) for k, v in levels.items()}
    paths = list(suppress)
    for p in paths:
        _set(rel, p, None)
    rel["disclosure"] = {"rules": {"min_count": 10, "rounding_base": 5},
                         "suppressed": [pointer(p) for p in paths], "notes": list(NOTES)}
    rel["generated_at"] = GENERATED_AT
    rel.update(top)
    return rel


class Outline(HTMLParser):
    """Collects what accessibility checks need: headings, images, tables, captions, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[tuple[int, str]] = []
        self.images: list[dict[str, str | None]] = []
        self.tables = 0
        self.captions: list[str] = []
        self.lang: str | None = None
        self.text: list[str] = []
        self._stack: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag in ("style", "script", "title"):
            self._skip += 1
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append((int(tag[1]), ""))
        if tag == "img":
            self.images.append(a)
        if tag == "table":
            self.tables += 1
        if tag == "caption":
            self.captions.append("")
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._skip -= 1
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if "caption" in self._stack and self.captions:
            self.captions[-1] += data
        if any(re.fullmatch(r"h[1-6]", t) for t in self._stack) and self.headings:
            level, text = self.headings[-1]
            self.headings[-1] = (level, text + data)


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def visible_text(html: str) -> str:
    """The text a reader sees, whitespace collapsed."""
    return re.sub(r"\s+", " ", " ".join(outline(html).text))
