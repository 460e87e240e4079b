"""Numbers are worded from the same rounded values everywhere (issue 21: one report said
"About 4885 people" and "about 4,890 people"), and charts stay legible in print."""

from __future__ import annotations

import re

import pytest

from jdl.report import render_html

from ._factory import make_released, visible_text

_NUMBER = re.compile(r"(?<![\w.,+-])[+-]?\d+(?:,\d+)*(?:\.\d+)?(?![\w])")
_ABOUT = re.compile(r"\babout (\d[\d,]*) (?:people|participants)\b(?! in every)", re.I)


def _without_codes(html: str) -> str:
    """The visible text without <code> (hashes, seeds, versions are identifiers, not
    quantities)."""
    return visible_text(re.sub(r"<code>.*?</code>", " ", html, flags=re.S))


def number_spellings(text: str) -> list[str]:
    """Problems with how whole numbers are written: a number of 1,000 or more without its
    thousands separator (years excepted), one value written two ways, and one approximate
    quantity ("about N people") quoted with two values."""
    problems = []
    spellings: dict[int, set[str]] = {}
    for token in _NUMBER.findall(text):
        bare = token.lstrip("+-")
        if "." in bare:
            continue  # decimals (rates, differences) are shown to the places their unit uses
        if "," in bare and not re.fullmatch(r"\d{1,3}(,\d{3})+", bare):
            problems.append(f"{token} is not a well-formed number")
            continue
        value = int(bare.replace(",", ""))
        if "," not in bare and value >= 1000 and not 1900 <= value <= 2100:
            problems.append(f"{token} has no thousands separator")
        if value >= 1000:
            spellings.setdefault(value, set()).add(bare)
    problems += [f"{v} written as {sorted(s)}" for v, s in spellings.items() if len(s) > 1]
    about = {m.replace(",", "") for m in _ABOUT.findall(text)}
    if len(about) > 1:
        problems.append(f"one approximate quantity quoted as {sorted(about)}")
    return problems


def test_the_check_finds_the_issues_example():
    text = "About 4885 people would be needed. We would need about 4,890 people."
    problems = number_spellings(text)
    assert any("4885 has no thousands separator" in p for p in problems)
    assert any("one approximate quantity" in p for p in problems)
    assert number_spellings("In 2024, 1,234 people and 1,234 more; about 4,900 people.") == []


@pytest.mark.parametrize("required", [4885, 1234.2, 980])
def test_report_writes_each_number_one_way(raw, required):
    rel = make_released(raw)
    rate = rel["measures"]["proven_reoffending_rate"]
    rate.update(difference=-0.03, ci_low=-0.09, ci_high=0.03, significant=False)
    rel["power"]["required_n_for_observed"] = required
    html = render_html(rel)
    assert number_spellings(_without_codes(html)) == []
    # the summary's advice and the annex's sample-size section quote the same number
    quoted = _ABOUT.findall(visible_text(html))
    assert len(quoted) >= 2 and len(set(quoted)) == 1


def test_example_report_writes_each_number_one_way(html):
    assert number_spellings(_without_codes(html)) == []


def test_love_plot_labels_are_at_least_8_points_however_many_covariates():
    """Issue 21: the Love plot's labels were about 6 pt with many covariates."""
    from jdl.report._charts import MIN_FONT_PT, love_figure, love_plot

    balance = [{"covariate": f"covariate_{i}", "smd_before": 0.3 - i / 100,
                "smd_after": 0.01} for i in range(60)]
    fig = love_figure(balance, 0.1)
    ax = fig.axes[0]
    sizes = [t.get_fontsize() for t in ax.get_yticklabels() + ax.get_xticklabels()]
    sizes += [t.get_fontsize() for t in ax.texts]
    assert min(sizes) >= MIN_FONT_PT
    # printed at its drawn size: no wider than the A4 text width (178 mm = 672 CSS px)
    assert love_plot(balance, 0.1).width_px <= 672


def test_every_chart_says_which_way_is_better(html):
    from jdl.report._charts import measure_chart

    chart = measure_chart("proven_reoffending_rate", {
        "label": "One-year proven re-offending rate", "unit": "proportion",
        "treatment": 0.3, "comparison": 0.35, "difference": -0.05, "ci_low": -0.1,
        "ci_high": 0.0, "significant": False})
    assert chart.alt.endswith("Lower is better.")
    days = measure_chart("days_to_first_reoffence", {
        "label": "Days", "unit": "days", "treatment": 150, "comparison": 140,
        "difference": 10, "ci_low": -5, "ci_high": 25, "significant": False})
    assert days.alt.endswith("Longer is better.")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html, re.S)
    assert captions and all("better" in c for c in captions if "stage" not in c)
