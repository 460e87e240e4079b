"""The published report as a web page beside its PDF (issue 21, build 4): public once
published, 404 otherwise, the report's own accessible HTML rendered from the released results
the publication keeps."""

from __future__ import annotations

import re

from tests.catalogue._build import publish_one, released


def test_published_report_is_offered_as_html_beside_the_pdf(client, db, settings):
    a = publish_one(db, settings.service.storage_dir,
                    released(n=400, diff=-0.08, p=0.01, organisation="New Leaf",
                             programme_name="Routes to Work"),
                    submission_id=21, settings=settings)
    page = client.get(f"/catalogue/reports/{a}")
    assert f'href="/catalogue/reports/{a}/report.html"' in page.text
    assert f'href="/catalogue/reports/{a}/report.pdf"' in page.text
    html = client.get(f"/catalogue/reports/{a}/report.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    text = html.text
    assert '<html lang="en-GB">' in text and "<title>" in text and "Routes to Work" in text
    assert "Summary of key findings" in text and 'id="glossary"' in text
    assert "file:/" not in text  # no path of the server in a public page
    assert re.search(r'<img src="data:image/png;base64,', text)
    assert "content-security-policy" in html.headers
    assert client.get(f"/catalogue/reports/{a + 1}/report.html").status_code == 404
    assert client.get("/catalogue/reports/abc/report.html").status_code == 404
