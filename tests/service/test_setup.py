"""Schema, accounts and commands: migrations match the models, secrets are hashed, the admin
commands print one-time secrets, and `jdl --help` does not load the web stack."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from jdl.core.errors import UsageError
from jdl.service._accounts import create_org, create_user
from jdl.service._db import make_engine, open_database, upgrade
from jdl.service._models import Base, User
from jdl.service._security import token_digest, verify_password


def test_migrations_match_the_models_and_are_idempotent(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    upgrade(engine)  # every start runs it again
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


LAB = "Justice Data Lab"


def test_users_get_argon2id_passwords_and_hashed_tokens(tmp_path):
    sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with sessions() as db:
        create_org(db, "Org A")
        new = create_user(db, "Org A", "submitter", " Someone@Example.org ", lab_organisation=LAB)
        user = db.scalar(select(User))
        assert user.email == "someone@example.org" and user.must_change_password
        assert user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, new.password)
        assert not verify_password(user.password_hash, new.password + "x")
        assert user.token_hash == token_digest(new.token) and new.token not in user.token_hash
        for args in (("Nope", "submitter", "a@b.c"), ("Org A", "boss", "a@b.c"),
                     ("Org A", "submitter", "not-an-email"),
                     ("Org A", "submitter", "someone@example.org")):
            with pytest.raises(UsageError):
                create_user(db, *args, lab_organisation=LAB)
        with pytest.raises(UsageError):
            create_org(db, "Org A")


def test_admin_commands(tmp_path, monkeypatch, capsys):
    from jdl.cli import main
    from jdl.core.config import get_settings

    monkeypatch.setenv("JDL_SERVICE__DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["admin", "create-org", "New Leaf Trust"])
        assert exit_.value.code == 0
        with pytest.raises(SystemExit) as exit_:
            main(["admin", "create-user", "--org", "New Leaf Trust", "--role", "submitter",
                  "--email", "a@newleaf.org"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert "One-time password:" in out and "API token: jdl_" in out
        with pytest.raises(SystemExit) as exit_:
            main(["admin", "create-user", "--org", "Nobody", "--role", "submitter",
                  "--email", "b@x.org"])
        assert exit_.value.code == 2
    finally:
        get_settings.cache_clear()


def test_help_does_not_import_the_web_stack():
    code = ("import sys; from jdl.cli import app; "
            "print(any(m in sys.modules for m in ('fastapi', 'sqlalchemy', 'uvicorn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_serve_trusts_forwarded_addresses_only_from_the_configured_proxies(tmp_path, monkeypatch,
                                                                          capsys):
    import uvicorn

    from jdl.cli import main
    from jdl.core.config import get_settings

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("JDL_SERVICE__DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("JDL_SERVICE__STORAGE_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("JDL_SERVICE__SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("JDL_SERVICE__ENCRYPTION_KEY_FILE", str(tmp_path / "encryption.key"))
    monkeypatch.setenv("JDL_SERVICE__FORWARDED_ALLOW_IPS", "10.0.0.5")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["serve", "--no-worker", "--port", "8123"])
        assert exit_.value.code == 0
    finally:
        get_settings.cache_clear()
    protocol = seen.pop("http")  # the header deadline (test_pentest.py runs it)
    assert protocol.header_timeout == 10
    assert seen == {"host": "127.0.0.1", "port": 8123, "proxy_headers": True,
                    "forwarded_allow_ips": "10.0.0.5", "timeout_keep_alive": 5,
                    "limit_concurrency": 1000}
    assert "No accounts yet" in capsys.readouterr().out  # a first start says what to do
