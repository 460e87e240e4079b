"""The upload a planted programme's organisation would send — with the mistakes real files have.

Staff type these lists by hand, often from case notes: names get typos and nicknames, dates of
birth get day and month swapped or a digit wrong, identifiers are missing more often than not,
some people are not on the national register at all, and some appear twice. The true person
behind each row goes to a separate truth file (lab-internal), never into the upload.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml

from jdl.admin.synth import _mistakes
from jdl.admin.synth._names import NICKNAMES, name_pools
from jdl.core.errors import UsageError

_KEYBOARD_NEIGHBOURS = {
    "a": "qwsz",
    "b": "vghn",
    "c": "xdfv",
    "d": "serfcx",
    "e": "wsdr",
    "f": "drtgvc",
    "g": "ftyhbv",
    "h": "gyujnb",
    "i": "ujko",
    "j": "huikmn",
    "k": "jiolm",
    "l": "kop",
    "m": "njk",
    "n": "bhjm",
    "o": "iklp",
    "p": "ol",
    "q": "wa",
    "r": "edft",
    "s": "awedxz",
    "t": "rfgy",
    "u": "yhji",
    "v": "cfgb",
    "w": "qase",
    "x": "zsdc",
    "y": "tghu",
    "z": "asx",
}


@dataclass(frozen=True)
class ErrorRates:
    """Probability of each kind of mistake, per row (at most ``max_errors_per_row`` per row).

    Kinds that need something the person may not have (a nickname, an alias, a name with
    another spelling) apply at their rate *among rows where they can*. The ``default`` rates
    are what published data-quality studies report for hand-typed lists of people (sources
    below and in docs/linkage.md); ``harsh`` is the linkage issue's stress mix; ``classic``
    is the mix before the harder kinds were added (kept so older measurements can be
    repeated); ``none`` makes no mistakes.

    Sources for the default rates:

    * Typos, nicknames, day/month swaps, one-off years: Winkler (US Census Bureau RRS2005/02)
      works with ~5% typographical error per name/date field; in the Criminal Records
      Bureau's check of court results against the PNC, 94% were recorded exactly and most
      discrepancies were a misspelt name (2004 review of the CRB, §2.15). Hand-typed uploads
      are worse than either, hence 3-4% per name plus 6% nicknames.
    * ``name_swap`` (forename and surname in each other's box): one of the main causes of
      name disagreement in 398,939 confirmed duplicate hospital records, and ten times as
      frequent as in the same authors' 2007 study (Just et al. 2016, Perspect Health Inf
      Manag 13:1e, PMC4832129). The study gives no share; 1% is our judgement.
    * ``dob_placeholder`` (unknown date entered as 1 January), ``dob_1900``, ``dob_missing``,
      ``dob_multi`` (several digits wrong): 1.5% of birthdates were wrong in a state-wide
      health data set, concentrated on default dates (Luo et al. 2014, BMC Bioinformatics
      15:185); unknown dates of birth end up as default values or missing in Hospital Episode
      Statistics (Hagger-Johnson et al. 2015, Health Serv Res 50:1162, Table 3); DOB wrong or
      missing in 0.11% of HES records checked against the NHS spine (Harron et al. 2017, BMC
      Med Res Methodol 17:23) — a lower bound for hand-typed lists. Intake rejects a blank or
      1900 date (required / implausible age), so those rows never reach linkage.
    * ``surname_compound`` (double-barrelled or married name, one part registered): 11% of
      couples aged 18-34 double-barrelled their names in a 2017 UK survey; the offender
      population is 84% male, hence 1%.
    * ``middle_name`` (``Mark Anthony`` or ``Anthony`` alone for a registered Mark Anthony):
      the middle name is the most discordant field of confirmed duplicates (58%) and
      forename/middle-name swaps a main cause of forename mismatch (Just et al.). The person's
      recorded middle name (the first, with two). The register records every given name
      (generator 1.6: 75% of people have a middle name, 8% two), so a person without a
      recorded middle name has none and cannot make this mistake (like a nickname for a name
      that has none). Only on a register that records no middle names at all (a contract 1.1
      extract) is the middle name one the register does not hold, drawn from the forenames of
      the person's sex: who has one is then unknown.
    * ``transliteration`` (Muhammad/Mohammed, Ł/L, é/e; among names that have a variant):
      "Muhammad" has at least 14 common romanisations; registers such as the PNC hold ASCII.

    Not a mistake but who the people the register does not hold are: ``twin_on_register``
    and ``namesake_on_register``, the share of them whose twin (same surname and date of birth,
    another forename) or same-named parent or child (same full name, born a generation apart)
    *is* on the register — the rows the linkage's relatives guards exist for. About 1.5% of
    maternities in England and Wales are multiple births (ONS, Births in England and Wales), so
    about 3% of people are twins; one co-twin in three having a record gives 1%. Same-named
    relatives: 1%, our judgement (few British sons carry their father's forename; children of
    men with convictions are convicted far more often than others, Farrington et al.'s
    Cambridge Study in Delinquent Development). The same in every preset: relatives are a fact
    of the population, not of how carefully a list was typed.
    """

    forename_typo: float = 0.03
    surname_typo: float = 0.04
    nickname: float = 0.06
    alias: float = 0.03  # the person gave one of their recorded aliases
    dob_swap: float = 0.02  # day and month swapped
    dob_year: float = 0.01  # year off by one
    dob_digit: float = 0.01  # a day off
    pnc_present: float = 0.45
    pnc_typo: float = 0.01
    prison_number_present: float = 0.35  # among people released from custody
    not_in_records: float = 0.05  # extra rows for people the register does not hold
    duplicate: float = 0.02
    max_errors_per_row: int = 2
    name_swap: float = 0.01  # forename and surname swapped
    dob_placeholder: float = 0.01  # unknown date of birth entered as 1 January
    dob_1900: float = 0.001  # unknown date of birth entered as 01/01/1900
    dob_missing: float = 0.002  # date of birth left blank
    dob_multi: float = 0.005  # several digits of the date wrong
    surname_compound: float = 0.01  # double-barrelled / married name, one part registered
    middle_name: float = 0.01  # middle name added to, or used as, the forename
    transliteration: float = 0.2  # among names with another spelling: Muhammad/Mohammed, Ł/L
    twin_on_register: float = 0.01  # of people not on the register: their twin is on it
    namesake_on_register: float = 0.01  # ... a same-named parent or child is on it

    @classmethod
    def preset(cls, name: str) -> ErrorRates:
        if name == "default":
            return cls()
        if name == "classic":
            return replace(cls(), **_NO_HARD_KINDS)
        if name == "none":
            return replace(cls(), **_NO_HARD_KINDS, **_NO_CLASSIC_KINDS, pnc_present=1.0,
                           pnc_typo=0.0, prison_number_present=1.0, not_in_records=0.0,
                           duplicate=0.0, max_errors_per_row=0, twin_on_register=0.0,
                           namesake_on_register=0.0)
        if name == "harsh":
            # The linkage issue's stress mix: up to two mistakes per row, each harder kind in
            # 3-4% of rows (enough rows per kind to measure recall per kind), IDs blank in
            # 60% of rows, 10% of people not in the register.
            return cls(forename_typo=0.15, surname_typo=0.15, nickname=0.15, alias=0.05,
                       dob_swap=0.12, dob_year=0.12, dob_digit=0.03, pnc_present=0.40,
                       pnc_typo=0.01, prison_number_present=0.40, not_in_records=0.10,
                       duplicate=0.02, max_errors_per_row=2, name_swap=0.04,
                       dob_placeholder=0.04, dob_1900=0.005, dob_missing=0.005,
                       dob_multi=0.03, surname_compound=0.04, middle_name=0.04,
                       transliteration=0.5)
        raise UsageError(f"Unknown error preset {name!r}.",
                         hint="Use " + ", ".join(ERROR_PRESETS) + ".")


ERROR_PRESETS = ("default", "harsh", "classic", "none")
# The kinds of the original generator, drawn for every row whatever their rate (so that the
# ``classic`` preset reproduces earlier uploads exactly), then the harder kinds, drawn only
# when their rate is above zero.
_CLASSIC_KINDS = ("alias", "nickname", "forename_typo", "surname_typo", "dob_swap", "dob_year",
                  "dob_digit")
_HARD_KINDS = ("name_swap", "middle_name", "surname_compound", "transliteration",
               "dob_placeholder", "dob_1900", "dob_missing", "dob_multi")
_NO_HARD_KINDS: dict[str, Any] = dict.fromkeys(_HARD_KINDS, 0.0)
_NO_CLASSIC_KINDS: dict[str, Any] = dict.fromkeys(_CLASSIC_KINDS, 0.0)
_DOB_KINDS = frozenset({"dob_swap", "dob_year", "dob_digit", "dob_placeholder", "dob_1900",
                        "dob_missing", "dob_multi"})
_NEW_DOB_KINDS = frozenset({"dob_placeholder", "dob_1900", "dob_missing", "dob_multi"})


def _typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 3:
        return word
    i = int(rng.integers(1, len(word)))
    kind = rng.integers(4)
    lower = word[i].lower()
    if kind == 0 and lower in _KEYBOARD_NEIGHBOURS:  # substitution by a neighbouring key
        options = _KEYBOARD_NEIGHBOURS[lower]
        return word[:i] + options[int(rng.integers(len(options)))] + word[i + 1 :]
    if kind == 1:  # deletion
        return word[:i] + word[i + 1 :]
    if kind == 2 and i < len(word) - 1:  # transposition
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i] + word[i:]  # doubled letter


def _uk_date(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%d/%m/%Y").where(values.notna(), "")


def _swap_day_month(d: pd.Timestamp) -> pd.Timestamp | None:
    try:
        return d.replace(day=d.month, month=d.day)
    except ValueError:
        return None


def _participants(data_dir: Path, programme: str) -> pd.DataFrame:
    path = data_dir / "truth" / "participants.parquet"
    if not path.exists():
        raise UsageError(
            f"No planted programmes found in {data_dir}.",
            hint="Generate the data first: `jdl synth --out DIR`.",
        )
    con = duckdb.connect(str(data_dir / "admin.duckdb"), read_only=True)
    try:
        known = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT programme FROM read_parquet('{path.as_posix()}') ORDER BY 1"
            ).fetchall()
        ]
        if programme not in known:
            raise UsageError(
                f"There is no planted programme called {programme!r}.",
                hint="Programmes in this dataset: " + ", ".join(known),
            )
        return con.execute(
            f"""
            SELECT p.person_id, p.forename, p.middle_names, p.surname, p.date_of_birth, p.sex,
                   p.pnc_id,
                   p.prison_number, t.index_date, t.index_type, t.conviction_date,
                   t.intervention_start, t.intervention_end,
                   a.forename AS alias_forename, a.surname AS alias_surname,
                   a.date_of_birth AS alias_dob
            FROM read_parquet('{path.as_posix()}') t
            JOIN people p USING (person_id)
            LEFT JOIN (SELECT * FROM aliases QUALIFY row_number() OVER
                       (PARTITION BY person_id ORDER BY forename, surname) = 1) a USING (person_id)
            WHERE t.programme = ?
            ORDER BY t.person_id
            """,
            [programme],
        ).df()
    finally:
        con.close()


def _apply_errors(rng: np.random.Generator, df: pd.DataFrame, rates: ErrorRates) -> pd.DataFrame:
    """Mistakes, at most ``max_errors_per_row`` per row; records what was done in ``errors``.

    At most one of the harder date mistakes per row, and none on top of another date mistake
    (a placeholder date cannot also be mistyped).
    """
    n = len(df)
    kinds = {k: getattr(rates, k) for k in _CLASSIC_KINDS}
    kinds.update({k: getattr(rates, k) for k in _HARD_KINDS if getattr(rates, k) > 0})
    draws = {k: rng.random(n) < p for k, p in kinds.items()}
    errors: list[list[str]] = [[] for _ in range(n)]
    fore = df["forename"].tolist()
    sur = df["surname"].tolist()
    dob = list(pd.to_datetime(df["date_of_birth"]))
    row = _RowEdits(rng, df, fore, sur, dob)
    for i in range(n):  # per-row string edits: a few thousand rows at most
        for kind in rng.permutation(list(kinds)):
            if len(errors[i]) >= rates.max_errors_per_row or not draws[kind][i]:
                continue
            if _date_conflict(str(kind), errors[i]):
                continue
            if row.apply(str(kind), i):
                errors[i].append(str(kind))
    out = df.copy()
    out["forename"], out["surname"], out["date_of_birth"] = fore, sur, dob
    out["errors"] = [";".join(e) for e in errors]
    return out


def _date_conflict(kind: str, done: list[str]) -> bool:
    """A harder date mistake never combines with another date mistake."""
    if kind not in _DOB_KINDS:
        return False
    if kind in _NEW_DOB_KINDS:
        return any(k in _DOB_KINDS for k in done)
    return any(k in _NEW_DOB_KINDS for k in done)


class _RowEdits:
    """Applies one kind of mistake to one row of the (mutable) name and date lists."""

    def __init__(self, rng, df, fore, sur, dob) -> None:
        self.rng, self.df, self.fore, self.sur, self.dob = rng, df, fore, sur, dob
        self._swapped: set[int] = set()  # rows whose forename and surname were swapped
        # Whether the register records middle names (contract 1.2); an extract without them
        # (1.1) says nothing about who has one.
        self._records_middle_names = ("middle_names" in df.columns
                                      and bool(df["middle_names"].notna().any()))
        pools = name_pools()
        self._forenames = pools.forenames
        self._surnames = pools.surnames["british"]
        # Names only the Polish pools hold (Leon or Albert may be English too).
        english = {*pools.surnames["british"].names, *pools.forenames[("british", "M")].names,
                   *pools.forenames[("british", "F")].names}
        self._polish = frozenset(
            {*pools.surnames["polish"].names, *pools.forenames[("polish", "M")].names,
             *pools.forenames[("polish", "F")].names} - english
        )

    def apply(self, kind: str, i: int) -> bool:
        if kind in _CLASSIC_KINDS:
            return _apply_one(self.rng, kind, i, self.df, self.fore, self.sur, self.dob)
        rng, fore, sur, dob = self.rng, self.fore, self.sur, self.dob
        if kind == "name_swap":
            fore[i], sur[i] = sur[i], fore[i]
            self._swapped.add(i)
            return True
        if kind == "middle_name":
            sex = "F" if self.df["sex"].iat[i] == "F" else "M"
            # drawn whether or not the person has a middle name, so that the stream (and every
            # other row of the upload) is what generator 1.5's registers gave
            middle = str(self._forenames[("british", sex)].sample(rng, 1)[0])
            # the box that holds the forename: the surname's when the names were swapped
            # first (a middle name never replaces the surname)
            box = sur if i in self._swapped else fore
            recorded = self._recorded_middle(i)
            if recorded is not None:
                middle = recorded
            elif self._records_middle_names:
                # the register records every given name, so this person has no middle name
                # to be known by; the draw the mistake makes is still taken, so that every
                # later row is unchanged
                rng.random()
                return False
            elif middle == box[i]:
                return False
            box[i] = _mistakes.middle_name(rng, box[i], middle)
            return True
        if kind == "surname_compound":
            other = str(self._surnames.sample(rng, 1)[0])
            if other == sur[i]:
                return False
            sur[i] = _mistakes.compound_surname(rng, sur[i], other)
            return True
        if kind == "transliteration":
            return self._transliterate(i)
        if pd.isna(dob[i]):
            return False
        if kind == "dob_placeholder":
            new = _mistakes.placeholder_date(rng, dob[i])
        elif kind == "dob_1900":
            new = pd.Timestamp(1900, 1, 1)
        elif kind == "dob_missing":
            new = pd.NaT
        else:  # dob_multi
            new = _mistakes.several_digits_wrong(rng, dob[i])
        if new is None or new == dob[i]:
            return False
        dob[i] = new
        return True

    def _recorded_middle(self, i: int) -> str | None:
        """The person's first recorded middle name (the one written after the forename), or
        None when the register records none."""
        if "middle_names" not in self.df.columns:
            return None
        value = self.df["middle_names"].iat[i]
        if value is None or pd.isna(value) or not str(value).split():
            return None
        return str(value).split()[0]

    def _transliterate(self, i: int) -> bool:
        fields = [f for f in (self.fore, self.sur) if _mistakes.has_variant(f[i], self._polish)]
        if not fields:
            return False
        field = fields[int(self.rng.integers(len(fields)))]
        new = _mistakes.transliterate(self.rng, field[i], self._polish)
        if new is None:
            return False
        field[i] = new
        return True


def _apply_one(rng, kind, i, df, fore, sur, dob) -> bool:
    if kind == "alias":
        if pd.isna(df["alias_forename"].iat[i]):
            return False
        fore[i], sur[i] = df["alias_forename"].iat[i], df["alias_surname"].iat[i]
        if pd.notna(df["alias_dob"].iat[i]):
            dob[i] = pd.Timestamp(df["alias_dob"].iat[i])
        return True
    if kind == "nickname":
        variants = NICKNAMES.get(fore[i])
        if not variants:
            return False
        fore[i] = variants[int(rng.integers(len(variants)))]
        return True
    if kind == "forename_typo":
        fore[i] = _typo(rng, fore[i])
        return True
    if kind == "surname_typo":
        sur[i] = _typo(rng, sur[i])
        return True
    if kind == "dob_swap":
        swapped = _swap_day_month(dob[i])
        if swapped is None or swapped == dob[i]:
            return False
        dob[i] = swapped
        return True
    if kind == "dob_year":
        shifted = _shift_year(dob[i], int(rng.choice([-1, 1])))
        dob[i] = shifted
        return True
    if kind == "dob_digit":
        dob[i] = dob[i] + pd.Timedelta(days=int(rng.choice([-1, 1])))
        return True
    return False


def _shift_year(d: pd.Timestamp, years: int) -> pd.Timestamp:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _fabricated(rng: np.random.Generator, n: int, template: pd.DataFrame) -> pd.DataFrame:
    """People the register does not hold, with plausible dates like the real rows'."""
    sex = np.where(rng.random(n) < 0.15, "F", "M").astype(object)
    fore, sur = _sample(rng, sex)
    years = rng.integers(1965, 2002, n)
    dob = pd.to_datetime(
        pd.DataFrame(
            {"year": years, "month": rng.integers(1, 13, n), "day": rng.integers(1, 29, n)}
        )
    )
    rows = template.sample(n=n, replace=True, random_state=int(rng.integers(2**31)))
    return pd.DataFrame(
        {
            "person_id": pd.array([None] * n, dtype="Int64"),
            "forename": fore,
            "surname": sur,
            "date_of_birth": dob.to_numpy(),
            "sex": sex,
            "pnc_id": None,
            "prison_number": None,
            "index_date": rows["index_date"].to_numpy(),
            "conviction_date": rows["conviction_date"].to_numpy(),
            "intervention_start": rows["intervention_start"].to_numpy(),
            "intervention_end": rows["intervention_end"].to_numpy(),
            "index_type": rows["index_type"].to_numpy(),
            "errors": "not_in_records",
        }
    )


