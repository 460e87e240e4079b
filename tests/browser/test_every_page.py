"""Every page of the service, for every role, at a desktop (1280 px) and a phone (375 px) width:
axe-core finds no WCAG 2.1 A/AA violation, the page does not scroll sideways on the phone (a
wide table may scroll inside its own container), no page shows JSON or a traceback, and every
message of an error summary links to the field at fault.

One server and one real evaluation (the planted New Leaf programme on the 30,000-person
synthetic register) serve the whole sweep: the submission is visited as it moves from queued
to awaiting review, approved and published. The app's GET routes are enumerated and the test
fails when one is neither visited nor listed as a file or fragment (``NOT_PAGES``): a new page
is added to the sweep with one line in ``PAGES``.

Screenshots of every page at both widths go to ``JDL_SCREENSHOTS_DIR`` when that is set.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import broken_copy, fill_upload_form
from tests.browser.live import (
    LiveLab,
    Screens,
    axe_script,
    axe_violations,
    first_sign_in,
    new_context,
)

pytestmark = pytest.mark.xdist_group("browser")

WIDTHS = {"desktop": 1280, "phone": 375}
ROLES = ("anonymous", "submitter", "analyst", "reviewer", "admin")

# Pages reached by a plain GET, as (role, address), visited once the evaluation is published.
# {submission} and {publication} are the evaluated submission and its catalogue report.
# A new page: add one line here (and, if it needs a state, a step in the test).
PAGES: list[tuple[str, str]] = [
    ("anonymous", "/login"),
    ("anonymous", "/guidance"),
    ("anonymous", "/catalogue"),
    ("anonymous", "/catalogue?sector=voluntary_community&min_size=10"),
    ("anonymous", "/catalogue?year=last+year"),  # a filter it cannot read: 400, errors listed
    ("anonymous", "/catalogue/reports/{publication}"),
    ("anonymous", "/catalogue/summary"),
    ("anonymous", "/catalogue/reports/98765"),  # 404 inside the catalogue
    ("anonymous", "/no-such-page"),  # 404
    ("anonymous", "/upload"),  # 405: a POST-only address
    ("submitter", "/"),
    ("submitter", "/password"),
    ("submitter", "/guidance"),
    ("submitter", "/submissions/{submission}"),
    ("submitter", "/submissions/99999"),  # another's or none: 404
    ("submitter", "/submissions/not-a-number"),  # FastAPI's 422 in the path: a 404 page
    ("submitter", "/admin"),  # 403
    ("analyst", "/"),
    ("analyst", "/submissions/{submission}"),
    ("reviewer", "/"),
    ("reviewer", "/submissions/{submission}"),
    ("admin", "/"),
    ("admin", "/admin"),
    ("admin", "/submissions/{submission}"),
    ("admin", "/catalogue"),
    # pages added by issue 21's other parts, merged with this sweep (until then a 404 page)
    ("anonymous", "/start"),
    ("anonymous", "/feasibility"),
    ("anonymous", "/guidance/data-protection"),
    ("anonymous", "/guidance/publication"),
    ("anonymous", "/guidance/data-sharing-agreement"),
    ("anonymous", "/accessibility"),
    ("anonymous", "/privacy"),
    ("anonymous", "/forgot-password"),
    ("anonymous", "/reset-password?token=not-a-real-link"),  # a link that does not work
    ("anonymous", "/catalogue/reports/{publication}/report.html"),
    ("submitter", "/submissions/{submission}/withdraw"),
    # the public register (issue 20): once published the entry is fixed (409 page)
    ("submitter", "/submissions/{submission}/catalogue-entry"),
    ("reviewer", "/catalogue/reports/{publication}/withdraw"),
]

UNEXPECTED = "/__test/unexpected-error"  # a route this test adds, for the 500 page

# GET routes that are no page of their own: files, fragments, the API and the service's own.
NOT_PAGES = {
    "/openapi.json": "the API's schema",
    "/healthz": "the health check",
    "/submissions/{submission_id}/progress": "the progress fragment the submission page loads",
    "/submissions/{submission_id}/report.pdf": "the report (PDF)",
    "/submissions/{submission_id}/report.html": "the draft report, shown only inside the review "
    "page's sandboxed frame (scripts off, so axe cannot run in it on its own); the same HTML "
    "report is swept at /catalogue/reports/{id}/report.html",
    "/submissions/{submission_id}/problems.csv": "the rejected rows (CSV)",
    "/upload/problems.csv": "a refused file's problems (CSV)",
    "/template.csv": "the template (CSV)",
    "/template.xlsx": "the template (XLSX)",
    "/guidance/data-sharing-agreement.txt": "the data-sharing agreement template (text)",
    "/catalogue/reports/{publication_id}/report.pdf": "a published report (PDF)",
    "/catalogue/export.csv": "the catalogue's data (CSV)",
    "/catalogue/export.json": "the catalogue's data (JSON)",
    "/catalogue/register.csv": "the register's counts (CSV)",
    "/static": "scripts",
    UNEXPECTED: "this test's own route for the 500 page",
}

# Problems found on pages this sweep's author could not change, each with its fix (issue 21,
# reported to the lead); the sweep reports them but does not fail on them. Remove a line once
# its page is fixed: (page as the sweep names it, start of the problem).
KNOWN: dict[tuple[str, str], str] = {
}

# Text that must never reach a person's screen.
LEAKS = re.compile(r'\{"detail"|Traceback \(most recent|File "/|pydantic|'
                   r"errors\.pydantic\.dev|\[type=|Internal Server Error")

NO_SIDEWAYS_SCROLL_JS = """() => {
  const page = document.scrollingElement;
  const wide = [];
  if (page.scrollWidth > window.innerWidth) {
    for (const e of document.body.querySelectorAll("*")) {
      const r = e.getBoundingClientRect();
      if (r.right > window.innerWidth + 1 && !e.closest(".table-scroll, .visually-hidden")) {
        const id = e.id ? "#" + e.id : (e.className ? "." + String(e.className).split(" ")[0] : "");
        wide.push(e.tagName.toLowerCase() + id + " (" + Math.round(r.right) + " px)");
      }
    }
  }
  return {scroll: page.scrollWidth, inner: window.innerWidth, wide: wide.slice(0, 5)};
}"""


# Each message of an error summary links to the field (or the part of the page) at fault.
UNLINKED_ERRORS_JS = """() => [...document.querySelectorAll(".error-summary li")].filter(li => {
  const a = li.querySelector("a[href^='#']");
  return !a || a.getAttribute("href").length < 2
    || !document.getElementById(a.getAttribute("href").slice(1));
}).map(li => li.textContent.trim().slice(0, 80))"""




class Sweep:
    """Checks each page it is shown at both widths and remembers what it saw."""

    def __init__(self, lab: LiveLab, screens: Screens) -> None:
        self.lab, self.screens, self.script = lab, screens, axe_script()
        self.problems: dict[str, list[str]] = {}
        self.known: dict[str, list[str]] = {}  # problems listed in KNOWN
        self.visited: list[tuple[str, str, str]] = []  # (name, role, path shown)

    def check(self, page: Any, role: str, name: str) -> None:
        page.wait_for_load_state("load")
        path = page.evaluate("() => location.pathname")
        self.visited.append((name, role, path))
        found: list[str] = []
        text = page.locator("body").inner_text()
        if LEAKS.search(text) or text.lstrip().startswith(("{", "[")):
            found.append(f"JSON or a traceback on the page: {text[:120]!r}")
        found += [f"error summary not linked to a field: {e!r}"
                  for e in page.evaluate(UNLINKED_ERRORS_JS)]
        for width_name, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            found += [f"{width_name}: axe {v}" for v in axe_violations(page, self.script)]
            if width_name == "phone":
                sideways = page.evaluate(NO_SIDEWAYS_SCROLL_JS)
                if sideways["scroll"] > sideways["inner"]:
                    found.append(f"phone: the page scrolls sideways ({sideways['scroll']} px "
                                 f"in {sideways['inner']}): {', '.join(sideways['wide'])}")
            slug = re.sub(r"[^a-z0-9]+", "-", f"{role} {name}".lower()).strip("-")[:60]
            self.screens.take(page, f"{slug}-{width_name}")
        where = f"{name} ({role})"
        known = [p for p in found if any(where == page and p.startswith(start)
                                         for page, start in KNOWN)]
        if known:
            self.known[where] = known
        if unknown := [p for p in found if p not in known]:
            self.problems[where] = unknown

    def write_log(self, folder: Path) -> None:
        """What was visited and what was found, beside the screenshots."""
        lines = [f"{role:9} {name} -> {path}" for name, role, path in self.visited]
        lines += ["", "Problems:"] + [f"{page}: {p}" for page, found in self.problems.items()
                                      for p in found]
        lines += ["", "Known (KNOWN):"] + [f"{page}: {p}" for page, found in self.known.items()
                                           for p in found]
        for where in (folder, os.environ.get("JDL_SCREENSHOTS_DIR")):
            if where:
                Path(where).mkdir(parents=True, exist_ok=True)
                (Path(where) / "every-page.txt").write_text("\n".join(lines) + "\n")

    def visit(self, page: Any, role: str, path: str) -> None:
        page.goto(path)
        self.check(page, role, path)


def get_routes(app: Any) -> Iterator[Any]:
    """Every route of the app, those of included routers too (FastAPI nests them)."""
    def walk(routes: list[Any]) -> Iterator[Any]:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:
                yield from walk(included.routes)
            else:
                yield route

    for route in walk(app.routes):
        methods = getattr(route, "methods", None)
        if methods is None or "GET" in methods:  # a mount (None) serves GET too
            yield route


def unvisited_pages(app: Any, shown: set[str]) -> list[str]:
    """GET routes that are pages (not in ``NOT_PAGES``, not the API) but none of ``shown``."""
    missing = []
    for route in get_routes(app):
        if route.path.startswith("/api/") or route.path in NOT_PAGES:
            continue
        if not any(route.path_regex.match(path) for path in shown):
            missing.append(route.path)
    return missing


def state_of(lab: LiveLab, submission_id: int) -> str:
    from jdl.service._models import Submission

    with lab.sessions() as db:
        return db.get(Submission, submission_id).state


def wait_for_state(lab: LiveLab, submission_id: int, wanted: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while (state := state_of(lab, submission_id)) != wanted:
        assert state not in ("failed", "held"), f"the evaluation ended {state}"
        assert time.monotonic() < deadline, f"still {state} after {timeout} s"
        time.sleep(1)


@pytest.fixture(scope="module")
def people(module_data_lab, cheap_hashing, browser, planted_upload) -> dict[str, Any]:
    """A signed-in browser page for each role (anonymous: none), one-time passwords changed."""
    lab = module_data_lab
    organisation = planted_upload["programme"]["organisation"]
    lab.create_org(organisation)
    lab.create_org(lab.settings.service.lab_organisation)
    pages: dict[str, Any] = {"anonymous": new_context(browser, lab).new_page()}
    for role in ROLES[1:]:
        org = organisation if role == "submitter" else lab.settings.service.lab_organisation
        user = lab.create_user(org, role, f"{role}@{'newleaf' if role == 'submitter' else 'lab'}"
                                          ".example")
        page = new_context(browser, lab).new_page()
        first_sign_in(page, lab.base_url, user.email, user.password)
        pages[role] = page
    return pages


# Submission states the one evaluation does not pass through, as the lab's records hold them
# after a run (written directly: a second and third evaluation would triple the sweep's time).
OTHER_STATES = {
    "failed": {"job": "failed", "error": "The linkage stage stopped: the national records "
                                         "could not be read. The lab has been told."},
    "held": {"job": "done", "hold_reason": "Its cohort overlaps another organisation's "
                                           "published report (differencing guard)."},
    "not_answerable": {"job": "declined", "error": "This request could not be answered: "
                                                   "fewer than 60 people after matching."},
}


def copy_in_state(lab: LiveLab, like: int, state: str) -> int:
    """A copy of submission ``like`` in ``state`` (:data:`OTHER_STATES`), with its last job."""
    from jdl.service._models import Job, Submission, SubmissionEvent, utcnow

    spec = OTHER_STATES[state]
    with lab.sessions() as db:
        model = db.get(Submission, like)
        copy = Submission(organisation_id=model.organisation_id, submitted_by=model.submitted_by,
                          state=state, file_name=model.file_name, programme=model.programme,
                          validation=model.validation, hold_reason=spec.get("hold_reason"))
        db.add(copy)
        db.flush()
        db.add(Job(submission_id=copy.id, requested_by=model.submitted_by, state=spec["job"],
                   stage="linkage", error=spec.get("error"), started_at=utcnow(),
                   finished_at=utcnow(), attempts=1))
        db.add_all([SubmissionEvent(submission_id=copy.id, state=s)
                    for s in ("queued", "running", state)])
        db.commit()
        return copy.id


def add_unexpected_error_route(lab: LiveLab) -> None:
    """A route that fails as a bug would, so the 500 page can be looked at (test-only)."""
    def fail() -> None:
        raise RuntimeError("a planted bug with private text: /srv/secret")

    lab.app.add_api_route(UNEXPECTED, fail, methods=["GET"], include_in_schema=False)


def test_every_page_at_both_widths_is_accessible_and_fits_a_phone(
        module_data_lab, people, planted_upload, tmp_path, cheap_hashing):
    lab, programme = module_data_lab, planted_upload["programme"]
    sweep = Sweep(lab, Screens(tmp_path / "screens", "page"))
    submitter, anonymous = people["submitter"], people["anonymous"]

    # upload results: a refused file, a form sent without a file, then an accepted file with
    # rejected rows (the generator's realistic mistakes) whose evaluation the sweep follows
    submitter.goto("/")
    fill_upload_form(submitter, broken_copy(planted_upload["upload"], tmp_path / "bad.csv"),
                     programme)
    submitter.get_by_role("button", name="Upload and check").click()
    submitter.get_by_text(re.compile(r"The first \d+ problems, row by row")).click()
    sweep.check(submitter, "submitter", "upload refused")
    submitter.goto("/")
    submitter.get_by_role("button", name="Upload and check").click()
    sweep.check(submitter, "submitter", "upload without a file")
    fill_upload_form(submitter, planted_upload["upload"], programme)
    submitter.get_by_role("button", name="Upload and check").click()
    submitter.wait_for_url("**/submissions/*")
    submission = int(submitter.url.rsplit("/", 1)[1])
    sweep.check(submitter, "submitter",
                f"accepted with rejected rows ({state_of(lab, submission)})")

    # while it is evaluated: the forms' error pages and the public pages with no report yet
    anonymous.goto("/login")
    anonymous.get_by_label("Email address").fill("nobody@example.org")
    anonymous.get_by_label("Password", exact=True).fill("wrong password")
    anonymous.get_by_role("button", name="Sign in").click()
    sweep.check(anonymous, "anonymous", "sign-in refused")
    submitter.goto("/password")
    submitter.get_by_label("Current password").fill("not it")
    submitter.get_by_label("New password", exact=True).fill("short")
    submitter.get_by_label("Confirm new password").fill("different")
    submitter.get_by_role("button", name="Save password").click()
    sweep.check(submitter, "submitter", "password refused")
    admin = people["admin"]
    admin.goto("/admin")
    admin.get_by_label("Email address").fill("new@newleaf.example")
    admin.get_by_label("Organisation").select_option(programme["organisation"])
    admin.get_by_label("Role").select_option("submitter")
    admin.get_by_role("button", name="Add user").click()
    sweep.check(admin, "admin", "admin: new user's one-time password")
    admin.get_by_label("Email address").fill("lab-role@newleaf.example")
    admin.get_by_label("Organisation").select_option(programme["organisation"])
    admin.get_by_label("Role").select_option("analyst")  # a lab role outside the lab
    admin.get_by_role("button", name="Add user").click()
    assert admin.locator(".error-summary a").get_attribute("href") == "#new-role"
    assert admin.get_by_label("Email address").input_value() == "lab-role@newleaf.example"
    sweep.check(admin, "admin", "admin: user refused")
    admin.get_by_label("Name").fill(" ")
    admin.get_by_role("button", name="Add organisation").click()
    assert admin.locator(".error-summary a").get_attribute("href") == "#org-name"
    sweep.check(admin, "admin", "admin: organisation refused")
    anonymous.goto("/catalogue?min_size=a+few")
    assert anonymous.locator(".error-summary a").get_attribute("href") == "#min_size"
    for path in ("/catalogue", "/catalogue/summary", "/"):
        sweep.visit(anonymous, "anonymous", path)  # "/" shows the sign-in page
    add_unexpected_error_route(lab)
    sweep.visit(anonymous, "anonymous", UNEXPECTED)

    # awaiting review: each lab role's view of it
    wait_for_state(lab, submission, "awaiting_review")
    for role in ("submitter", "analyst", "reviewer"):
        people[role].goto(f"/submissions/{submission}")
        sweep.check(people[role], role, "submission awaiting review")
    reviewer = people["reviewer"]
    reviewer.get_by_label("Publish in the public catalogue on").fill(
        datetime.now(UTC).date().isoformat())
    reviewer.get_by_role("button", name="Approve for release").click()
    reviewer.get_by_text("approved").first.wait_for()
    sweep.check(reviewer, "reviewer", "submission approved")
    submitter.goto(f"/submissions/{submission}")
    sweep.check(submitter, "submitter", "submission approved")

    # the states this evaluation did not pass through, as the organisation and the lab see them
    for state in OTHER_STATES:
        other = copy_in_state(lab, submission, state)
        for role in ("submitter", "analyst"):
            people[role].goto(f"/submissions/{other}")
            sweep.check(people[role], role, f"submission {state.replace('_', ' ')}")

    # published: every page in PAGES
    from jdl.service._publication import publish_due

    publish_due(lab.sessions, lab.settings, today=datetime.now(UTC).date())
    assert state_of(lab, submission) == "published"
    from jdl.service._models import Submission

    with lab.sessions() as db:
        publication = db.get(Submission, submission).publication_id
    for role, path in PAGES:
        sweep.visit(people[role], role, path.format(submission=submission,
                                                    publication=publication))

    shown = {path for _name, _role, path in sweep.visited}
    sweep.write_log(tmp_path)
    assert unvisited_pages(lab.app, shown) == [], (
        "pages the sweep does not visit: add them to PAGES (or to NOT_PAGES if not a page)")
    assert {r for _n, r, _p in sweep.visited} == set(ROLES)
    assert sweep.problems == {}


def test_the_route_check_finds_a_page_nobody_visits(module_data_lab):
    """The sweep's coverage check itself: an unvisited page is reported, files are not."""
    shown = {"/login", "/catalogue"}
    missing = unvisited_pages(module_data_lab.app, shown)
    assert "/guidance" in missing and "/submissions/{submission_id}" in missing
    assert "/login" not in missing and "/catalogue/export.csv" not in missing
    assert not any(p.startswith("/api/") for p in missing)


def test_the_sweeps_checks_find_what_they_look_for(browser, tmp_path):
    """Each check of :class:`Sweep` on a page planted with one of each problem."""
    page = browser.new_page()
    page.set_content("""<!doctype html><html lang="en"><head><title>Planted</title>
      <meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>
      <h1>Planted</h1><div class="error-summary"><ul><li>Not linked</li>
      <li><a href="#nowhere">Linked to nothing</a></li></ul></div>
      <input type="text" name="unlabelled"><div style="width: 600px">wide</div>
      <div class="table-scroll" style="overflow-x: auto"><table><tr><th>t</th></tr></table></div>
      <pre>{"detail":"Not Found"}</pre></main></body></html>""")
    sweep = Sweep(None, Screens(tmp_path, "planted"))  # type: ignore[arg-type]
    sweep.check(page, "anonymous", "planted")
    found = sweep.problems["planted (anonymous)"]
    assert any(p.startswith("JSON or a traceback") for p in found)
    assert sum(p.startswith("error summary not linked") for p in found) == 2
    assert any(p.startswith("desktop: axe label") for p in found)
    assert any(p.startswith("phone: the page scrolls sideways") and "div" in p for p in found)
    page.close()
