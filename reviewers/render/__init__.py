"""Renderers: findings in, text out. They know nothing of parsing.

`text` for a terminal, `json` (the contract other tools read), `sarif` (2.1.0, accepted by
GitHub code scanning), `github` (the review comments and check run goreef posts).
"""

from __future__ import annotations

import json

from ..engine import ReviewResult
from ..finding import Finding
from ..locale import ENGLISH, gettext


def render_json(findings: list[Finding]) -> str:
    return json.dumps([finding.to_dict() for finding in findings], indent=2, ensure_ascii=False)


def plural(count: int) -> str:
    """English's plural `s` (the Chinese templates have no use for it)."""
    return "s" if count != 1 else ""


def severity_counts(counts: dict[str, int], language: str = ENGLISH) -> str:
    """`2 errors, 1 warning`."""
    return gettext(language, ", ").join(
        gettext(language, "{count} {severity}{s}", count=counts[s], severity=gettext(language, s), s=plural(counts[s]))
        for s in ("error", "warning", "info")
        if counts.get(s)
    )


def summary_line(result: ReviewResult, language: str = ENGLISH) -> str:
    counts = {severity: 0 for severity in ("error", "warning", "info")}
    for finding in result.findings:
        counts[finding.severity] += 1
    total, files = len(result.findings), result.files_reviewed
    if not total:
        return gettext(language, "no traps found in {files} Go file{s}", files=files, s=plural(files))
    return gettext(
        language,
        "{total} trap{s} ({parts}) in {files} Go file{files_s}",
        total=total,
        s=plural(total),
        parts=severity_counts(counts, language),
        files=files,
        files_s=plural(files),
    )
