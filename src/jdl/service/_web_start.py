"""The public start of the journey (issue 21): the start page, the feasibility check, the
guidance on data protection and publication (with the data-sharing agreement template), and the
accessibility statement and privacy notice the footer links.

Everything here is public and reads no personal data. The feasibility check asks only
aggregate numbers, answers from :func:`jdl.inference.assess_feasibility` and stores nothing: no
database row, no log line with the numbers (the global request and body limits apply, as to
every form). A form with a mistake comes back as the same form (422) with an error summary
linked to each field, like the portal's other forms.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jdl import __version__
from jdl.service._web_render import _page, _page_user

router = APIRouter(include_in_schema=False)

AGREEMENT_FILE = Path(__file__).parent / "data" / "data-sharing-agreement.txt"


# ---------------------------------------------------------------------------------- settings


def _facts(request: Request) -> dict[str, Any]:
    """The lab's rules the public pages quote, from its settings (never written twice)."""
    settings = request.app.state.settings
    cohort = settings.cohort
    waiting = cohort.follow_up_days + cohort.waiting_period_days
    return {
        "min_people": max(settings.intake.min_cohort_size,
                          settings.inference.min_matched_treated),
        # from here every request is answered (jdl.disclosure._decision's band)
        "sure_people": settings.inference.min_matched_treated
        + settings.disclosure.decision_band,
        "min_reoffenders": settings.inference.min_treated_reoffenders,
        "min_age": cohort.min_age_at_index,
        "excluded_offences": [f.replace("_", " ") for f in cohort.excluded_offence_flags],
        "follow_up_months": round(cohort.follow_up_days / 30.44),
        "waiting_months": round(cohort.waiting_period_days / 30.44),
        "wait_months": round(waiting / 30.44),
        "retention_days": _days(settings.service.upload_retention_days),
        "embargo_days": settings.service.publication_embargo_days,
        "min_count": settings.disclosure.min_count,
        "rounding_base": settings.disclosure.rounding_base,
        "session_hours": round(settings.service.session_max_age_seconds / 3600),
        "lab_name": settings.report.lab_name,
        "max_mb": settings.intake.max_file_bytes // (1024 * 1024),
        "version": __version__,
    }


def _days(value: float) -> str:
    return f"{value:g}"


# ---------------------------------------------------------------------------------- pages


@router.get("/start")
def start(request: Request) -> Response:
    """The GOV.UK start page: who can use the lab, what to expect, where to begin."""
    return _page(request, "start.html", _page_user(request), **_facts(request))


@router.get("/guidance/data-protection")
def data_protection(request: Request) -> Response:
    return _page(request, "guidance/data-protection.html", _page_user(request),
                 **_facts(request))


@router.get("/guidance/publication")
def publication(request: Request) -> Response:
    return _page(request, "guidance/publication.html", _page_user(request), **_facts(request))


@router.get("/guidance/data-sharing-agreement")
def agreement_page(request: Request) -> Response:
    """The agreement template to read in the browser (the download is the same text)."""
    return _page(request, "guidance/data-sharing-agreement.html", _page_user(request),
                 agreement=agreement_sections(agreement_text(request)), **_facts(request))


@router.get("/guidance/data-sharing-agreement.txt")
def agreement_download(request: Request) -> Response:
    return Response(agreement_text(request).encode("utf-8"),
                    media_type="text/plain; charset=utf-8",
                    headers={"Content-Disposition":
                             'attachment; filename="jdl-data-sharing-agreement.txt"'})


@router.get("/accessibility")
def accessibility(request: Request) -> Response:
    return _page(request, "accessibility.html", _page_user(request), **_facts(request))


@router.get("/privacy")
def privacy(request: Request) -> Response:
    return _page(request, "privacy.html", _page_user(request), **_facts(request))


# ------------------------------------------------------------------- the agreement template


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[tuple[str, tuple[str, ...]], ...]  # ("p", (text,)) or ("ul", items)


def agreement_text(request: Request) -> str:
    """The agreement template with this lab's retention and publication periods filled in
    (``{retention_days}``, ``{embargo_days}`` in the file: the settings say them once)."""
    facts = _facts(request)
    text = AGREEMENT_FILE.read_text(encoding="utf-8")
    for name in ("retention_days", "embargo_days"):
        text = text.replace("{" + name + "}", str(facts[name]))
    return text


@lru_cache(maxsize=4)
def agreement_sections(text: str) -> tuple[str, tuple[Section, ...]]:
    """The agreement as a title and sections: ``# `` the title, ``## `` a section, ``- ``
    list items, blank lines between paragraphs (the downloaded text is what is drawn, so the
    page and the download cannot differ)."""
    title, sections = "", list[Section]()
    heading, blocks, para, items = "", list[tuple[str, tuple[str, ...]]](), list[str](), \
        list[str]()

    def flush() -> None:
        if para:
            blocks.append(("p", (" ".join(para),)))
            para.clear()
        if items:
            blocks.append(("ul", tuple(items)))
            items.clear()

    for line in text.splitlines():
        text = line.strip()
        if text.startswith("## "):
            flush()
            if heading or blocks:
                sections.append(Section(heading, tuple(blocks)))
            heading, blocks = text[3:], []
        elif text.startswith("# "):
            title = text[2:]
        elif text.startswith("- "):
            if para:
                flush()
            items.append(text[2:])
        elif not text:
            flush()
        elif items and line.startswith("  "):
            items[-1] += " " + text  # a list item continued on the next line
        else:
            para.append(text)
    flush()
    if heading or blocks:
        sections.append(Section(heading, tuple(blocks)))
    return title, tuple(sections)


