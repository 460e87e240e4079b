"""`jdl catalogue seed` on the 30,000-person synthetic population: planted programmes
evaluated end to end and published as synthetic data; a second run publishes nothing new."""

from __future__ import annotations

import pytest

from jdl.core.errors import UsageError
from jdl.service._catalogue import current_summary
from jdl.service._catalogue_models import Publication
from jdl.service._catalogue_seed import choose, planted


def test_choose_covers_sectors_and_types_first(synthetic_data_dir):
    programmes = planted(synthetic_data_dir)
    four = choose(programmes, 4)
    assert {p["sector"] for p in four} == {"voluntary_community", "public", "private",
                                          "education"}
    # every private programme planted is employment support: sectors come first
    assert {p["intervention_type"] for p in four} == {"employment", "education", "family"}
    every = choose(programmes, len(programmes))
    assert {p["intervention_type"] for p in every} == {p["intervention_type"]
                                                       for p in programmes}
    with pytest.raises(UsageError, match="planted programmes"):
        choose(programmes, len(programmes) + 1)
    with pytest.raises(UsageError):
        choose(programmes, 0)


def test_seed_publishes_real_evaluations(synthetic_data_dir, tmp_path, monkeypatch, capsys):
    from jdl.cli import main
    from jdl.core.config import get_settings
    from jdl.service._db import open_database

    url = f"sqlite:///{tmp_path / 'service.db'}"
    args = ["catalogue", "seed", "--data", str(synthetic_data_dir), "--reports", "2",
            "--database-url", url, "--storage-dir", str(tmp_path / "files")]
    get_settings.cache_clear()
    for _ in range(2):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.count("already published") == 2  # the second run evaluated nothing
    with open_database(url)() as db:
        pubs = list(db.query(Publication))
        assert len(pubs) == 2 and all(p.synthetic for p in pubs)
        assert {p.sector for p in pubs} == {"voluntary_community", "education"}
        for p in pubs:
            assert p.results["disclosure"]["rules"]["min_count"] == 10  # released results
            assert (tmp_path / "files" / "catalogue" / p.pdf_file).read_bytes()[:5] == b"%PDF-"
            assert p.findings[0]["measure"] == "proven_reoffending_rate"
        summary = current_summary(db, get_settings()).summary
        assert summary["publications"] == 2 and summary["synthetic"] == 2
        assert sum(r["total"] for r in summary["by_sector"]) == 2
