"""Browser-test fixtures: a real lab server on loopback (``live_lab``, ``live_data_lab``), a
headless Debian Chromium (``browser``), numbered screenshots (``screens``) and a planted
programme's upload (``planted_upload``). Helpers live in ``tests/browser/live.py``."""

from __future__ import annotations

import csv
import io
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


@pytest.fixture(scope="module")
def module_data_lab(tmp_path_factory, synthetic_data_dir):
    """One lab server (30,000-person synthetic register) shared by a module's tests, for
    sweeps that need a real evaluation once, not once per test. Accounts made in it should be
    made under :func:`cheap_hashing` (the per-test ``_fast_password_hashing`` is not active in
    a module fixture)."""
    with live_server(live_settings(tmp_path_factory.mktemp("lab"), synthetic_data_dir)) as lab:
        yield lab


@pytest.fixture(scope="module")
def cheap_hashing():
    """``_fast_password_hashing`` for module-scoped fixtures."""
    from argon2 import PasswordHasher

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("jdl.service._security._hasher",
                      PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


# Helpers the browser tests share (moved here from test_flow.py)

def broken_copy(upload: Path, target: Path) -> Path:
    """The upload's first 70 people with mistakes in 17 rows: too few usable people, so the
    lab refuses the file and lists every problem. Rows count from the heading (row 1)."""
    rows = list(csv.reader(io.StringIO(upload.read_text())))
    heading, people = rows[0], rows[1:71]
    dob, sex = heading.index("date_of_birth"), heading.index("sex")
    people[4][dob] = "31/02/1985"  # row 6: no such date
    people[9][sex] = "Q"  # row 11
    for person in people[20:35]:  # rows 22-36
        person[dob] = "not known"
    with target.open("w", newline="") as out:
        csv.writer(out).writerows([heading, *people])
    return target


def fill_upload_form(page: Any, upload: Path, programme: dict[str, Any]) -> None:
    """Choose the file and fill in the programme form by its labels."""
    page.get_by_label("Participants file").set_input_files(str(upload))
    fill_programme(page, programme)


def fill_programme(page: Any, programme: dict[str, Any]) -> None:
    """Fill in the upload page's programme fields by their labels."""
    from jdl.service._web import _programme_fields

    for field in _programme_fields():
        value = programme.get(field["name"])
        if value is None:
            continue
        control = page.get_by_label(field["label"], exact=True)
        if field.get("choices"):
            control.select_option(str(value))
        else:
            control.fill(str(value))
