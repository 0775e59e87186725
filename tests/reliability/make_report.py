"""Render the reliability cases as Markdown (used by conftest.py when RELIABILITY_REPORT is set).

Regenerate docs/RELIABILITY.md with:

    RELIABILITY_REPORT=docs/RELIABILITY.md .venv/bin/pytest tests/reliability -q
"""

from __future__ import annotations

from collections import defaultdict


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|") or "-"


def render(cases, seconds: float, environment: str) -> str:
    passed = sum(1 for c in cases if c.passed)
    groups = defaultdict(list)
    for c in cases:
        groups[c.group].append(c)
    lines = [
        "# Reliability",
        "",
        "What SSL Workbench's engine does with bad inputs and injected faults. Every row is a case run by",
        "`pytest tests/reliability` (in CI with the rest of the tests); this page is generated from its",
        "results by `RELIABILITY_REPORT=docs/RELIABILITY.md .venv/bin/pytest tests/reliability -q`.",
        "",
        f"**{len(cases)} cases tried, {passed} passed** in {seconds:.0f} s ({environment}).",
        "",
        "Rules every case checks: nothing ends in a traceback or a hang (each test has a timeout); a bad",
        "input is either loaded with the bad parts skipped and listed, or refused with one message that names",
        "the file or field and says what to do; the CLI prints that message as one `error: ` line and exits 2.",
        "",
    ]
    for group, items in groups.items():
        ok = sum(1 for c in items if c.passed)
        lines += [f"## {group} ({ok}/{len(items)} passed)", ""]
        lines += ["| case | input / fault | expected | observed | result |", "|---|---|---|---|---|"]
        for c in items:
            result = "pass" if c.passed else "**FAIL**"
            lines.append(
                f"| {_cell(c.name)} | {_cell(c.given)} | {_cell(c.expected)} | {_cell(c.observed)} | {result} |"
            )
        lines.append("")
    return "\n".join(lines)