def _relatives_on_register(data_dir: Path, fake: pd.DataFrame, rates: ErrorRates,
                           seed: list[int]) -> pd.DataFrame:
    """Make some of the people the register does not hold relatives of people it does hold:
    a twin (same surname and date of birth, another forename; the same sex two times in three,
    as about a third of twin pairs are boy and girl) or a same-named parent or child (same full
    name and sex, born 18-40 years apart). Drawn from their own random stream, so the upload's
    other rows are the same whatever the rates; ``errors`` says ``not_in_records;twin`` or
    ``not_in_records;namesake``."""
    rng = np.random.default_rng(seed)
    kind = rng.random(len(fake))
    twin = kind < rates.twin_on_register
    namesake = ~twin & (kind < rates.twin_on_register + rates.namesake_on_register)
    chosen = np.flatnonzero(twin | namesake)
    if not len(chosen):
        return fake
    con = duckdb.connect(str(data_dir / "admin.duckdb"), read_only=True)
    try:
        anchors = con.execute(
            "SELECT forename, surname, date_of_birth, sex FROM people "
            "WHERE date_of_birth BETWEEN DATE '1950-01-01' AND DATE '1995-12-31' "
            "AND sex IN ('M', 'F') AND forename IS NOT NULL AND surname IS NOT NULL "
            "ORDER BY hash(person_id + ?) LIMIT ?", [int(rng.integers(2**31)), len(chosen)]
        ).df()
    finally:
        con.close()
    fake = fake.copy()
    pools = name_pools()
    for i, (_, anchor) in zip(chosen, anchors.iterrows(), strict=False):
        dob = pd.Timestamp(anchor["date_of_birth"])
        if twin[i]:
            sex = anchor["sex"] if rng.random() < 2 / 3 else {"M": "F", "F": "M"}[anchor["sex"]]
            forename = anchor["forename"]
            while forename == anchor["forename"]:
                forename = pools.forenames[("british", sex)].sample(rng, 1)[0]
            values = (forename, anchor["surname"], dob, sex, "not_in_records;twin")
        else:
            gap = pd.DateOffset(years=int(rng.integers(18, 41)), days=int(rng.integers(1, 360)))
            # a parent for people born late enough, else a child old enough to be on a list
            dob = dob - gap if dob.year >= 1975 or rng.random() < 0.5 else dob + gap
            dob = min(dob, pd.Timestamp("2008-12-31"))
            values = (anchor["forename"], anchor["surname"], dob, anchor["sex"],
                      "not_in_records;namesake")
        for column, value in zip(("forename", "surname", "date_of_birth", "sex", "errors"),
                                 values, strict=True):
            fake.at[fake.index[i], column] = value
    return fake


