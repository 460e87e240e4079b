"""Warnings raised while a command runs, collected for a tidy summary instead of raw tracebacks.

A model fit may warn (R's ``glm`` does too) that fitted probabilities of 0 or 1 occurred — a
small sub-group whose participants differ sharply from the comparison pool. Python prints such
a warning with the source file and line, which reads like a crash to a user of the command line.
The command collects them with :func:`collected_warnings` and prints each distinct message once,
with how often it occurred (:func:`warning_lines`). Library code keeps raising ordinary
warnings; only the commands decide how to show them.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collected_warnings() -> Iterator[Counter[str]]:
    """Collect every warning raised inside the block: message -> times raised."""
    seen: Counter[str] = Counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield seen
        finally:
            for w in caught:
                seen[str(w.message)] += 1


def warning_lines(seen: Counter[str]) -> list[str]:
    """One line per distinct warning, most frequent first:
    "Model note (lab-internal): message (3 times)"."""
    return [f"Model note (lab-internal): {message}" + ("" if n == 1 else f" ({n} times)")
            for message, n in seen.most_common()]
