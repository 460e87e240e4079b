"""Benchmark: validating a submission of 100,000 rows, as CSV, XLSX and Parquet.

Target (issue 3): a 100k-row file validates quickly enough to answer an upload interactively.
The files follow the template with about 2% of rows carrying a typical mistake (impossible date,
bad sex code, US-order date, duplicate person, formula), so the error paths are measured too.
XLSX dates are real date cells, as Excel writes them. Files are built once per size in
``bench/work/intake`` (not timed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bench.common import WORK_DIR, run_case, write_results
from jdl.core.config import DEFAULT_SEED

SIZES = (100_000,)
QUICK_SIZES = (10_000,)
FOLDER = WORK_DIR / "intake"


def _frame(rows: int, seed: int = DEFAULT_SEED):
    import pandas as pd

    from jdl.core.identifiers import format_pnc_ids

    rng = np.random.default_rng(seed)
    dob = np.datetime64("1960-01-01") + rng.integers(0, 14_000, rows).astype("timedelta64[D]")
    start = np.datetime64("2019-01-01") + rng.integers(0, 700, rows).astype("timedelta64[D]")
    letters = np.array(list("ABCDEFGHJKLMNPRSTW"))
    ids = np.arange(rows)
    frame = pd.DataFrame({
        "forename": rng.choice(["Jane", "John", "Aisha", "Mohammed", "Chloé", "Seán", "Liam"],
                               rows),
        "surname": pd.Series(letters[ids % 18]).str.cat(
            [pd.Series(letters[(ids // 18**k) % 18]) for k in range(1, 5)]).to_numpy(),
        "date_of_birth": pd.Series(dob).dt.strftime("%d/%m/%Y"),
        "sex": rng.choice(["M", "F", "Male", "f"], rows),
        "pnc_id": format_pnc_ids(2000 + ids % 20, 1000 + ids),
        "prison_number": [f"A{i % 10000:04d}{letters[(i // 10000) % 18]}B" for i in ids],
        "conviction_date": pd.Series(start - 40).dt.strftime("%d/%m/%Y"),
        "intervention_start": pd.Series(start).dt.strftime("%d/%m/%Y"),
        "intervention_end": pd.Series(start + 120).dt.strftime("%Y-%m-%d"),
        "index_date": pd.Series(start - 10).dt.strftime("%d/%m/%Y"),
    })
    bad = rng.choice(rows, rows // 50, replace=False)
    kinds = np.arange(len(bad)) % 5
    frame.loc[bad[kinds == 0], "date_of_birth"] = "31/02/1990"
    frame.loc[bad[kinds == 1], "sex"] = "X"
    frame.loc[bad[kinds == 2], "index_date"] = "03/25/2020"
    frame.loc[bad[kinds == 3], "forename"] = "=1+1"
    twins = bad[kinds == 4]
    frame.loc[twins, ["forename", "surname", "date_of_birth", "pnc_id"]] = frame.loc[
        (twins + 1) % rows, ["forename", "surname", "date_of_birth", "pnc_id"]].to_numpy()
    return frame


def make_files(rows: int) -> dict[str, Path]:
    """The benchmark files for ``rows`` rows (built once, reused). ``xlsx`` has no formulas
    (its "=1+1" cells are text, as when typed after an apostrophe); ``xlsx_formulas`` has real
    formula cells, which adds the scan of the sheet's XML for them."""
    import pandas as pd

    FOLDER.mkdir(parents=True, exist_ok=True)
    names = {"csv": "csv", "xlsx": "xlsx", "xlsx_formulas": "formulas.xlsx", "parquet": "parquet"}
    paths = {kind: FOLDER / f"submission-{rows}.{suffix}" for kind, suffix in names.items()}
    if all(p.exists() for p in paths.values()):
        return paths
    frame = _frame(rows)
    frame.to_csv(paths["csv"], index=False, encoding="utf-8-sig")
    frame.to_parquet(paths["parquet"], index=False)
    _write_xlsx(frame, paths["xlsx"], pd, formulas=False)
    _write_xlsx(frame, paths["xlsx_formulas"], pd, formulas=True)
    return paths


def _write_xlsx(frame, path: Path, pd, *, formulas: bool) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Submission")
    sheet.append(list(frame.columns))
    dob = pd.to_datetime(frame["date_of_birth"], format="%d/%m/%Y", errors="coerce")
    values = frame.astype(object).to_numpy()
    position = list(frame.columns).index("date_of_birth")
    for row, born in zip(values, dob, strict=True):
        if not pd.isna(born):
            row[position] = born.to_pydatetime()  # a real date cell
        if not formulas and isinstance(row[0], str) and row[0].startswith("="):
            text = WriteOnlyCell(sheet, value=row[0])
            text.data_type = "s"
            row[0] = text
        sheet.append(list(row))
    book.save(path)


def validate_file(path: str) -> dict:
    """One timed case: read and validate ``path`` (in a fresh process)."""
    import time

    from jdl.core.config import IntakeSettings
    from jdl.intake import check_submission

    start, cpu = time.perf_counter(), time.process_time()
    submission = check_submission(path, settings=IntakeSettings())
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu  # CPU time: steadier than wall time on a shared machine
    counts = submission.counts
    return {"rows": counts.rows, "accepted": counts.accepted, "rejected": counts.rejected,
            "issues": len(submission.issues), "acceptable": submission.acceptable,
            "validate_s": round(seconds, 2), "validate_cpu_s": round(cpu, 2),
            "rows_per_s": round(counts.rows / seconds)}


def main(quick: bool = False) -> list[dict]:
    records = []
    for rows in QUICK_SIZES if quick else SIZES:
        paths = make_files(rows)
        for kind, path in paths.items():
            record = run_case(f"validate_{kind}_{rows}", validate_file, str(path))
            record["file_mb"] = round(path.stat().st_size / 1024 / 1024, 1)
            records.append(record)
    write_results("intake", records)
    return records


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
