"""What the webhook endpoint hands the workers: one pull request head (or merge group) to review."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

REVIEW_TASK = "goreef.review"
QUEUE = "goreef"


@dataclass(frozen=True)
class ReviewJob:
    installation_id: int
    repository: str  # owner/name
    head_sha: str
    pull_number: int | None = None  # None for a merge group
    base_sha: str | None = None  # a merge group is reviewed against this commit
    rerun: bool = False  # the Re-run button: review again even if this head was reviewed

    @property
    def head_key(self) -> str:
        """Identifies the head under review, whatever event asked for it."""
        target = f"pull/{self.pull_number}" if self.pull_number is not None else "merge-group"
        return f"{self.repository}/{target}@{self.head_sha}"

    def as_task_kwargs(self) -> dict[str, Any]:
        return asdict(self)
