"""The catalogue's report page shows the organisation's registered plan as the report prints it
(issue 20): its text and SHA-256, the primary measure, the registered sub-analyses, and every
headline measure the plan does not name labelled exploratory; everything escaped."""

from __future__ import annotations

import json
from dataclasses import replace

from jdl.disclosure import release
from jdl.evaluation._registered import RegistrationSummary
from jdl.inference import SubgroupEstimate
from tests.catalogue._build import publish_one
from tests.fixtures.example_results import example_results

ATTACK = '</pre><script>alert("plan")</script>'


def _with_plan(text: str) -> dict:
    base = example_results()
    rows = tuple(SubgroupEstimate("delivery_mode", level, 200, 1800, 50, 500, d, d - 0.08,
                                  d + 0.08, 0.2, 0.4, False, registered=True,
                                  comparison_ess=900.0)
                 for level, d in (("In person", -0.05), ("Online", -0.02)))
    summary = RegistrationSummary(text, "ab" * 32, "proven_reoffending_rate",
                                  ("delivery_mode",), None)
    raw = replace(base, subgroups=(*base.subgroups, *rows), registration=summary).to_dict()
    return release(json.loads(json.dumps(raw))).results


def test_the_plan_its_hash_and_exploratory_labels(client, db, settings):
    text = '{"primary_measure":"proven_reoffending_rate","sub_analyses":["delivery_mode"]}'
    pid = publish_one(db, settings.service.storage_dir, _with_plan(text), settings=settings,
                      submission_id=5)
    page = client.get(f"/catalogue/reports/{pid}").text
    section = page[page.index('id="registration"'):page.index('id="response-heading"')]
    assert "&#34;primary_measure&#34;:&#34;proven_reoffending_rate&#34;" in section
    assert 'id="registration-sha256" style="overflow-wrap: anywhere">' + "ab" * 32 in section
    assert "Primary measure: <strong>One-year proven re-offending rate</strong>" in section
    assert "Delivery mode: In person" in section and "Delivery mode: Online" in section
    assert "exploratory" in section
    # the primary measure is marked registered, the other headline measures exploratory
    findings = page[page.index("What the report found"):page.index('id="estimates"')]
    assert findings.count("registered primary measure") == 1
    assert findings.count('class="tag exploratory"') == findings.count('class="finding"') - 1


def test_the_plan_text_is_escaped(client, db, settings):
    pid = publish_one(db, settings.service.storage_dir, _with_plan(ATTACK), settings=settings,
                      submission_id=6)
    page = client.get(f"/catalogue/reports/{pid}").text
    assert "<script>alert" not in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(&#34;plan&#34;)&lt;/script&gt;" in page


def test_no_plan_no_section_and_no_labels(client, db, settings):
    from tests.catalogue._build import released

    pid = publish_one(db, settings.service.storage_dir, released(), settings=settings,
                      submission_id=7)
    page = client.get(f"/catalogue/reports/{pid}").text
    assert 'id="registration"' not in page and "exploratory</span>" not in page
