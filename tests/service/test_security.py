"""Who may see and do what (issue 16), tried against a real server on loopback as an attacker
and an operator would: roles tied to the lab, the organisation from the account, sessions that
end, the password policy, sign-in limits and timing, reviewed re-run settings, security
headers, audited refusals and links from the configured public address.

Each test starts the service as ``jdl serve`` runs it (uvicorn, a free 127.0.0.1 port) and
talks HTTP to it with httpx; several loopback source addresses (127.0.0.2, ...) stand for
clients on different machines.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from jdl.core.errors import UsageError
from jdl.service._models import AuditEntry, Job, Submission, SubmissionState, User
from tests.browser.live import LiveLab, live_server, live_settings

LAB = "Justice Data Lab"
CHOSEN = "plum orbit velvet lantern"


@pytest.fixture
def live(tmp_path) -> Iterator[LiveLab]:
    with live_server(live_settings(tmp_path, None, in_process_worker=False)) as lab:
        lab.create_org(LAB)
        lab.create_org("New Leaf Trust")
        lab.create_org("Open Door")
        yield lab


def client(lab: LiveLab, address: str = "127.0.0.1", **kw: Any) -> httpx.Client:
    """A browser-like client from a loopback source address (one 'machine' per address)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=lab.base_url, transport=transport, timeout=30,
                        follow_redirects=False, **kw)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(web: httpx.Client, email: str, password: str) -> httpx.Response:
    token = csrf(web.get("/login").text)
    return web.post("/login", data={"csrf_token": token, "email": email, "password": password})


def choose_password(web: httpx.Client, current: str, new: str = CHOSEN) -> httpx.Response:
    token = csrf(web.get("/password").text)
    return web.post("/password", data={"csrf_token": token, "current": current,
                                       "password": new, "confirm": new})


def ready(lab: LiveLab, org: str, role: str, email: str,
          address: str = "127.0.0.1") -> tuple[httpx.Client, Any]:
    """A user signed in on their own client, their one-time password replaced."""
    made = lab.create_user(org, role, email)
    web = client(lab, address)
    assert sign_in(web, email, made.password).headers["location"] == "/password"
    assert choose_password(web, made.password).headers["location"] == "/"
    return web, made


def audit(lab: LiveLab, **where: Any) -> list[AuditEntry]:
    with lab.sessions() as db:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEntry, key) == value)
        return list(db.scalars(query))


# --- 1. roles belong to organisations -------------------------------------------------------

def test_lab_roles_exist_only_in_the_lab(live, tmp_path):
    for role in ("analyst", "reviewer", "admin"):
        with pytest.raises(UsageError, match="Only the lab's own organisation"):
            live.create_user("New Leaf Trust", role, f"{role}@newleaf.example")
    live.create_user("New Leaf Trust", "submitter", "sub@newleaf.example")  # allowed
    admin, _ = ready(live, LAB, "admin", "ada@lab.example")
    page = admin.post("/admin/users", data={
        "csrf_token": csrf(admin.get("/admin").text), "email": "rogue@opendoor.example",
        "organisation": "Open Door", "role": "reviewer"})
    assert page.status_code == 422 and "Only the lab&#39;s own organisation" in page.text
    with live.sessions() as db:
        assert db.scalar(select(User).where(User.email == "rogue@opendoor.example")) is None


def test_the_cli_refuses_a_lab_role_elsewhere(admin_cli, capsys):
    run = admin_cli
    assert run("admin", "create-org", "A Charity") == 0
    assert run("admin", "create-user", "--org", "A Charity", "--role", "reviewer",
               "--email", "r@charity.example") == 2
    assert "Only the lab's own organisation" in capsys.readouterr().err
    assert run("admin", "create-user", "--org", "A Charity", "--role", "submitter",
               "--email", "s@charity.example") == 0
    assert run("admin", "set-role", "--email", "s@charity.example", "--role", "admin") == 2


