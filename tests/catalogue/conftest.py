"""Catalogue fixtures: a fresh service database and storage per test, and a client."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jdl.core.config import ServiceSettings, Settings


def catalogue_settings(tmp_path: Path, **catalogue) -> Settings:
    settings = Settings()
    settings.service = ServiceSettings(
        database_url=f"sqlite:///{tmp_path / 'service.db'}", storage_dir=tmp_path / "files",
        in_process_worker=False, secret_key_file=tmp_path / "secret.key",
        encryption_key_file=tmp_path / "encryption.key", secure_cookies=False)
    settings.catalogue = settings.catalogue.model_copy(update=catalogue)
    return settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return catalogue_settings(tmp_path)


@pytest.fixture
def app(settings):
    from jdl.service import create_app

    return create_app(settings)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)


@pytest.fixture
def db(app):
    with app.state.sessions() as session:
        yield session


# The browser tests' fixtures (headless Chromium, screenshots) from tests/browser.
from tests.browser.conftest import browser, screens  # noqa: E402, F401
