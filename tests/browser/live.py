"""A real lab server on loopback and a headless Chromium to drive it (importable helpers).

The server is what ``jdl serve`` runs — the FastAPI app under uvicorn, with the in-process job
worker — on a free 127.0.0.1 port, with SQLite and storage in a temporary folder and plain-HTTP
cookies. Chromium is Debian's (``/usr/bin/chromium``, installed by the Makefile), driven by the
``playwright`` package's own driver: ``playwright install`` downloads browsers and is never run.

Other tests (e.g. the public catalogue's) reuse this through the fixtures in
``tests/browser/conftest.py``, or directly::

    with live_server(settings) as lab:
        org = lab.create_org("New Leaf Trust")
        user = lab.create_user("New Leaf Trust", "submitter", "a@newleaf.org")
        page.goto(lab.url("/login"))
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jdl.core.config import ServiceSettings, Settings

NEW_PASSWORD = "a long enough passphrase"  # what every test user chooses
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Headless, and quiet on a closed network: without the background-networking flags Chromium
# keeps trying to reach update, sync and safe-browsing servers.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def live_settings(tmp_path: Path, data_dir: Path | None, **service: Any) -> Settings:
    """Lab settings for a throw-away server: everything under ``tmp_path``, worker on."""
    settings = Settings()
    options: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'service.db'}",
        "storage_dir": tmp_path / "files", "in_process_worker": True,
        "worker_poll_seconds": 0.2, "secret_key_file": tmp_path / "secret.key",
        "encryption_key_file": tmp_path / "encryption.key", "secure_cookies": False}
    settings.service = ServiceSettings(**{**options, **service})
    settings.data.data_dir = data_dir if data_dir is not None else tmp_path / "no-data"
    return settings


@dataclass
class LiveLab:
    """A running server: its address, settings and database sessions, and account helpers
    (the same ``jdl.service._accounts`` functions ``jdl admin`` uses)."""

    base_url: str
    app: Any

    @property
    def settings(self) -> Settings:
        return self.app.state.settings

    @property
    def sessions(self) -> Any:
        return self.app.state.sessions

    def url(self, path: str) -> str:
        return self.base_url + path

    def create_org(self, name: str) -> int:
        from jdl.service._accounts import create_org

        with self.sessions() as db:
            return create_org(db, name).id

    def create_user(self, org: str, role: str, email: str) -> Any:
        """A :class:`jdl.service._accounts.NewUser` (one-time password and API token)."""
        from jdl.service._accounts import create_user

        with self.sessions() as db:
            return create_user(db, org, role, email,
                               lab_organisation=self.settings.service.lab_organisation)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(settings: Settings, timeout: float = 30.0) -> Iterator[LiveLab]:
    """Serve the lab on a free loopback port in a thread until the block ends."""
    import uvicorn

    from jdl.service import create_app

    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the lab server did not start")
        time.sleep(0.05)
    try:
        yield LiveLab(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(15)


def require_chromium() -> Path:
    """Debian's Chromium and the playwright package, or a skip — a failure under CI
    (``CI=true``), where a browser test must never silently not run."""
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (make test installs Debian's chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pinned in requirements.lock)")
    if missing:
        message = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def launch_chromium(playwright: Any) -> Any:
    """A headless Debian Chromium under Playwright."""
    return playwright.chromium.launch(executable_path=str(require_chromium()),
                                      args=CHROMIUM_ARGS, headless=True)


def new_context(browser: Any, lab: LiveLab, **options: Any) -> Any:
    """A fresh browser profile (own cookies) as a UK user has it: en-GB language, London time.
    (Headless Chromium still draws date fields as mm/dd/yyyy; a British desktop browser shows
    dd/mm/yyyy.)"""
    return browser.new_context(base_url=lab.base_url, locale="en-GB",
                               timezone_id="Europe/London", **options)


class Screens:
    """Numbered full-page screenshots in the test's folder, copied to ``JDL_SCREENSHOTS_DIR``
    when that is set (to look at them after a run)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name, self.count = folder, name, 0
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, what: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.name}-{self.count:02d}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        copy_to = os.environ.get("JDL_SCREENSHOTS_DIR")
        if copy_to:
            Path(copy_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(copy_to) / path.name)
        return path


def sign_in(page: Any, base_url: str, email: str, password: str) -> None:
    """Fill and send the sign-in form, found by its labels (its accessible names)."""
    page.goto(base_url + "/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def first_sign_in(page: Any, base_url: str, email: str, one_time: str,
                  screens: Screens | None = None) -> None:
    """Sign in with the one-time password and choose a new one, as a new user must."""
    sign_in(page, base_url, email, one_time)
    page.wait_for_url("**/password")
    if screens is not None:
        screens.take(page, "choose-password")
    page.get_by_label("One-time password").fill(one_time)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url(base_url + "/")


def api_upload(lab: LiveLab, token: str, upload: dict[str, Any]) -> int:
    """Upload ``{"upload": path, "programme": dict}`` through the JSON API, as a script would;
    the new submission's number."""
    import httpx

    response = httpx.post(lab.url("/api/submissions"), timeout=60,
                          headers={"Authorization": f"Bearer {token}"},
                          files={"file": ("people.csv", upload["upload"].read_bytes(),
                                          "text/csv")},
                          data={"programme": json.dumps(
                              {k: v for k, v in upload["programme"].items()
                               if k != "organisation"},  # from the account, never the upload
                              default=str)})
    assert response.status_code == 201, response.text
    return response.json()["id"]


ACCESSIBILITY_JS = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  if (!document.title.trim()) problems.push("no <title>");
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(`${h1} <h1> headings`);
  for (const e of document.querySelectorAll(
      "input:not([type=hidden]), select, textarea")) {
    const named = (e.labels && e.labels.length) || e.getAttribute("aria-label")
      || e.getAttribute("aria-labelledby") || e.getAttribute("title");
    if (!named) problems.push(`unlabelled ${e.tagName.toLowerCase()} name=${e.name}`);
  }
  for (const t of document.querySelectorAll("table")) {
    if (!t.querySelector("th")) problems.push("a table without headings");
  }
  for (const a of document.querySelectorAll("a")) {
    const text = (a.textContent || a.getAttribute("aria-label") || "").trim().toLowerCase();
    if (!text || ["here", "click here", "more", "link"].includes(text))
      problems.push(`link without a meaningful name: ${a.href}`);
  }
  for (const b of document.querySelectorAll("button")) {
    if (!(b.textContent || b.getAttribute("aria-label") || "").trim())
      problems.push("a button without a name");
  }
  return problems;
}"""


def accessibility_problems(page: Any) -> list[str]:
    """What the page lacks for screen-reader and keyboard users (empty when nothing): a
    language, a title, one h1, labelled controls, table headings, named links and buttons."""
    return page.evaluate(ACCESSIBILITY_JS)


#: axe-core's rule tags every browser test checks: WCAG 2.0 and 2.1, levels A and AA.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_script() -> str:
    """axe-core's script, as the pinned ``axe-playwright-python`` ships it (no download);
    a skip outside CI when it is not installed, a failure in CI."""
    try:
        from importlib.resources import files

        return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        message = "this browser test needs axe-playwright-python (requirements.lock)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


def axe_violations(page: Any, script: str | None = None) -> list[str]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it is drawn now, each as
    "rule (impact): the first three elements"."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(script if script is not None else axe_script())
    return list(page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                      resultTypes: ["violations"]})
           .then(r => r.violations.map(v => v.id + " (" + v.impact + "): "
             + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")))""", AXE_TAGS))
