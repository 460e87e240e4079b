"""Synthetic national records: realistic, calibrated, with planted programmes.

The embedded default for the demo, the tests and the benchmarks — and the stand-in for
reality, so it is kept as hard as reality (common names, typing errors, confounded selection).
"""

from jdl.admin.synth._generate import SynthConfig, generate
from jdl.admin.synth._programmes import DEFAULT_PROGRAMMES, ProgrammeSpec
from jdl.admin.synth._submission import ErrorRates, make_submission

__all__ = [
    "DEFAULT_PROGRAMMES",
    "ErrorRates",
    "ProgrammeSpec",
    "SynthConfig",
    "generate",
    "make_submission",
]