# ---------------------------------------------------------------------- feasibility check

#: Where people start on the programme (the programme settings of
#: :data:`jdl.core.index_types.INDEX_TYPES_BY_SETTING`, in plain words) -> the index event and
#: its one-year proven re-offending rate, the lab's published figures (MoJ, adults, Oct
#: 2011-Sep 2012; the rates the synthetic records are calibrated to). ``both``: halfway, as the
#: mix is not known. Cautions, fines and discharges: no published rate for them alone could be
#: cited, so the rate for all adults, which bounds them from above (:data:`BOUNDED`).
SETTINGS_LABELS = {
    "custody": "In prison, before they are released",
    "community": "On a community sentence or court order",
    "out_of_court": "After a caution or conditional caution (out of court)",
    "fine_or_discharge": "After a fine or a discharge at court",
    "both": "In prison and on community sentences, or I do not know",
}
#: Settings whose rate is the all-adults bound, not a published rate for the setting itself.
BOUNDED = frozenset({"out_of_court", "fine_or_discharge"})


def base_rates() -> dict[str, float]:
    from jdl.admin.summary import ALL_ADULTS_RATE, PUBLISHED_RATES

    custody, community = PUBLISHED_RATES["custody_release"], PUBLISHED_RATES["court_order"]
    return {"custody": custody, "community": community, "both": (custody + community) / 2,
            **dict.fromkeys(BOUNDED, ALL_ADULTS_RATE)}


@dataclass(frozen=True)
class Field:
    """One number the check asks: its question, hint, allowed range and how an error message
    names it ("Enter how many years of the programme you could send")."""

    name: str
    label: str
    subject: str
    hint: str
    low: int
    high: int
    default: str = ""
    required: bool = True
    unit: str = ""
    example: str = "120"


def feasibility_fields() -> tuple[Field, ...]:
    """The form's number fields: what is asked, its hint and the range allowed."""
    from jdl.inference import ANALYSED_SHARE

    return (
        Field("people_per_year", "How many people does your programme work with in a year?",
              "how many people your programme works with in a year",
              "An estimate is fine. Count everyone who starts, not only those who finish.",
              1, 100_000),
        Field("years", "How many years of the programme could you send?",
              "how many years of the programme you could send",
              "The lab analyses people whose release or sentence began long enough ago for "
              "a full year of follow-up.", 1, 30, default="1", example="3"),
        Field("partners", "How many partner organisations could send people with you?",
              "how many partner organisations could send people with you",
              "Other organisations running a similar programme, who could apply together "
              "with you. Enter 0 if none. We assume each works with about as many people "
              "as you.", 0, 50, default="0", example="2"),
        Field("analysed_share", "What percentage of the people you send do you expect the "
              "lab to analyse?", "the percentage of people you expect the lab to analyse",
              "Some people cannot be analysed: they are not found in the national records, "
              "had no release or sentence in the period, or have no similar person to "
              f"compare with. If you do not know, leave it at {round(100 * ANALYSED_SHARE)}.",
              10, 100, default=str(round(100 * ANALYSED_SHARE)), unit="%", example="60"),
        Field("own_rate", "If you know it, how many in 100 people like yours re-offend "
              "within a year? (optional)", "how many in 100 people re-offend",
              "Leave blank to use the national rate for where people start on your programme.",
              10, 90, required=False, unit="in 100", example="40"),
    )


_WHOLE = re.compile(r"^\d{1,7}$")


def _number_error(field: Field, raw: str) -> str | None:
    """The GOV.UK error message for one number field, or None."""
    subject = field.subject
    if not raw:
        return None if not field.required else f"Enter {subject}"
    if not _WHOLE.match(raw.replace(",", "")):
        return f"Enter {subject} as a whole number, like {field.example}"
    value = int(raw.replace(",", ""))
    if not field.low <= value <= field.high:
        return (f"Enter {subject} between {field.low:,} and {field.high:,}" +
                (f" (the check needs at least {field.low} in 100)" if field.name == "own_rate"
                 else ""))
    return None


def _check_form(form: dict[str, str]) -> tuple[dict[str, int | None], dict[str, str]]:
    values: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for field in feasibility_fields():
        raw = form.get(field.name, "").strip()
        problem = _number_error(field, raw)
        if problem:
            errors[field.name] = problem
        else:
            values[field.name] = int(raw.replace(",", "")) if raw else None
    if form.get("setting") not in SETTINGS_LABELS:
        errors["setting"] = "Select where people start on your programme"
    return values, errors