def test_existing_misplaced_lab_roles_stop_the_service_until_fixed(tmp_path):
    from jdl.service import create_app
    from jdl.service._accounts import create_org, create_user, find_user, set_role

    settings = live_settings(tmp_path, None, in_process_worker=False)
    app = create_app(settings)
    with app.state.sessions() as db:
        create_org(db, "A Charity")
        create_user(db, "A Charity", "submitter", "s@charity.example", lab_organisation=LAB)
        find_user(db, "s@charity.example").role = "reviewer"  # a row from before the rule
        db.commit()
    with pytest.raises(UsageError, match="will not start") as refused:
        create_app(settings)
    assert refused.value.problems == ["s@charity.example: reviewer in 'A Charity'"]
    with app.state.sessions() as db:
        set_role(db, find_user(db, "s@charity.example"), "submitter", lab_organisation=LAB)
    create_app(settings)  # fixed: it starts


def test_the_organisation_comes_from_the_account_never_the_upload(live, tmp_path):
    made = live.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    api = client(live, headers={"Authorization": f"Bearer {made.token}"})
    programme = ('{"organisation": "Ministry of Justice", "programme_name": "P", '
                 '"sector": "charity"}')
    response = api.post("/api/submissions", data={"programme": programme},
                        files={"file": ("people.csv", b"a,b\n1,2\n", "text/csv")})
    assert response.status_code == 422
    assert "comes from your account ('New Leaf Trust')" in response.json()["detail"]
    assert audit(live, action="submission.upload", outcome="denied")
    web, _ = ready(live, "New Leaf Trust", "submitter", "kim@newleaf.example")
    home = web.get("/").text
    assert 'name="organisation"' not in home and "New Leaf Trust" in home


def test_an_accepted_upload_is_named_by_the_account(live, synthetic_upload):
    made = live.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    programme = {k: v for k, v in synthetic_upload["programme"].items() if k != "organisation"}
    import json

    response = client(live, headers={"Authorization": f"Bearer {made.token}"}).post(
        "/api/submissions", data={"programme": json.dumps(programme, default=str)},
        files={"file": ("u.csv", Path(synthetic_upload["upload"]).read_bytes(), "text/csv")})
    assert response.status_code == 201, response.text
    assert response.json()["programme"]["organisation"] == "New Leaf Trust"


# --- 2. sessions that end ---------------------------------------------------------------------

def test_a_copied_cookie_dies_at_sign_out(live):
    web, _ = ready(live, "New Leaf Trust", "submitter", "sam@newleaf.example")
    thief = client(live, "127.0.0.9")
    thief.cookies.update(dict(web.cookies))
    assert thief.get("/").status_code == 200  # the copy works while the session is open
    web.post("/logout", data={"csrf_token": csrf(web.get("/").text)})
    answer = thief.get("/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")


def test_an_admin_reset_takes_the_account_back_from_a_stolen_session(live):
    web, made = ready(live, "New Leaf Trust", "submitter", "sam@newleaf.example")
    thief = client(live, "127.0.0.9")
    thief.cookies.update(dict(web.cookies))
    admin, _ = ready(live, LAB, "admin", "ada@lab.example")
    with live.sessions() as db:
        uid = db.scalar(select(User.id).where(User.email == "sam@newleaf.example"))
    reset = admin.post(f"/admin/users/{uid}", data={"csrf_token": csrf(admin.get("/admin").text),
                                                    "action": "password"})
    one_time = re.search(r"One-time password[^<]*</dt><dd><code>([^<]+)</code>", reset.text)[1]
    new_token = re.search(r"API token</dt><dd><code>([^<]+)</code>", reset.text)[1]
    # the stolen session is gone: it cannot reach the forced password change at all
    for path in ("/", "/password"):
        answer = thief.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert thief.post("/password", data={"csrf_token": "x", "current": "", "password": CHOSEN,
                                         "confirm": CHOSEN}).status_code in (303, 403)
    # the old API token is ended with it; the reset issued a new one
    old = client(live, headers={"Authorization": f"Bearer {made.token}"})
    assert old.get("/api/submissions").status_code == 401
    new = client(live, headers={"Authorization": f"Bearer {new_token}"})
    assert new.get("/api/submissions").status_code == 200
    # the real user's one-time password still works
    fresh = client(live)
    assert sign_in(fresh, "sam@newleaf.example", one_time).headers["location"] == "/password"
    assert choose_password(fresh, one_time).headers["location"] == "/"


