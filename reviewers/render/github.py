"""What goreef posts on GitHub, built by pure functions that the app and `goreef review
--format github` share, so that the command line shows exactly what the app posts.

1. `plan_comments`: which findings get an inline comment now (each checked against the lines
   GitHub takes a comment on, within the comment cap), and which do not (over the cap, off
   the diff; the app adds those GitHub refused).
2. `review_payload`: the body of the review holding those comments (Markdown, the fix, a
   one-click suggestion, a hidden fingerprint).
3. `check_run_payload`: the completed check run: conclusion, title, summary, and annotations
   for the findings that have no inline comment (one finding never shows twice in Files
   changed).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..config import Config
from ..diffs import ChangedFile
from ..engine import ReviewResult
from ..finding import Finding
from ..locale import ENGLISH, gettext, note
from ..registry import get_rule, rule_class
from . import plural, severity_counts

CHECK_NAME = "goreef"
SUMMARY_LIMIT = 65_535  # GitHub's limit on a check run's summary
FINGERPRINT_RE = re.compile(r"<!-- goreef:fp=([0-9a-f]+) -->")
ANNOTATION_LEVELS = {"error": "failure", "warning": "warning", "info": "notice"}
SEVERITY_ICONS = {"error": "🔴", "warning": "🟠", "info": "🔵"}
MAX_ANNOTATIONS_PER_REQUEST = 50


def rule_link(rule_id: str, docs_url: str | None, language: str = ENGLISH) -> str:
    rule = get_rule(rule_id)
    label = f"{rule_id} {rule.name}" if rule else rule_id
    query = f"?lang={language}" if language != ENGLISH else ""  # the page in the review's language
    return f"[{label}]({docs_url.rstrip('/')}/{rule_id}{query})" if docs_url else f"`{label}`"


def _fence(text: str, language: str) -> str:
    # A fence longer than any backtick run inside keeps the block whole.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def comment_body(finding: Finding, docs_url: str | None = None, language: str = ENGLISH) -> str:
    severity = gettext(language, finding.severity)
    parts = [
        f"{SEVERITY_ICONS[finding.severity]} **{rule_link(finding.rule, docs_url, language)}** ({severity}): {finding.message}",
        "",
        gettext(language, "**Fix**"),
        _fence(finding.remediation, "go"),
    ]
    if finding.suggestion is not None:
        parts += ["", _fence(finding.suggestion, "suggestion")]
    parts += [
        "",
        gettext(language, "<sub>Silence with `//goreef:ignore {rule} <reason>`.</sub>", rule=finding.rule),
        f"<!-- goreef:fp={finding.fingerprint} -->",
    ]
    return "\n".join(parts)


def review_comment(finding: Finding, docs_url: str | None = None, language: str = ENGLISH) -> dict:
    body = comment_body(finding, docs_url, language)
    comment = {"path": finding.path, "line": finding.end_line, "side": "RIGHT", "body": body}
    if finding.end_line > finding.line:
        # GitHub anchors a multi-line comment on its last line, starting at start_line.
        comment.update(start_line=finding.line, start_side="RIGHT")
    return comment


def annotations_of(findings: list[Finding]) -> list[dict]:
    return [
        {
            "path": f.path,
            "start_line": f.line,
            "end_line": f.end_line,
            "annotation_level": ANNOTATION_LEVELS[f.severity],
            "title": f"{f.rule} {rule.name if (rule := get_rule(f.rule)) else ''}".strip(),
            "message": f.message,
            "raw_details": f.remediation,
        }
        for f in findings
    ]


def title(findings: list[Finding], language: str = ENGLISH) -> str:
    if not findings:
        return gettext(language, "No Go traps found")
    detail = severity_counts(Counter(f.severity for f in findings), language)
    count = len(findings)
    return gettext(language, "{count} Go trap{s} found ({detail})", count=count, s=plural(count), detail=detail)


@dataclass(frozen=True)
class CommentPlan:
    """Which findings are commented inline and which are left to the check run."""

    comments: list[tuple[Finding, dict[str, Any]]] = field(default_factory=list)  # to post now
    already_commented: int = 0  # findings whose comment an earlier push posted
    over_cap: list[Finding] = field(default_factory=list)
    off_diff: list[Finding] = field(default_factory=list)
    informational: list[Finding] = field(default_factory=list)  # info: the check run only
    refused: list[tuple[Finding, str]] = field(default_factory=list)  # GitHub refused the comment, and why
    comment_cap: int = 30
    language: str = ENGLISH

    @property
    def uncommented(self) -> list[Finding]:
        return _sorted([*self.informational, *self.over_cap, *self.off_diff, *(finding for finding, _ in self.refused)])

    def without(self, refused: Iterable[tuple[dict[str, Any], str]]) -> CommentPlan:
        """The plan once GitHub refused these comments (with its reason for each)."""
        reasons = {id(comment): reason for comment, reason in refused}
        return replace(
            self,
            comments=[(f, c) for f, c in self.comments if id(c) not in reasons],
            refused=[*self.refused, *((f, reasons[id(c)]) for f, c in self.comments if id(c) in reasons)],
        )

    def notes(self) -> list[str]:
        notes, language = [], self.language
        if self.informational:
            notes.append(
                gettext(
                    language,
                    "{count} info finding(s) are shown here only: goreef comments inline on errors and warnings, "
                    "the findings it is most often right about.",
                    count=len(self.informational),
                )
            )
        if self.over_cap:
            notes.append(
                gettext(
                    language,
                    "{count} finding(s) are shown here only: inline comments are capped at {cap} per push "
                    "(`comment_cap`).",
                    count=len(self.over_cap),
                    cap=self.comment_cap,
                )
            )
        if self.off_diff:
            notes.append(
                gettext(
                    language,
                    "{count} finding(s) are on lines outside the diff, where GitHub takes no comment: {places}",
                    count=len(self.off_diff),
                    places=", ".join(f"{f.path}:{f.line}" for f in self.off_diff),
                )
            )
        if self.refused:
            notes.append(
                gettext(
                    language,
                    "GitHub refused {count} inline comment(s), so they are reported here only: {places}",
                    count=len(self.refused),
                    places="; ".join(f"{f.path}:{f.end_line} ({reason})" for f, reason in self.refused),
                )
            )
        return notes


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line, f.rule))


def plan_comments(
    findings: list[Finding],
    changes: list[ChangedFile],
    docs_url: str | None,
    comment_cap: int,
    *,
    room: int | None = None,
    commented: frozenset[str] = frozenset(),
    language: str = ENGLISH,
) -> CommentPlan:
    """Inline comments for the findings not `commented` yet (by fingerprint), at most `room`
    (default `comment_cap`), each on a line GitHub takes a comment on: one comment off the
    diff makes GitHub refuse the whole review (422). A multi-line comment whose first lines
    fall outside the diff keeps only its last line. Info findings get no comment: they are
    the check run's (annotations and summary), so that a comment always means a likely trap."""
    commentable = {c.path: c.commentable_lines for c in changes}
    room = comment_cap if room is None else max(0, room)
    comments: list[tuple[Finding, dict[str, Any]]] = []
    over_cap, off_diff, informational = [], [], []
    for finding in findings:
        if finding.fingerprint in commented:
            continue
        if finding.severity == "info":
            informational.append(finding)
            continue
        lines = commentable.get(finding.path, frozenset())
        comment = review_comment(finding, docs_url, language)
        if comment["line"] not in lines:
            off_diff.append(finding)
            continue
        if len(comments) == room:
            over_cap.append(finding)
            continue
        if "start_line" in comment and not set(range(comment["start_line"], comment["line"] + 1)) <= lines:
            del comment["start_line"], comment["start_side"]
        comments.append((finding, comment))
    already = sum(1 for f in findings if f.fingerprint in commented)
    return CommentPlan(comments, already, over_cap, off_diff, informational, comment_cap=comment_cap, language=language)


