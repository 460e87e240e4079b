"""Service fixtures: a fresh SQLite database and storage folder per test, organisations and
users of every role, and a synthetic upload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from jdl.core.config import ServiceSettings, Settings
from jdl.service import create_app
from jdl.service._accounts import create_org, create_user

USERS = {
    "submitter_a": ("Org A", "submitter"),
    "submitter_a2": ("Org A", "submitter"),
    "submitter_b": ("Org B", "submitter"),
    "analyst": ("Justice Data Lab", "analyst"),
    "reviewer": ("Justice Data Lab", "reviewer"),
    "reviewer2": ("Justice Data Lab", "reviewer"),
    "admin": ("Justice Data Lab", "admin"),
}


def make_settings(tmp_path: Path, data_dir: Path | None = None, **service: Any) -> Settings:
    settings = Settings()
    settings.service = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'service.db'}",
                                       storage_dir=tmp_path / "files",
                                       in_process_worker=False,
                                       secret_key_file=tmp_path / "secret.key",
                                       encryption_key_file=tmp_path / "encryption.key",
                                       secure_cookies=False, **service)
    # without a data directory, jobs fail cleanly (tests that run them pass one)
    settings.data.data_dir = data_dir if data_dir is not None else tmp_path / "no-data"
    return settings


class Lab:
    """A running app with a client and a bearer-token header per user."""

    def __init__(self, client: TestClient, tokens: dict[str, str], ids: dict[str, int],
                 passwords: dict[str, str] | None = None) -> None:
        self.client, self.tokens, self.ids = client, tokens, ids
        self.passwords = passwords or {}

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    @property
    def sessions(self):
        return self.client.app.state.sessions

    @property
    def settings(self) -> Settings:
        return self.client.app.state.settings

    def upload(self, who: str, upload: Path, programme: dict, name: str | None = None):
        """Upload as ``who``; the organisation comes from their account, so it is left out."""
        programme = {k: v for k, v in programme.items() if k != "organisation"}
        with open(upload, "rb") as fh:
            return self.client.post(
                "/api/submissions", headers=self.auth(who),
                files={"file": (name or upload.name, fh, "text/csv")},
                data={"programme": yaml_to_json(programme)})


def yaml_to_json(programme: dict) -> str:
    import json

    return json.dumps(programme, default=str)


def start_lab(settings: Settings, passwords: dict[str, str] | None = None,
              ) -> tuple[TestClient, dict[str, str], dict[str, int]]:
    """The app with every user of USERS; their one-time passwords go into ``passwords``."""
    app = create_app(settings)
    tokens, ids = {}, {}
    passwords = {} if passwords is None else passwords
    with app.state.sessions() as db:
        for org in {org for org, _ in USERS.values()}:
            create_org(db, org)
        for who, (org, role) in USERS.items():
            user = create_user(db, org, role, f"{who}@example.org",
                               lab_organisation=settings.service.lab_organisation)
            tokens[who], ids[who] = user.token, user.user_id
            passwords[who] = user.password
    return TestClient(app), tokens, ids


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch):
    """Argon2id with the cheapest parameters: tests create many users; production keeps
    argon2-cffi's RFC 9106 defaults."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("jdl.service._security._hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def lab(tmp_path):
    passwords: dict[str, str] = {}
    client, tokens, ids = start_lab(make_settings(tmp_path), passwords)
    with client:
        yield Lab(client, tokens, ids, passwords)


@pytest.fixture(scope="session")
def synthetic_upload(synthetic_data_dir, tmp_path_factory) -> dict[str, Any]:
    """The planted programme's upload and its programme information as a dict."""
    from jdl.admin.synth import make_submission

    paths = make_submission(synthetic_data_dir, "new-leaf-employment",
                            tmp_path_factory.mktemp("upload") / "u.csv")
    programme = yaml.safe_load(Path(paths["programme"]).read_text())
    # the organisation comes from the uploader's account, never the upload (issue 16)
    programme.pop("organisation", None)
    return {"upload": paths["upload"], "programme": programme}


@pytest.fixture
def admin_cli(tmp_path, monkeypatch):
    """``jdl ...`` run in-process against a fresh SQLite database: a function taking the
    command's arguments and returning its exit code (the settings cache is cleared around it)."""
    from jdl.cli import main
    from jdl.core.config import get_settings

    monkeypatch.setenv("JDL_SERVICE__DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    get_settings.cache_clear()

    def run(*args: str) -> int:
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        return exit_.value.code

    yield run
    get_settings.cache_clear()
