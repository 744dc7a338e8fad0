"""What goreef posts on GitHub: review comments (Markdown, the fix, a one-click suggestion,
a hidden fingerprint) and the check run's output (title, summary, annotations)."""

from __future__ import annotations

import re
from collections import Counter

from ..config import Config
from ..engine import ReviewResult
from ..finding import Finding
from ..registry import get_rule, rule_class

FINGERPRINT_RE = re.compile(r"<!-- goreef:fp=([0-9a-f]+) -->")
ANNOTATION_LEVELS = {"error": "failure", "warning": "warning", "info": "notice"}
SEVERITY_ICONS = {"error": "🔴", "warning": "🟠", "info": "🔵"}
MAX_ANNOTATIONS_PER_REQUEST = 50


def rule_link(rule_id: str, docs_url: str | None) -> str:
    rule = get_rule(rule_id)
    label = f"{rule_id} {rule.name}" if rule else rule_id
    return f"[{label}]({docs_url.rstrip('/')}/{rule_id})" if docs_url else f"`{label}`"


def _fence(text: str, language: str) -> str:
    # A fence longer than any backtick run inside keeps the block whole.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def comment_body(finding: Finding, docs_url: str | None = None) -> str:
    parts = [
        f"{SEVERITY_ICONS[finding.severity]} **{rule_link(finding.rule, docs_url)}** ({finding.severity}): {finding.message}",
        "",
        "**Fix**",
        _fence(finding.remediation, "go"),
    ]
    if finding.suggestion is not None:
        parts += ["", _fence(finding.suggestion, "suggestion")]
    parts += [
        "",
        f"<sub>Silence with `//goreef:ignore {finding.rule} <reason>`.</sub>",
        f"<!-- goreef:fp={finding.fingerprint} -->",
    ]
    return "\n".join(parts)


def review_comment(finding: Finding, docs_url: str | None = None) -> dict:
    comment = {"path": finding.path, "line": finding.end_line, "side": "RIGHT", "body": comment_body(finding, docs_url)}
    if finding.end_line > finding.line:
        # GitHub anchors a multi-line comment on its last line, starting at start_line.
        comment.update(start_line=finding.line, start_side="RIGHT")
    return comment


def annotations(findings: list[Finding], docs_url: str | None = None) -> list[dict]:
    return [
        {
            "path": f.path,
            "start_line": f.line,
            "end_line": f.end_line,
            "annotation_level": ANNOTATION_LEVELS[f.severity],
            "title": f"{f.rule} {get_rule(f.rule).name if get_rule(f.rule) else ''}".strip(),
            "message": f.message,
            "raw_details": f.remediation,
        }
        for f in findings
    ]


def title(findings: list[Finding]) -> str:
    if not findings:
        return "No Go traps found"
    counts = Counter(f.severity for f in findings)
    detail = ", ".join(
        f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in ("error", "warning", "info") if counts[s]
    )
    return f"{len(findings)} Go trap{'s' if len(findings) != 1 else ''} found ({detail})"


def check_run_output(
    result: ReviewResult, config: Config, docs_url: str | None = None, commented: int | None = None
) -> dict:
    """The check run's title and Markdown summary: traps by class and rule, what was not
    commented inline (over the cap), and the notes (skipped files)."""
    findings = result.findings
    lines = [f"goreef reviewed {result.files_reviewed} changed Go file{'s' if result.files_reviewed != 1 else ''}."]
    if findings:
        lines += ["", "| class | rule | severity | count |", "|---|---|---|---|"]
        by_rule = Counter(f.rule for f in findings)
        severities = {f.rule: f.severity for f in findings}
        for rule_id in sorted(by_rule):
            lines.append(
                f"| {rule_class(rule_id)} | {rule_link(rule_id, docs_url)} | {severities[rule_id]} | {by_rule[rule_id]} |"
            )
        verdict = "fail" if config.fails(findings) else "do not fail"
        lines += ["", f"These findings {verdict} the check (`fail_on: {config.fail_on}`)."]
    if commented is not None and commented < len(findings):
        lines += [
            "",
            f"{len(findings) - commented} finding(s) are shown here only: inline comments are capped at {config.comment_cap} per push (`comment_cap`).",
        ]
    if result.notes:
        lines += ["", "**Notes**", *(f"- {note}" for note in result.notes)]
    return {"title": title(findings), "summary": "\n".join(lines)}


def review_payload(findings: list[Finding], docs_url: str | None = None, cap: int = 30) -> dict:
    """The body of `POST /repos/{owner}/{repo}/pulls/{n}/reviews` for these findings."""
    shown = findings[:cap]
    count = len(findings)
    body = (
        f"goreef found {count} Go trap{'s' if count != 1 else ''} in this change."
        if findings
        else "goreef found no Go traps."
    )
    return {"event": "COMMENT", "body": body, "comments": [review_comment(f, docs_url) for f in shown]}
