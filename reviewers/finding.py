"""The finding: what a rule reports, in the shape other tools read (the JSON contract)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import Enum


class Severity(str, Enum):
    """How bad a finding is. `error` fails the check run and so blocks the merge."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


# The exact keys of `goreef review --format json`: other tools rely on them and their order.
FINDING_FIELDS = (
    "rule",
    "severity",
    "path",
    "line",
    "end_line",
    "message",
    "remediation",
    "suggestion",
    "fingerprint",
)


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    path: str
    line: int
    end_line: int
    message: str
    remediation: str
    suggestion: str | None
    fingerprint: str
    # The code's own names for the remediation snippet's stand-ins (`ch` → `errc`), put in
    # once the snippet is in the review's language: not part of the JSON contract.
    names: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        return {key: data[key] for key in FINDING_FIELDS}


def with_names(snippet: str, names: tuple[tuple[str, str], ...]) -> str:
    """A remediation snippet with each stand-in name (a Go identifier or selector: `ch`,
    `w.results`) replaced by the code's own, in code only: strings and comments stay."""
    if not names:
        return snippet
    own = dict(names)
    stand_ins = "|".join(re.escape(name) for name in sorted(own, key=len, reverse=True))
    pattern = re.compile(rf'"(?:\\.|[^"\\\n])*"|`[^`]*`|//[^\n]*|(?<![\w.])({stand_ins})(?![\w])')
    return pattern.sub(lambda m: own[m.group(1)] if m.group(1) else m.group(0), snippet)
