"""Account administration: the admin pages and the ``jdl admin`` commands that deactivate users
and replace their credentials; only admins reach the pages, and every change is audited."""

from __future__ import annotations

import re

from sqlalchemy import select

from jdl.service._models import AuditEntry
from tests.service.test_web import csrf, signed_in


def _shown_secret(page_html: str, label: str) -> str:
    return re.search(label + r"[^<]*</dt><dd><code>([^<]+)</code>", page_html).group(1)


def test_only_admins_reach_the_account_pages(lab):
    for who in ("submitter_a", "analyst", "reviewer"):
        signed_in(lab, who)
        page = lab.client.get("/admin")
        assert page.status_code == 403 and "Only lab admins" in page.text
        lab.client.cookies.clear()
    with lab.sessions() as db:
        denied = db.scalars(select(AuditEntry).where(AuditEntry.action == "admin.view",
                                                     AuditEntry.outcome == "denied")).all()
    assert len(denied) == 3
    assert lab.client.get("/admin", follow_redirects=False).status_code == 303  # signed out


def test_admin_creates_an_organisation_and_a_user_who_can_sign_in(lab):
    token = signed_in(lab, "admin")
    page = lab.client.get("/admin")
    assert page.status_code == 200 and "submitter_a@example.org" in page.text
    made = lab.client.post("/admin/organisations",
                           data={"csrf_token": token, "name": "Second Chance CIC"})
    assert "Created the organisation Second Chance CIC" in made.text
    again = lab.client.post("/admin/organisations",
                            data={"csrf_token": token, "name": "Second Chance CIC"})
    assert again.status_code == 422 and "already an organisation" in again.text
    user = lab.client.post("/admin/users", data={
        "csrf_token": token, "email": "New@SecondChance.org",
        "organisation": "Second Chance CIC", "role": "submitter"})
    password = _shown_secret(user.text, "One-time password")
    api_token = _shown_secret(user.text, "API token")
    assert api_token.startswith("jdl_")
    # the new user signs in with the one-time password and must choose a new one
    lab.client.cookies.clear()
    token = csrf(lab.client.get("/login").text)
    response = lab.client.post("/login", follow_redirects=False, data={
        "csrf_token": token, "email": "new@secondchance.org", "password": password})
    assert response.headers["location"] == "/password"
    listing = lab.client.get("/api/submissions", headers={"Authorization": f"Bearer {api_token}"})
    assert listing.status_code == 200 and listing.json() == []
    with lab.sessions() as db:
        actions = set(db.scalars(select(AuditEntry.action)))
    assert {"admin.create_org", "admin.create_user"} <= actions


def test_deactivated_user_loses_pages_and_api_at_once(lab):
    from fastapi.testclient import TestClient

    submitter = TestClient(lab.client.app)  # the submitter's own browser, signed in
    other = lab.client
    lab.client = submitter
    signed_in(lab, "submitter_a")
    assert submitter.get("/", follow_redirects=False).status_code == 200
    lab.client = other
    token = signed_in(lab, "admin")
    uid = lab.ids["submitter_a"]
    done = lab.client.post(f"/admin/users/{uid}", follow_redirects=False,
                           data={"csrf_token": token, "action": "deactivate"})
    assert done.status_code == 303
    assert "deactivated" in lab.client.get("/admin").text
    assert submitter.get("/", follow_redirects=False).headers["location"] == "/login"
    assert lab.client.get("/api/submissions", headers=lab.auth("submitter_a")).status_code == 401
    self_off = lab.client.post(f"/admin/users/{lab.ids['admin']}", data={
        "csrf_token": token, "action": "deactivate"})
    assert self_off.status_code == 422 and "your own account" in self_off.text


def test_new_token_replaces_the_old_one(lab):
    token = signed_in(lab, "admin")
    uid = lab.ids["analyst"]
    page = lab.client.post(f"/admin/users/{uid}", data={"csrf_token": token, "action": "token"})
    new_token = _shown_secret(page.text, "API token")
    assert lab.client.get("/api/submissions", headers=lab.auth("analyst")).status_code == 401
    fresh = lab.client.get("/api/submissions", headers={"Authorization": f"Bearer {new_token}"})
    assert fresh.status_code == 200


def test_admin_forms_need_the_csrf_token(lab):
    signed_in(lab, "admin")
    response = lab.client.post("/admin/organisations", data={"name": "Sneaky Ltd"})
    assert response.status_code == 403


def test_cli_deactivates_and_reissues(admin_cli, capsys):
    run = admin_cli
    assert run("admin", "create-org", "Org") == 0
    assert run("admin", "create-user", "--org", "Org", "--role", "submitter",
               "--email", "a@org.org") == 0
    first = capsys.readouterr().out
    assert run("admin", "new-credentials", "--email", "A@org.org", "--password") == 0
    second = capsys.readouterr().out
    assert "API token: jdl_" in second and "One-time password:" in second
    token = lambda out: re.search(r"API token: (\S+)", out).group(1)  # noqa: E731
    assert token(first) != token(second)
    assert run("admin", "deactivate-user", "--email", "a@org.org") == 0
    assert "deactivated" in capsys.readouterr().out
    assert run("admin", "deactivate-user", "--email", "nobody@org.org") == 2


def test_ids_beyond_the_database_are_refused_on_the_form_routes(lab):
    """A malformed request (422), never a database overflow (500)."""
    token = signed_in(lab, "admin")
    too_big = 2**63
    form = {"csrf_token": token, "action": "token", "embargo_until": "2099-01-01"}
    for path in (f"/admin/users/{too_big}", f"/submissions/{too_big}/publication-date"):
        assert lab.client.post(path, data=form).status_code == 422, path
    assert lab.client.get(f"/submissions/{too_big}/progress").status_code == 422
