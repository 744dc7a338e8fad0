"""The finding: what a rule reports, in the shape other tools read (the JSON contract)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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

    def to_dict(self) -> dict:
        data = asdict(self)
        return {key: data[key] for key in FINDING_FIELDS}
