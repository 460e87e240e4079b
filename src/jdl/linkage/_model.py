"""Training the linkage model once per data version, checking it, saving and loading it.

Why not EM on the register: the register holds one record per person, so it has almost no
duplicate pairs for EM to learn what a match looks like, and EM blocked on common names
converges to "same name" rather than "same person". Instead:

* u-probabilities come from random pairs of register records (Splink's random sampling);
* m-probabilities come from **labelled same-person pairs**: rows of earlier (calibration)
  submissions confirmed by an exact ID with name/date evidence (the deterministic pass),
  compared with the person's record — the same typing process as the rows to be linked. Each
  level's m is a Bayesian blend of those counts with a documented prior (``PRIOR_M``), so a
  level the labels rarely reach keeps a sensible value, and with no calibration data the
  prior alone is used. The ID comparisons keep their prior (those pairs were chosen by ID).
  Alias pairs are *not* used for m: an alias differs from the main record by construction,
  and m learnt from them made "same surname" less likely than "different surname" for a true
  match (measured; the sanity check refuses such a model). Aliases instead enter the register
  as extra records of their person, so a submission using an alias links directly;
* the prior probability of a match is ``prior_in_register / number of people``.

:func:`sanity_check` then refuses a model whose m-probabilities make no sense (exact agreement
not the most likely level for a true match; disagreement not evidence against one).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from jdl.admin._store import records_fingerprint
from jdl.core.errors import JDLError, UsageError
from jdl.linkage._register import REGISTER_TABLE, TF_COLUMNS, Workspace
from jdl.linkage._settings import PRIOR_M, settings_creator

MODEL_FILE = "linkage-model.json"
ID_COMPARISONS = ("pnc_id", "prison_number")
MODEL_FORMAT = 1
# The lab's feature definitions and comparisons: part of the data version, so a model and a
# register cache made by an older lab are retrained/rebuilt instead of used with new columns.
FEATURES_VERSION = "6"


class LinkageModelError(JDLError):
    """The saved linkage model is missing, unreadable, stale or fails its sanity checks."""


@dataclass(frozen=True)
class LinkageModel:
    """A trained Fellegi–Sunter model for one data version (Splink settings plus provenance)."""

    splink: dict[str, Any]  # Splink 5 settings dict (DuckDB dialect), link_type link_only
    n_people: int
    n_register_records: int
    data_version: str
    trained_at: str
    label_pairs: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def parameters(self) -> pd.DataFrame:
        """One row per comparison level: m, u and the match weight log2(m/u)."""
        rows = []
        for comparison in self.splink["comparisons"]:
            for level in comparison["comparison_levels"]:
                if level.get("is_null_level"):
                    continue
                m, u = level.get("m_probability"), level.get("u_probability")
                weight = math.log2(m / u) if m and u else None
                rows.append({"comparison": comparison["output_column_name"],
                             "level": level["label_for_charts"], "m": m, "u": u,
                             "match_weight": weight})
        return pd.DataFrame(rows)

    def to_json(self) -> dict[str, Any]:
        return {"format": MODEL_FORMAT, "n_people": self.n_people,
                "n_register_records": self.n_register_records,
                "data_version": self.data_version, "trained_at": self.trained_at,
                "label_pairs": self.label_pairs, "warnings": list(self.warnings),
                "splink_model": self.splink}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> LinkageModel:
        if payload.get("format") != MODEL_FORMAT:
            raise LinkageModelError("The linkage model file has an unknown format.",
                                    hint="Retrain it with `jdl link-train --data DIR`.")
        return cls(splink=payload["splink_model"], n_people=payload["n_people"],
                   n_register_records=payload["n_register_records"],
                   data_version=payload["data_version"], trained_at=payload["trained_at"],
                   label_pairs=payload.get("label_pairs", {}),
                   warnings=tuple(payload.get("warnings", ())))


def data_version(data_dir: str | Path) -> str:
    """A fingerprint of the national records (the manifest if there is one, else file stats)
    and of the lab's feature definitions (:data:`FEATURES_VERSION`)."""
    records = records_fingerprint(data_dir)
    return hashlib.sha256(records + f"|features {FEATURES_VERSION}".encode()).hexdigest()[:16]