def review_payload(plan: CommentPlan) -> dict[str, Any] | None:
    """The body of `POST /repos/{owner}/{repo}/pulls/{n}/reviews` (the app adds `commit_id`);
    None when there is no new comment to post."""
    if not plan.comments:
        return None
    count = len(plan.comments)
    return {
        "event": "COMMENT",
        "body": gettext(
            plan.language,
            "goreef found {count} new Go trap{s} in this push. See the `{check}` check for the summary.",
            count=count,
            s=plural(count),
            check=CHECK_NAME,
        ),
        "comments": [comment for _, comment in plan.comments],
    }


def check_run_payload(
    result: ReviewResult, config: Config, docs_url: str | None = None, plan: CommentPlan | None = None
) -> dict[str, Any]:
    """The completed check run (`PATCH .../check-runs/{id}` before the app splits the
    annotations into requests of 50): its conclusion, and an output whose annotations are the
    findings without an inline comment (all of them when there is no pull request to comment on)."""
    uncommented = plan.uncommented if plan is not None else result.findings
    return {
        "name": CHECK_NAME,
        "status": "completed",
        "conclusion": "failure" if config.fails(result.findings) else "success",
        "output": {
            **check_run_output(result, config, docs_url, plan.notes() if plan is not None else []),
            "annotations": annotations_of(uncommented),
        },
    }


def check_run_output(
    result: ReviewResult, config: Config, docs_url: str | None = None, plan_notes: list[str] | None = None
) -> dict[str, str]:
    """The check run's title and Markdown summary: traps by class and rule, what was not
    commented inline and why, and the notes (skipped files)."""
    findings, language, files = result.findings, config.language, result.files_reviewed
    lines = [gettext(language, "goreef reviewed {files} changed Go file{s}.", files=files, s=plural(files))]
    if findings:
        lines += ["", gettext(language, "| class | rule | severity | count |"), "|---|---|---|---|"]
        by_rule = Counter(f.rule for f in findings)
        severities = {f.rule: f.severity for f in findings}
        for rule_id in sorted(by_rule):
            lines.append(
                f"| {gettext(language, rule_class(rule_id))} | {rule_link(rule_id, docs_url, language)} "
                f"| {gettext(language, severities[rule_id])} | {by_rule[rule_id]} |"
            )
        verdict = (
            gettext(language, "These findings fail the check (`fail_on: {fail_on}`).", fail_on=config.fail_on)
            if config.fails(findings)
            else gettext(
                language, "These findings do not fail the check (`fail_on: {fail_on}`).", fail_on=config.fail_on
            )
        )
        lines += ["", verdict]
    for plan_note in plan_notes or ():
        lines += ["", plan_note]
    if result.notes:
        lines += ["", gettext(language, "**Notes**"), *(f"- {note(text, language)}" for text in result.notes)]
    summary = "\n".join(lines)
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 100] + gettext(language, "\n\n… (summary truncated; see the annotations)")
    return {"title": title(findings, language), "summary": summary}
