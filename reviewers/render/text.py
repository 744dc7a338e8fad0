"""Plain text for a terminal: `path:line: GRNNN [severity] message`, then the fix."""

from __future__ import annotations

from ..engine import ReviewResult
from . import summary_line

_COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def render_text(result: ReviewResult, colour: bool = False) -> str:
    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    out = []
    for finding in result.findings:
        out.append(
            f"{paint(_BOLD, f'{finding.path}:{finding.line}')}: "
            f"{paint(_COLOURS[finding.severity], f'{finding.rule} [{finding.severity}]')} {finding.message}"
        )
        out.append("  fix:")
        out.extend(paint(_DIM, f"    {line}") for line in finding.remediation.splitlines())
        if finding.suggestion is not None:
            out.append(
                f"  suggested change for line{'s' if finding.end_line > finding.line else ''} "
                f"{finding.line}{f'-{finding.end_line}' if finding.end_line > finding.line else ''}:"
            )
            out.extend(f"    {line}" for line in finding.suggestion.splitlines())
        out.append("")
    out.extend(f"note: {note}" for note in result.notes)
    out.append(summary_line(result))
    return "\n".join(out) + "\n"
