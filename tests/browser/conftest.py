"""Browser-test fixtures: a real lab server on loopback (``live_lab``, ``live_data_lab``), a
headless Debian Chromium (``browser``), numbered screenshots (``screens``) and a planted
programme's upload (``planted_upload``). Helpers live in ``tests/browser/live.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.browser.live import Screens, launch_chromium, live_server, live_settings


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch):
    """Argon2id with the cheapest parameters (the server runs in this process); production
    keeps argon2-cffi's RFC 9106 defaults."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("jdl.service._security._hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (each test opens its own contexts)."""
    from tests.browser.live import require_chromium

    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def live_lab(tmp_path):
    """A lab server without national records (its jobs fail cleanly)."""
    with live_server(live_settings(tmp_path, None)) as lab:
        yield lab


@pytest.fixture
def live_data_lab(tmp_path, synthetic_data_dir):
    """A lab server evaluating against the 30,000-person synthetic register."""
    with live_server(live_settings(tmp_path, synthetic_data_dir)) as lab:
        yield lab


@pytest.fixture
def screens(tmp_path, request) -> Screens:
    return Screens(tmp_path / "screens", request.node.name.replace("test_", "", 1)[:40])


@pytest.fixture(scope="session")
def planted_upload(synthetic_data_dir, tmp_path_factory) -> dict[str, Any]:
    """The New Leaf Employment programme's upload (with the generator's realistic mistakes,
    few enough to be accepted) and its programme information."""
    from jdl.admin.synth import make_submission

    paths = make_submission(synthetic_data_dir, "new-leaf-employment",
                            tmp_path_factory.mktemp("planted") / "upload.csv")
    return {"upload": Path(paths["upload"]),
            "programme": yaml.safe_load(Path(paths["programme"]).read_text())}
