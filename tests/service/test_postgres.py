"""The service on PostgreSQL (the deployment database; SQLite is the laptop default): the
migrations build the same schema as the models, the API works, and two workers claiming from
one queue never take the same job."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from jdl.service._db import make_engine, open_database, upgrade
from jdl.service._jobs import claim_next
from jdl.service._models import AuditEntry, Base, Job
from tests.service.conftest import Lab, make_settings, start_lab
from tests.service.postgres import postgres_server

pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture
def fresh_database(postgres_url):
    """An empty schema for each test (the server is shared by the module)."""
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return postgres_url


def test_migrations_match_the_models_on_postgres(fresh_database):
    import jdl.service._catalogue_models  # noqa: F401  (the catalogue's tables share the metadata)

    engine = make_engine(fresh_database)
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert engine.dialect.name == "postgresql"


def test_api_upload_isolation_and_audit_on_postgres(fresh_database, tmp_path, synthetic_upload):
    settings = make_settings(tmp_path)
    settings.service.database_url = fresh_database
    client, tokens, ids = start_lab(settings)
    with client:
        lab = Lab(client, tokens, ids)
        created = lab.upload("submitter_a", synthetic_upload["upload"],
                             synthetic_upload["programme"])
        assert created.status_code == 201
        sid = created.json()["id"]
        assert lab.client.get(f"/api/submissions/{sid}",
                              headers=lab.auth("submitter_b")).status_code == 404
        listing = lab.client.get("/api/submissions", headers=lab.auth("submitter_a")).json()
        assert [s["id"] for s in listing] == [sid]
        with lab.sessions() as db:
            denied = db.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
        assert [(a.action, a.submission_id) for a in denied] == [("submission.view", sid)]


def test_two_workers_never_claim_the_same_job_on_postgres(fresh_database, tmp_path,
                                                          synthetic_upload):
    settings = make_settings(tmp_path)
    settings.service.database_url = fresh_database
    client, tokens, ids = start_lab(settings)
    with client:
        lab = Lab(client, tokens, ids)
        for _ in range(6):
            assert lab.upload("submitter_a", synthetic_upload["upload"],
                              synthetic_upload["programme"]).status_code == 201
    sessions = open_database(fresh_database)
    claimed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        while (job_id := claim_next(sessions)) is not None:
            with lock:
                claimed.append(job_id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 6
    with sessions() as db:
        assert {job.attempts for job in db.scalars(select(Job))} == {1}
