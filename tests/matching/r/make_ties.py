"""Write the small test pools R's reference script reads (the CSVs are committed).

* ``ties.csv``: coarse covariates, many exact ties, people repeated across years. Its integer
  steps also make *symmetric* ties (a control one band above and one band below the treated
  unit): equal in exact arithmetic, decided by rounding in any implementation.
* ``dups.csv``: many duplicate rows (exact ties) but covariate values with no three in
  arithmetic progression, so no symmetric ties: every tie is decided by the scan rule alone.

Run once: PYTHONPATH=src python tests/matching/r/make_ties.py
"""

from pathlib import Path

import numpy as np
import pandas as pd


def make(seed: int = 20261204, n: int = 700) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    person = rng.integers(0, 420, n)  # ~40% of people appear in more than one year
    t = (rng.random(n) < 0.22).astype(int)
    age_band = rng.integers(0, 5, n) + t  # coarse, many ties
    priors = rng.poisson(1.5 + t, n).clip(0, 6)
    female = (rng.random(n) < 0.2).astype(int)
    region = rng.choice(["north", "south", "wales"], n, p=[0.5, 0.3, 0.2])
    year = rng.choice([2016, 2017], n)
    earnings = (rng.integers(0, 6, n) * 1000.0)  # a large-unit covariate
    flag = np.where(t == 1, 0, (rng.random(n) < 0.3).astype(int))  # constant among treated
    level = np.where(t == 1, 5.0, rng.integers(0, 9, n).astype(float))  # constant among treated
    y = (rng.random(n) < 0.35 + 0.03 * priors - 0.05 * t).astype(int)
    return pd.DataFrame({"person": person, "treat": t, "age_band": age_band, "priors": priors,
                         "female": female, "region": region, "year": year,
                         "earnings": earnings, "flag": flag, "level": level, "y": y})


def make_dups(seed: int = 7, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = (rng.random(n) < 0.25).astype(int)
    age = rng.choice([19, 23, 24, 31, 44, 58], n, p=[0.2, 0.2, 0.2, 0.2, 0.1, 0.1])
    priors = rng.choice([0, 1, 3, 8], n, p=[0.4, 0.3, 0.2, 0.1])
    female = (rng.random(n) < 0.3).astype(int)
    region = rng.choice(["north", "south", "wales"], n, p=[0.55, 0.3, 0.15])
    year = rng.choice([2016, 2017], n)
    person = rng.integers(0, 330, n)
    y = (rng.random(n) < 0.3 + 0.02 * priors).astype(int)
    return pd.DataFrame({"person": person, "treat": t, "age": age, "priors": priors,
                         "female": female, "region": region, "year": year, "y": y})


if __name__ == "__main__":
    data = Path(__file__).resolve().parents[1] / "data"
    make().to_csv(data / "ties.csv", index=False)
    make_dups().to_csv(data / "dups.csv", index=False)
    print(data)
