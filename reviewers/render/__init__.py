"""Renderers: findings in, text out. They know nothing of parsing.

`text` for a terminal, `json` (the contract other tools read), `sarif` (2.1.0, accepted by
GitHub code scanning), `github` (the review comments and check run goreef posts).
"""

from __future__ import annotations

import json

from ..engine import ReviewResult
from ..finding import Finding


def render_json(findings: list[Finding]) -> str:
    return json.dumps([finding.to_dict() for finding in findings], indent=2, ensure_ascii=False)


def summary_line(result: ReviewResult) -> str:
    counts = {severity: 0 for severity in ("error", "warning", "info")}
    for finding in result.findings:
        counts[finding.severity] += 1
    total = len(result.findings)
    if not total:
        return f"no traps found in {result.files_reviewed} Go file{'s' if result.files_reviewed != 1 else ''}"
    parts = ", ".join(f"{count} {severity}{'s' if count != 1 else ''}" for severity, count in counts.items() if count)
    return f"{total} trap{'s' if total != 1 else ''} ({parts}) in {result.files_reviewed} Go file{'s' if result.files_reviewed != 1 else ''}"