def test_changing_a_password_needs_the_current_one_and_ends_every_session(live):
    web, made = ready(live, "New Leaf Trust", "submitter", "sam@newleaf.example")
    other = client(live, "127.0.0.3")
    assert sign_in(other, "sam@newleaf.example", CHOSEN).headers["location"] == "/"
    wrong = choose_password(web, "not my password", "tangerine quartz hammock")
    assert wrong.status_code == 422 and "current password is not right" in wrong.text
    assert audit(live, action="web.password_change", outcome="denied")
    changed = choose_password(web, CHOSEN, "tangerine quartz hammock")
    assert changed.status_code == 200 and "Every other session has been signed out" in changed.text
    token = re.search(r'<code id="new-token">([^<]+)</code>', changed.text).group(1)
    assert web.get("/").status_code == 200  # this browser got a new session
    assert other.get("/").headers["location"] == "/login"  # every other one ended
    old_api = client(live, headers={"Authorization": f"Bearer {made.token}"})
    assert old_api.get("/api/submissions").status_code == 401
    new_api = client(live, headers={"Authorization": f"Bearer {token}"})
    assert new_api.get("/api/submissions").status_code == 200


def test_deactivation_ends_sessions_and_token_at_once(live):
    web, made = ready(live, "New Leaf Trust", "submitter", "sam@newleaf.example")
    admin, _ = ready(live, LAB, "admin", "ada@lab.example")
    with live.sessions() as db:
        uid = db.scalar(select(User.id).where(User.email == "sam@newleaf.example"))
    admin.post(f"/admin/users/{uid}", data={"csrf_token": csrf(admin.get("/admin").text),
                                            "action": "deactivate"})
    assert web.get("/").headers["location"] == "/login"
    api = client(live, headers={"Authorization": f"Bearer {made.token}"})
    assert api.get("/api/submissions").status_code == 401
    admin.post(f"/admin/users/{uid}", data={"csrf_token": csrf(admin.get("/admin").text),
                                            "action": "activate"})
    assert api.get("/api/submissions").status_code == 401  # reactivation needs a new token


@pytest.mark.parametrize("password", ["password1234", "Password1234!", "P@ssw0rd2024",
                                      "qwertyuiop123", "123456789012", "aaaaaaaaaaaaa",
                                      "newleaftrust2024", "sam@newleaf12"])
def test_common_and_contextual_passwords_are_refused(live, password):
    made = live.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    web = client(live)
    sign_in(web, "sam@newleaf.example", made.password)
    refused = choose_password(web, made.password, password)
    assert refused.status_code == 422 and ("too common" in refused.text
                                           or "pattern" in refused.text
                                           or "email address or organisation" in refused.text)


def test_sign_in_is_limited_per_account_across_addresses_and_per_address(live):
    made = live.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    for n in range(5):  # 5 guesses, each from a different machine
        guess = client(live, f"127.0.0.{10 + n}")
        assert sign_in(guess, "sam@newleaf.example", f"guess number {n}").status_code == 401
    blocked = sign_in(client(live, "127.0.0.20"), "sam@newleaf.example", made.password)
    assert blocked.status_code == 429  # the account is limited, whatever the address
    sprayer = client(live, "127.0.0.30")  # one address trying many accounts
    answers = [sign_in(sprayer, f"user{n}@example.org", "spring is here again").status_code
               for n in range(live.settings.service.login_max_failures_per_address + 1)]
    assert answers[-1] == 429 and set(answers[:-1]) == {401}