def train(
    workspace: Workspace,
    *,
    data_version: str = "unversioned",
    calibration_pairs: pd.DataFrame | None = None,
    calibration_features: str | None = None,
    prior_in_register: float = 0.9,
    prior_strength: float = 200.0,
    u_max_pairs: float = 2e6,
    seed: int = 42,
) -> LinkageModel:
    """Train the model on the register held by ``workspace`` (see the module docstring).

    ``calibration_pairs`` (``row_number, person_id``) with ``calibration_features`` (a table of
    submission feature records in the workspace) add ID-confirmed submission rows as labelled
    pairs. Raises :class:`LinkageModelError` when the result fails :func:`sanity_check`.
    """
    from splink import Linker

    n_people = workspace.count_people()
    n_records = int(workspace.scalar(f"SELECT count(*) FROM {REGISTER_TABLE}"))
    if n_people < 2:
        raise UsageError("The register needs at least two people to train a linkage model.")
    db_api = workspace.engine.splink_api()
    register = db_api.register(REGISTER_TABLE)
    creator = settings_creator("dedupe_only", 1.0 / n_records)
    creator.retain_intermediate_calculation_columns = True
    creator.retain_matching_columns = True  # Splink outputs gamma_* only with both
    linker = Linker(register, creator, log_level=None)
    for column in TF_COLUMNS:
        tf = db_api.register(f"tf_{column}")
        linker.table_management.register_term_frequency_lookup(tf, column)
    linker.training.estimate_u_using_random_sampling(
        max_pairs=u_max_pairs, seed=seed, min_count_per_level=None, num_chunks=1
    )
    model = linker.misc.save_model_to_json()

    counts, label_pairs = pd.Series(dtype=float), {"id_confirmed_rows": 0}
    if calibration_pairs is not None and calibration_features is not None and len(
        calibration_pairs
    ):
        counts, n_pairs = _calibration_level_counts(
            linker, db_api, workspace, calibration_pairs, calibration_features
        )
        label_pairs["id_confirmed_rows"] = n_pairs
    _set_parameters(model, counts, prior_strength, u_floor=1.0 / u_max_pairs)
    model["link_type"] = "link_only"
    model["retain_intermediate_calculation_columns"] = False
    model["retain_matching_columns"] = False
    model["probability_two_random_records_match"] = prior_in_register / n_records
    warnings = () if label_pairs["id_confirmed_rows"] else (
        "m-probabilities are the documented priors: no calibration uploads were given "
        "(jdl link-train --calibration).",
    )
    result = LinkageModel(
        splink=model, n_people=n_people, n_register_records=n_records,
        data_version=data_version, trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        label_pairs=label_pairs, warnings=warnings,
    )
    problems = sanity_check(result)
    if problems:
        raise LinkageModelError("The trained linkage model fails its sanity checks.",
                                hint="\n".join(problems))
    return result


def _gamma_counts(pairs: pd.DataFrame, model_comparisons: list[dict[str, Any]]) -> pd.Series:
    """Count labelled pairs per (comparison, level label) from Splink's gamma columns."""
    out: dict[tuple[str, str], float] = {}
    for comparison in model_comparisons:
        name = comparison["output_column_name"]
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        # Splink numbers non-null levels from the bottom (else = 0) up.
        by_gamma = {len(levels) - 1 - i: lv["label_for_charts"] for i, lv in enumerate(levels)}
        for gamma, n in pairs[f"gamma_{name}"].value_counts().items():
            if int(gamma) >= 0:
                out[(name, by_gamma[int(gamma)])] = out.get((name, by_gamma[int(gamma)]), 0) + n
    return pd.Series(out, dtype=float)


