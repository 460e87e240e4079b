"""The report's glossary: every technical term defined once, in one place.

The report's first page is written for funders and charity staff, so it explains any term it
uses in a few plain words (``short``); the technical annex prints the full definitions
(``definition``) as the glossary, and wherever the report uses a term it links to that entry
(:func:`term`). Tests check that every term the first page uses is explained there.

The definitions follow the Justice Data Lab's methodology papers and the method notes
(``shared/reference/method-notes.md``): proven re-offending as in the MoJ's Guide to Proven
Reoffending Statistics, propensity score matching after Rosenbaum and Rubin (1983), balance
diagnostics after Austin (2009), sensitivity measures after VanderWeele and Ding (2017) and
Rosenbaum (2002).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from jdl.core.index_types import follow_up_start


@dataclass(frozen=True)
class Term:
    """One glossary entry.

    ``names`` are the spellings the report uses (the first is the heading); ``short`` is the
    few-word explanation the summary page gives in brackets; ``definition`` is the glossary's.
    """

    key: str
    names: tuple[str, ...]
    short: str
    definition: str

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def anchor(self) -> str:
        return f"glossary-{self.key}"


GLOSSARY: tuple[Term, ...] = (
    Term("participants", ("participants", "participant"),
         "the people the programme worked with who were analysed",
         "The people the organisation worked with on the programme who could be found in the "
         "national records, met the lab's criteria and were matched to similar people. "
         "Statisticians call them the treatment group."),
    Term("comparison-group", ("comparison group",),
         "similar people who did not take part",
         "People from the national records who did not take part in the programme but were "
         "as similar as possible to the participants before it started. Comparing the two "
         "groups shows what would probably have happened to the participants without the "
         "programme."),
    Term("proven-reoffending", ("proven re-offending", "proven re-offence"),
         "a new offence within a year that led to a conviction or caution",
         f"An offence committed in the year after {follow_up_start()} that led to a "
         "conviction, caution, reprimand or warning, within a "
         "further six months for the case to be settled (the Ministry of Justice's "
         "definition). Offences that are not detected or not proven are not counted."),
    Term("confidence-interval", ("confidence interval", "95% confidence interval"),
         "the range the true difference probably lies in",
         "The range of values the true difference is likely to lie in. A 95% confidence "
         "interval is wide enough to contain the true value in 95 out of 100 analyses like "
         "this one. If it includes zero, the analysis cannot tell whether the programme made "
         "a difference."),
    Term("significant", ("statistically significant", "significance"),
         "unlikely to be down to chance alone",
         "A difference is statistically significant when it is unlikely to have arisen by "
         "chance: the lab's rule is a p-value of 0.05 or less, together with its other "
         "rules (for example, at least 30 participants re-offended)."),
    Term("inconclusive", ("inconclusive",),
         "not enough evidence to say either way",
         "The analysis could not tell whether the programme made a difference: the confidence "
         "interval includes no difference. It does not mean the programme has no effect; a "
         "larger group of people would give a clearer answer."),
    Term("p-value", ("p-value", "p-values", "adjusted p-value"),
         "how likely a difference this large is by chance alone",
         "The chance of seeing a difference at least this large if the programme made no "
         "difference at all. Small p-values (0.05 or less) count as statistically "
         "significant. An adjusted p-value allows for the number of sub-groups examined."),
    Term("propensity-score", ("propensity score",),
         "each person's estimated chance of taking part",
         "A person's estimated chance of taking part in the programme, worked out from their "
         "characteristics with a statistical model (logistic regression). People with similar "
         "scores are similar on all those characteristics together, so they can be matched."),
    Term("matching", ("matching", "matched", "propensity score matching"),
         "pairing each participant with similar people",
         "Choosing, for each participant, one or more people who did not take part but had a "
         "similar propensity score (and, where set, the same values of some characteristics). "
         "The people chosen form the comparison group."),
    Term("logit", ("logit",),
         "a scale for chances",
         "The logarithm of the odds, p / (1 - p). The lab measures how far apart two "
         "propensity scores are on this scale because it treats small differences between "
         "low and high chances fairly."),
    Term("caliper", ("caliper",),
         "the largest difference allowed between matched people",
         "The largest difference in propensity score (on the logit scale, in standard "
         "deviations) that two people may have and still be matched. Participants without "
         "anyone that close are left unmatched."),
    Term("common-support", ("common support",),
         "where similar people exist in both groups",
         "The range of propensity scores in which both participants and possible comparison "
         "people are found. Participants outside it have no similar person to be compared "
         "with and are left out of the analysis."),
    Term("smd", ("standardised mean difference", "SMD", "SMDs"),
         "how far apart the groups are on one characteristic",
         "The difference between the two groups' averages of a characteristic, divided by "
         "its standard deviation, so that characteristics measured in different units can be "
         "compared. Values near zero mean the groups are alike; the lab looks for values "
         "below 0.1."),
    Term("variance-ratio", ("variance ratio",),
         "how alike the spread of a characteristic is in the two groups",
         "The variance of a characteristic among participants divided by its variance in the "
         "comparison group. Values near 1 mean the groups are spread out alike."),
    Term("love-plot", ("Love plot",),
         "a chart of the groups' differences before and after matching",
         "A chart (named after Thomas Love) with one row per characteristic, showing the "
         "standardised mean difference before and after matching. Well-matched groups have "
         "every 'after' point close to zero."),
    Term("sensitivity-analysis", ("sensitivity analysis", "sensitivity analyses"),
         "repeating the analysis with other reasonable choices",
         "The analysis repeated with different reasonable choices (for example a narrower "
         "caliper or more comparison people per participant). Similar answers mean the "
         "result does not depend on one particular choice."),
    Term("e-value", ("E-value",),
         "how strong a hidden factor would have to be to explain the result",
         "How strongly an unmeasured factor would have to be linked both to taking part and "
         "to re-offending to explain away the difference found (VanderWeele and Ding, 2017)."),
    Term("rosenbaum-bound", ("Rosenbaum bound", "hidden bias"),
         "how much hidden bias would undo the result",
         "How much more likely one person in a matched pair would have to be to take part, "
         "because of factors the lab cannot see, before a significant result stops being "
         "significant (Rosenbaum, 2002)."),
    Term("benefit-prior", ("starting assumption", "starting assumptions"),
         "what is assumed about programmes' effects before looking at this one",
         "The chance that the programme reduced re-offending is a Bayesian probability: it "
         "combines this analysis with a starting assumption (a 'prior') about how large "
         "programmes' effects usually are. The lab's usual assumption is that a difference "
         "of zero is the likeliest and differences beyond 10 points either way are rare; "
         "where the catalogue holds at least three published reports of the same kind of "
         "programme, their pooled results can be used instead. The report shows the answer "
         "under other assumptions too. Unlike the confidence interval, this chance answers "
         "the question readers usually ask, but it is only as good as the starting "
         "assumption."),
    Term("power", ("power", "minimum detectable effect"),
         "the chance of detecting a real effect of a given size",
         "The chance that an analysis of this size finds a real effect of a given size to be "
         "statistically significant. The lab reports the smallest effect it could detect "
         "with 80% power."),
    Term("sub-group", ("sub-group", "sub-groups"),
         "a part of the participants looked at on its own",
         "A part of the participants (for example, women only) analysed on its own. Sub-group "
         "results are exploratory: the groups are small and some differences appear by "
         "chance when many groups are examined."),
    Term("disclosure-control", ("statistical disclosure control", "[c]"),
         "hiding and rounding numbers so no one can be identified",
         "The rules the lab applies before any number leaves it, so that no individual can "
         "be identified: small numbers are hidden (shown as [c]) and other counts are "
         "rounded."),
    Term("data-cut-off", ("data cut-off",),
         "the last date the national records cover",
         "The last date covered by the national records the lab used. Re-offending after "
         "this date could not be counted."),
    Term("configuration-hash", ("configuration hash", "random seed"),
         "codes that let the lab reproduce this report exactly",
         "A short code identifying every setting the analysis used (the configuration hash) "
         "and the starting number of its random choices (the random seed). With the data "
         "version and software version they let the lab reproduce the report exactly."),
)

_BY_KEY = {t.key: t for t in GLOSSARY}


def glossary_term(key: str) -> Term:
    """The entry for ``key``; an unknown key is a programming error in the template."""
    return _BY_KEY[key]


def term(key: str, text: str | None = None) -> Markup:
    """The term as a link to its glossary entry (``text`` overrides the words shown)."""
    entry = _BY_KEY[key]
    words = entry.name if text is None else text
    return Markup(f'<a class="term" href="#{entry.anchor}">{escape(words)}</a>')


def explain(key: str, text: str | None = None) -> Markup:
    """The term linked to the glossary and explained in brackets, for the summary page."""
    return Markup(f"{term(key, text)} ({escape(_BY_KEY[key].short)})")


def terms_in(text: str) -> list[Term]:
    """The glossary terms a piece of text uses (whole words, ignoring case except for
    abbreviations such as SMD), for the plain-English check of the summary page."""
    found = []
    for entry in GLOSSARY:
        for name in entry.names:
            flags = 0 if name.isupper() else re.IGNORECASE
            if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, flags):
                found.append(entry)
                break
    return found
