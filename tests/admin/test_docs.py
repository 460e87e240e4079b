"""docs/data-contract.md shows the contract as the code defines it."""

from pathlib import Path

from jdl.admin.contract import contract_markdown


def test_contract_doc_is_in_step_with_the_code():
    doc = (Path(__file__).parents[2] / "docs" / "data-contract.md").read_text()
    assert contract_markdown() in doc