def _calibration_level_counts(linker: Any, db_api: Any, workspace: Workspace,
                              labels: pd.DataFrame, features_table: str):
    """Level counts of ID-confirmed submission rows against their person's main record."""
    from splink import block_on

    workspace.engine.register("calibration_labels", labels[["row_number", "person_id"]])
    workspace.run(f"""
        CREATE OR REPLACE TABLE calibration_left AS
        SELECT f.* REPLACE (l.person_id AS person_id)
        FROM {features_table} AS f JOIN calibration_labels AS l ON f.unique_id = l.row_number
    """)
    workspace.run(f"""
        CREATE OR REPLACE TABLE calibration_right AS
        SELECT * FROM {REGISTER_TABLE}
        WHERE unique_id % 64 = 0 AND person_id IN (SELECT person_id FROM calibration_labels)
    """)
    workspace.engine.unregister("calibration_labels")
    left = db_api.register("calibration_left")
    right = db_api.register("calibration_right")
    pairs = linker.inference.predict_between(
        left, right, link_type="link_only",
        blocking_rules_to_generate_predictions=[block_on("person_id")], warning_mode="never",
    ).as_pandas_dataframe()
    comparisons = linker.misc.save_model_to_json()["comparisons"]
    return _gamma_counts(pairs, comparisons), len(pairs)


def _set_parameters(model: dict[str, Any], counts: pd.Series, prior_strength: float,
                    u_floor: float) -> None:
    """m = (labelled count + strength × prior m) / (labelled total + strength); u floored."""
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        prior = PRIOR_M[name]
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        if name in ID_COMPARISONS:
            counts = counts.drop([k for k in counts.index if k[0] == name])
        total = sum(counts.get((name, lv["label_for_charts"]), 0.0) for lv in levels)
        for level in levels:
            label = level["label_for_charts"]
            n = counts.get((name, label), 0.0)
            level["m_probability"] = (n + prior_strength * prior[label]) / (total + prior_strength)
        # Levels random pairs never reached get the floor; "else" takes what the others leave.
        *agreeing, other = levels
        for level in agreeing:
            level["u_probability"] = max(level.get("u_probability") or 0.0, u_floor)
        if not other.get("u_probability"):
            other["u_probability"] = max(1.0 - sum(lv["u_probability"] for lv in agreeing),
                                         u_floor)
        _cap_at_exact(levels)


def _cap_at_exact(levels: list[dict[str, Any]]) -> None:
    """No partial agreement may count for more than exact agreement (raise its u if it does).

    A near-miss level that random pairs rarely reach gets a tiny, noisy u; without the cap a
    typo could outweigh the correct spelling.
    """
    exact = next(lv for lv in levels if lv["label_for_charts"] == "exact")
    ratio = exact["m_probability"] / exact["u_probability"]
    for level in levels:
        if level is not exact and level["m_probability"] / level["u_probability"] > ratio:
            level["u_probability"] = level["m_probability"] / ratio


def sanity_check(model: LinkageModel) -> list[str]:
    """Problems that make a model unsafe to link with (empty list: the model is sane).

    For every comparison the exact level must be the most likely one for true matches, must be
    evidence *for* a match (m > u) and the "else" level evidence *against* one (m < u).
    """
    problems = []
    params = model.parameters()
    for name, group in params.groupby("comparison", sort=False):
        by_level = group.set_index("level")
        exact, other = by_level.loc["exact"], by_level.loc["else"]
        if exact["m"] < by_level["m"].max():
            problems.append(f"{name}: exact agreement is not the most likely level for a match")
        if not exact["m"] > exact["u"]:
            problems.append(f"{name}: exact agreement is not evidence for a match (m <= u)")
        if not other["m"] < other["u"]:
            problems.append(f"{name}: disagreement is not evidence against a match (m >= u)")
    return problems


def save_model(model: LinkageModel, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(model.to_json(), indent=2))
    return path


def load_model(path: str | Path) -> LinkageModel:
    path = Path(path)
    if not path.exists():
        raise LinkageModelError(
            f"No linkage model at {path}.",
            hint="Train one for this data with `jdl link-train --data DIR`.",
        )
    try:
        return LinkageModel.from_json(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError) as exc:
        raise LinkageModelError(f"The linkage model at {path} is unreadable: {exc}.",
                                hint="Retrain it with `jdl link-train --data DIR`.") from exc