def _render_form(request: Request, status: int = 200, **context: Any) -> Response:
    context.setdefault("form", {f.name: f.default for f in feasibility_fields()})
    context.setdefault("field_errors", {})
    rates = base_rates()
    return _page(request, "feasibility.html", _page_user(request), status,
                 fields=feasibility_fields(), settings_labels=SETTINGS_LABELS, bounded=BOUNDED,
                 rates={k: _rate_in_100(v) for k, v in rates.items()},
                 **_facts(request), **context)


@router.get("/feasibility")
def feasibility_form(request: Request) -> Response:
    return _render_form(request)


@router.post("/feasibility")
async def feasibility_answer(request: Request) -> Response:
    """Check the numbers and answer in plain English; a mistake re-draws the form (422)."""
    from jdl.service._web_errors import error_page

    received = await request.form()
    form = {k: v for k, v in received.items() if isinstance(v, str)}
    expected, sent = request.session.get("csrf"), form.get("csrf_token")
    if not (expected and sent and secrets.compare_digest(expected, sent)):
        return error_page(request, 403, "Go back, refresh the page and try again.",
                          heading="This form has expired")
    form = {k: v.strip()[:20] for k, v in form.items() if k != "csrf_token"}
    values, field_errors = _check_form(form)
    if field_errors:
        order = [f.name for f in feasibility_fields()]
        order.insert(order.index("own_rate"), "setting")
        summary = [{"text": field_errors[name], "href": f"#{name}" if name != "setting"
                    else "#setting-custody"} for name in order if name in field_errors]
        return _render_form(request, 422, form=form, field_errors=field_errors,
                            errors=summary)
    import anyio

    answer = await anyio.to_thread.run_sync(_assess, request, values, form["setting"],
                                            limiter=_check_limiter())
    return _render_form(request, 200, form=form, answer=answer)


#: One check costs tens of milliseconds of CPU (a dozen root searches of the power function;
#: up to ~0.2 s on a loaded machine): at most this many run at once per process, in a worker
#: thread, so a burst of anonymous checks never blocks the event loop and takes at most one
#: core; repeated numbers are answered from a small cache.
CHECKS_AT_ONCE = 1
_limiter: Any = None


def _check_limiter() -> Any:
    global _limiter
    if _limiter is None:
        import anyio

        _limiter = anyio.CapacityLimiter(CHECKS_AT_ONCE)
    return _limiter


@lru_cache(maxsize=256)
def _feasibility(people_per_year: int, years: int, organisations: int, base_rate: float,
                 analysed_share: float, alpha: float, power: float, ratio: float,
                 min_analysed: int, min_reoffenders: int) -> Any:
    from jdl.inference import PLANNING_EFFECT, assess_feasibility

    return assess_feasibility(people_per_year, years, organisations, base_rate=base_rate,
                              analysed_share=analysed_share, planning_effect=PLANNING_EFFECT,
                              alpha=alpha, power=power, ratio=ratio,
                              min_analysed=min_analysed, min_reoffenders=min_reoffenders)


def _assess(request: Request, values: dict[str, int | None], setting: str) -> dict[str, Any]:
    """The check, and the words and rows the page shows (percentages as "in 100")."""
    settings = request.app.state.settings
    own = values.get("own_rate")
    base = own / 100 if own is not None else base_rates()[setting]
    check = _feasibility(
        int(values["people_per_year"] or 0), int(values["years"] or 1),
        int(values["partners"] or 0) + 1, base, int(values["analysed_share"] or 60) / 100,
        settings.inference.alpha, settings.inference.power, float(settings.matching.ratio),
        max(settings.intake.min_cohort_size, settings.inference.min_matched_treated),
        settings.inference.min_treated_reoffenders)
    return {"check": check, "base": _rate_in_100(base), "own_rate": own is not None,
            "bounded": own is None and setting in BOUNDED,
            "effect": _in_100(check.planning_effect),
            "this": _option_words(check.this, base),
            "options": [_option_words(o, base) for o in check.options],
            "best": None if check.best_pooled is None else _option_words(check.best_pooled,
                                                                         base)}


def _in_100(proportion: float) -> str:
    """A change as "N in 100": to the nearest whole person (one decimal under 10)."""
    value = 100 * proportion
    return f"{value:.0f}" if value >= 9.95 else f"{value:.1f}".rstrip("0").rstrip(".")


def _rate_in_100(proportion: float) -> str:
    """A rate as "N in 100" to one decimal, as the lab's published rates are (42.5, 33.6;
    38, not 38.0)."""
    return f"{100 * proportion:.1f}".removesuffix(".0")


def _option_words(option: Any, base: float) -> dict[str, Any]:
    years = f"{option.years} year{'s' if option.years != 1 else ''}"
    partners = option.organisations - 1
    who = ("your organisation" if partners == 0 else
           f"you and {partners} partner{'s' if partners != 1 else ''}")
    fall = option.mde_decrease
    return {"option": option, "label": f"{years} from {who}",
            "fall": None if fall is None else _in_100(fall),
            "to": None if fall is None else _in_100(base - fall)}