def _sample(rng: np.random.Generator, sex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pools = name_pools()
    fore = np.empty(len(sex), dtype=object)
    for s in ("M", "F"):
        mask = sex == s
        fore[mask] = pools.forenames[("british", s)].sample(rng, int(mask.sum()))
    return fore, pools.surnames["british"].sample(rng, len(sex))


def _pnc_typo(rng: np.random.Generator, pnc: str) -> str:
    i = int(rng.integers(5, 12))  # a digit of the serial
    digit = str((int(pnc[i]) + int(rng.integers(1, 10))) % 10)
    return pnc[:i] + digit + pnc[i + 1 :]


def make_submission(
    data_dir: str | Path,
    programme: str,
    out: str | Path,
    *,
    errors: str | ErrorRates = "default",
    seed: int = 1,
    organisation_columns: bool = False,
    plan: bool = False,
) -> dict[str, Path]:
    """Write the programme's upload (CSV), its programme side-file (YAML) and the truth file.

    ``organisation_columns``: the upload also carries the organisation's own columns
    (attendance, completed, delivery mode, site: :func:`organisation_columns`), declared in a
    plan file written beside it; ``plan`` (implies the columns): that file also registers an
    analysis plan (:data:`DEMO_PLAN`: the re-offending rate as the primary measure,
    sub-analyses by delivery mode and by attendance band). The columns are drawn from their
    own random stream, so the upload's other columns and rows are the same with or without
    them.

    Returns the paths written: ``upload``, ``programme``, ``truth`` and, with organisation
    columns, ``plan``.
    """
    data_dir, out = Path(data_dir), Path(out)
    rates = ErrorRates.preset(errors) if isinstance(errors, str) else errors
    rng = np.random.default_rng([seed, sum(programme.encode())])
    people = _participants(data_dir, programme)
    rows = _apply_errors(rng, people, rates)
    n_fake = round(rates.not_in_records * len(rows) / max(1e-9, 1 - rates.not_in_records))
    if n_fake:
        fake = _fabricated(rng, n_fake, people)
        fake = _relatives_on_register(data_dir, fake, rates,
                                      [seed, sum(programme.encode()), _RELATIVES_STREAM])
        rows = pd.concat([rows, fake], ignore_index=True)
    rows["_row"] = np.arange(len(rows))  # who each row is, through duplication and shuffling
    dup = rows.sample(frac=rates.duplicate, random_state=int(rng.integers(2**31)))
    dup = dup.assign(
        errors=dup["errors"].where(dup["errors"] == "", dup["errors"] + ";") + "duplicate"
    )
    rows = pd.concat([rows, dup], ignore_index=True)
    rows = rows.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    upload = _upload_columns(rng, rows, rates)
    if organisation_columns or plan:
        # drawn once per row before the duplicates were copied, so a person listed twice has
        # the same attendance in both rows (as a copied spreadsheet row would)
        own = organisation_columns_for(rows["_row"].to_numpy(),
                                       [seed, sum(programme.encode()), _OWN_STREAM])
        upload = pd.concat([upload, own], axis=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    upload.to_csv(out, index=False)
    truth_path = out.with_name(out.stem + ".truth.csv")
    pd.DataFrame(
        {
            "row_number": np.arange(len(rows)) + 2,  # row 1 is the header, as in a spreadsheet
            "person_id": rows["person_id"].astype("Int64"),
            "errors": rows["errors"],
        }
    ).to_csv(truth_path, index=False)
    programme_path = out.with_name(out.stem + ".programme.yaml")
    # everyone the programme worked with, including people the register does not hold
    declared = len(people) + n_fake
    programme_path.write_text(
        yaml.safe_dump(_programme_info(data_dir, programme, declared), sort_keys=False)
    )
    paths = {"upload": out, "programme": programme_path, "truth": truth_path}
    if organisation_columns or plan:
        paths["plan"] = out.with_name(out.stem + ".plan.yaml")
        paths["plan"].write_text(_PLAN_HEADER + yaml.safe_dump(
            DEMO_PLAN if plan else {"primary_measure": DEMO_PLAN["primary_measure"],
                                    "variables": DEMO_PLAN["variables"]}, sort_keys=False))
    return paths


# --- the organisation's own columns (issue 20) -------------------------------------------------

#: The random stream of the organisation's columns (apart from the mistakes' stream).
_OWN_STREAM = 20
_RELATIVES_STREAM = 21
#: Delivery modes and sites as the organisation writes them, with the share of rows of each.
DELIVERY_MODES = {"In person": 0.50, "Online": 0.30, "Mixed": 0.20}
SITES = {"North": 0.6, "South": 0.4}
#: Sessions offered; a participant who attended at least this many completed the programme.
SESSIONS_OFFERED = 16
COMPLETION_SESSIONS = 12
#: The analysis plan the demonstration registers (and the columns it declares). The dose bands
#: (0-5, 6-11, 12 or more sessions) split the drawn attendance roughly in thirds.
DEMO_PLAN: dict[str, Any] = {
    "primary_measure": "proven_reoffending_rate",
    "variables": {
        "attendance": "count",
        "completed": "yes_no",
        "delivery_mode": {"kind": "category", "categories": list(DELIVERY_MODES)},
        "site": {"kind": "category", "categories": list(SITES)},
    },
    "sub_analyses": ["delivery_mode", "attendance"],
    "dose_bands": [5, 11],
}
_PLAN_HEADER = (
    "# The organisation's analysis plan, registered with the upload before any result exists\n"
    "# (docs/submission-template.md). Synthetic: the columns it declares were drawn at random,\n"
    "# independently of the planted effect (docs/data-contract.md).\n")


def organisation_columns_for(rows: np.ndarray, seed: Any) -> pd.DataFrame:
    """The organisation's own columns for upload rows ``rows`` (an id per distinct row: a
    duplicated row repeats its id and gets the same values), with the headings a spreadsheet
    would have ("Sessions attended", "Completed", "Delivery method", "Site": intake
    recognises them as ``attendance``, ``completed``, ``delivery_mode``, ``site``).

    **Drawn independently of the outcomes.** The generator plants one effect per programme,
    the same for every participant (``jdl.admin.synth._programmes``); these columns are drawn
    after the fact and do not change who re-offends. So the registered sub-analyses should
    agree with the headline up to chance and the dose-response trend should be flat: a
    demonstration of the method, and a check that it finds no difference where there is none,
    not of a real dose effect. Attendance is binomial over :data:`SESSIONS_OFFERED` sessions
    with a participant-level probability drawn from Beta(2, 1.5) (many attend most sessions,
    some drop out early); "Completed" is yes from :data:`COMPLETION_SESSIONS` sessions; about
    2% of attendance cells and 3% of completion cells are blank, as in real returns (intake
    warns and leaves those people out of that sub-analysis only)."""
    rng = np.random.default_rng(seed)
    ids, inverse = np.unique(np.asarray(rows), return_inverse=True)
    n = len(ids)
    attended = rng.binomial(SESSIONS_OFFERED, rng.beta(2.0, 1.5, n))
    completed = np.where(attended >= COMPLETION_SESSIONS, "Yes", "No").astype(object)
    mode = rng.choice(list(DELIVERY_MODES), n, p=list(DELIVERY_MODES.values()))
    site = rng.choice(list(SITES), n, p=list(SITES.values()))
    attendance = attended.astype(str).astype(object)
    attendance[rng.random(n) < 0.02] = ""
    completed[rng.random(n) < 0.03] = ""
    return pd.DataFrame({
        "Sessions attended": attendance[inverse],
        "Completed": completed[inverse],
        "Delivery method": mode[inverse],
        "Site": site[inverse],
    })


def _upload_columns(
    rng: np.random.Generator, rows: pd.DataFrame, rates: ErrorRates
) -> pd.DataFrame:
    n = len(rows)
    pnc = rows["pnc_id"].where(rng.random(n) < rates.pnc_present)
    typo = pnc.notna() & (rng.random(n) < rates.pnc_typo)
    pnc = pnc.astype(object)
    pnc[typo] = [_pnc_typo(rng, p) for p in pnc[typo]]
    custody = rows["index_type"] == "custody_release"
    prison = rows["prison_number"].where(custody & (rng.random(n) < rates.prison_number_present))
    sex_words = np.where(
        rng.random(n) < 0.7, rows["sex"], rows["sex"].map({"M": "Male", "F": "Female"})
    )
    dates = {
        c: pd.to_datetime(rows[c])
        for c in ("index_date", "conviction_date", "intervention_start", "intervention_end")
    }
    return pd.DataFrame(
        {
            "forename": rows["forename"],
            "surname": rows["surname"],
            "date_of_birth": _uk_date(pd.to_datetime(rows["date_of_birth"])),
            "sex": sex_words,
            "pnc_id": pnc.fillna(""),
            "prison_number": prison.fillna(""),
            "conviction_date": _uk_date(dates["conviction_date"].where(rng.random(n) < 0.7)),
            "intervention_start": _uk_date(dates["intervention_start"].where(rng.random(n) < 0.95)),
            "intervention_end": _uk_date(dates["intervention_end"].where(rng.random(n) < 0.8)),
            "index_date": _uk_date(dates["index_date"].where(rng.random(n) < 0.35)),
        }
    )


def _programme_info(data_dir: Path, programme: str, participants: int) -> dict:
    import json

    truth = json.loads((data_dir / "truth" / "programmes.json").read_text())
    spec = next(p for p in truth["programmes"] if p["name"] == programme)
    return {
        "organisation": spec["organisation"],
        "sector": spec["sector"],
        "programme_name": programme.replace("-", " ").title(),
        "intervention_type": spec["intervention_type"],
        "setting": spec["setting"],
        "referral_route": spec["referral_route"],
        "region": spec["region"],
        "delivery_start": spec["delivery_start"],
        "delivery_end": spec["delivery_end"],
        "description": spec["description"],
        "declared_participants": participants,
        "selection_basis": "all_participants",
    }