def test_unknown_emails_take_as_long_as_wrong_passwords(tmp_path, monkeypatch):
    """With production Argon2id parameters an unknown email costs a hash too: its median
    sign-in time is within a factor 0.6-1.7 of a known email's with a wrong password (before the
    fix: ~10 ms against ~200-400 ms)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("jdl.service._security._hasher", PasswordHasher())
    settings = live_settings(tmp_path, None, in_process_worker=False, login_max_failures=1000,
                             login_max_failures_per_address=1000)
    with live_server(settings) as lab:
        lab.create_org("New Leaf Trust")
        lab.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
        web = client(lab)
        token = csrf(web.get("/login").text)

        def timed(email: str) -> float:
            start = time.perf_counter()
            answer = web.post("/login", data={"csrf_token": token, "email": email,
                                              "password": "not the password at all"})
            assert answer.status_code == 401
            return time.perf_counter() - start

        timed("sam@newleaf.example"), timed("nobody@newleaf.example")  # warm up
        pairs = [(timed("sam@newleaf.example"), timed(f"nobody{n}@newleaf.example"))
                 for n in range(11)]  # interleaved: the machine's load falls on both alike
        known = statistics.median(k for k, _ in pairs)
        unknown = statistics.median(u for _, u in pairs)
    print(f"sign-in median: known email {known * 1000:.0f} ms, unknown {unknown * 1000:.0f} ms")
    # the defect was a 20-40x difference; equal work leaves only the machine's noise
    assert 0.6 <= unknown / known <= 1 / 0.6


# --- 3. re-runs with reviewed settings --------------------------------------------------------

def test_reruns_take_only_reviewed_analysis_settings_and_the_reviewer_sees_them(live):
    made = live.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    analyst = live.create_user(LAB, "analyst", "ana@lab.example")
    with live.sessions() as db:  # a finished submission awaiting review, without a run
        sub = Submission(organisation_id=1, submitted_by=made.user_id,
                         state=SubmissionState.awaiting_review.value, file_name="upload.csv",
                         programme={"programme_name": "P"}, validation={"counts": {}})
        db.add(sub)
        db.commit()
        sid = sub.id
    api = client(live, headers={"Authorization": f"Bearer {analyst.token}"})
    url = f"/api/submissions/{sid}/rerun"
    switched_off = api.post(url, json={"settings": {"disclosure": {"min_count": 1,
                                                                   "rounding_base": 1}}})
    assert switched_off.status_code == 422
    assert "disclosure.min_count: may not be changed" in switched_off.json()["detail"]
    typo = api.post(url, json={"settings": {"matching": {"calipr": 0.05}}})
    assert typo.status_code == 422 and "'caliper'" in typo.json()["detail"]
    ok = api.post(url, json={"settings": {"matching": {"caliper": 0.05}}})
    assert ok.status_code == 200, ok.text
    assert "matching.caliper=0.05 (lab 0.2)" in audit(live, action="submission.rerun",
                                                       outcome="allowed")[-1].detail
    with live.sessions() as db:
        assert db.scalars(select(Job)).all()[-1].settings_overrides == {
            "matching": {"caliper": 0.05}}
    reviewer, _ = ready(live, LAB, "reviewer", "rita@lab.example")
    page = reviewer.get(f"/submissions/{sid}").text
    assert "Settings of this run" in page and "matching.caliper" in page
    assert re.search(r"<td>0.05</td><td>0.2</td>", page)


# --- 6. headers and audit -----------------------------------------------------------------------

def test_security_headers_on_pages_api_and_public_catalogue(live):
    web, _ = ready(live, "New Leaf Trust", "submitter", "sam@newleaf.example")
    anonymous = client(live)
    answers = {"home": web.get("/"), "login": anonymous.get("/login"),
               "api 401": anonymous.get("/api/submissions"),
               "catalogue": anonymous.get("/catalogue"),
               "script": anonymous.get("/static/progress.js")}
    for name, answer in answers.items():
        csp = answer.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, name
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0], name
        assert answer.headers["x-content-type-options"] == "nosniff", name
        assert answer.headers["referrer-policy"] == "same-origin", name
        assert answer.headers["x-frame-options"] == "DENY", name
        assert "strict-transport-security" not in answer.headers, name  # plain HTTP
    for name in ("home", "login", "api 401"):
        assert answers[name].headers["cache-control"] == "no-store", name
    assert "no-store" not in answers["catalogue"].headers.get("cache-control", "")
    assert answers["script"].status_code == 200
    assert "javascript" in answers["script"].headers["content-type"]


def test_hsts_only_over_tls_from_a_trusted_proxy(live):
    via_proxy = client(live, "127.0.0.1").get("/login", headers={"X-Forwarded-Proto": "https"})
    assert via_proxy.headers["strict-transport-security"].startswith("max-age=31536000")
    untrusted = client(live, "127.0.0.5").get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in untrusted.headers


def test_no_page_has_inline_script(live):
    web, _ = ready(live, "New Leaf Trust", "submitter", "sam@newleaf.example")
    made = live.create_user("New Leaf Trust", "submitter", "kim@newleaf.example")
    with live.sessions() as db:
        sub = Submission(organisation_id=2, submitted_by=made.user_id,
                         state=SubmissionState.running.value, file_name="upload.csv",
                         programme={"programme_name": "P"}, validation={"counts": {}})
        db.add(sub)
        db.flush()
        db.add(Job(submission_id=sub.id, requested_by=made.user_id, state="running",
                   stage="cohort"))
        db.commit()
        sid = sub.id
    admin, _ = ready(live, LAB, "admin", "ada@lab.example")
    pages = [web.get("/").text, web.get(f"/submissions/{sid}").text, admin.get("/admin").text,
             client(live).get("/login").text, client(live).get("/catalogue").text,
             client(live).get("/catalogue/summary").text]
    assert 'src="/static/progress.js"' in pages[1]  # the live progress is a file
    for html in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert not re.search(r"\son[a-z]+\s*=", html)


def test_every_refused_upload_is_audited(live):
    made = live.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    api = client(live, headers={"Authorization": f"Bearer {made.token}"})
    good = '{"programme_name": "P", "sector": "charity"}'
    tries = [({"programme": good}, ("x.exe", b"MZ", "application/octet-stream")),
             ({"programme": "{not json"}, ("x.csv", b"a\n", "text/csv")),
             ({"programme": '{"sector": "nonsense"}'}, ("x.csv", b"a\n", "text/csv"))]
    for data, file in tries:
        assert api.post("/api/submissions", data=data, files={"file": file}).status_code == 422
    denied = audit(live, action="submission.upload", outcome="denied")
    assert len(denied) == 3 and all(e.user_id == made.user_id for e in denied)
    assert all(e.detail.startswith("refused: ") for e in denied)


def test_export_links_come_from_the_public_url_never_the_host_header(tmp_path):
    from jdl.catalogue import ReportToPublish
    from jdl.service._catalogue import store_publication
    from tests.catalogue._build import PDF, released

    def published(lab: LiveLab) -> None:
        results = released()
        pdf = tmp_path / "report.pdf"
        pdf.write_bytes(PDF)
        report = ReportToPublish(None, "New Leaf", dict(results["programme"]), results, pdf,
                                 None, __import__("datetime").datetime(2026, 11, 1))
        with lab.sessions() as db:
            store_publication(db, report, lab.settings.service.storage_dir, lab.settings)

    with live_server(live_settings(tmp_path / "a", None, in_process_worker=False)) as lab:
        published(lab)
        rows = client(lab).get("/catalogue/export.json",
                               headers={"Host": "evil.example"}).json()["results"]
        assert rows and all(r["report_url"].startswith("/catalogue/reports/") for r in rows)
    with live_server(live_settings(tmp_path / "b", None, in_process_worker=False,
                                   public_url="https://lab.example.org")) as lab:
        published(lab)
        text = client(lab).get("/catalogue/export.csv", headers={"Host": "evil.example"}).text
        assert "https://lab.example.org/catalogue/reports/" in text and "evil" not in text
