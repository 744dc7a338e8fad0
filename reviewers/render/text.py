"""Plain text for a terminal: `path:line: GRNNN [severity] message`, then the fix."""

from __future__ import annotations

from ..engine import ReviewResult
from ..locale import ENGLISH, gettext, note
from . import plural, summary_line

_COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def render_text(result: ReviewResult, colour: bool = False, language: str = ENGLISH) -> str:
    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    out = []
    for finding in result.findings:
        out.append(
            f"{paint(_BOLD, f'{finding.path}:{finding.line}')}: "
            f"{paint(_COLOURS[finding.severity], f'{finding.rule} [{gettext(language, finding.severity)}]')} {finding.message}"
        )
        out.append(gettext(language, "  fix:"))
        out.extend(paint(_DIM, f"    {line}") for line in finding.remediation.splitlines())
        if finding.suggestion is not None:
            lines = f"{finding.line}{f'-{finding.end_line}' if finding.end_line > finding.line else ''}"
            span = finding.end_line - finding.line + 1
            out.append(gettext(language, "  suggested change for line{s} {lines}:", s=plural(span), lines=lines))
            out.extend(f"    {line}" for line in finding.suggestion.splitlines())
        out.append("")
    out.extend(gettext(language, "note: {note}", note=note(text, language)) for text in result.notes)
    out.append(summary_line(result, language))
    return "\n".join(out) + "\n"
