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
    # The pull request is the open one whose head this is, to be looked up: GitHub names none
    # in a check suite of a fork's head (and goreef's check run carried no number).
    pull_by_head: bool = False

    @property
    def head_key(self) -> str:
        """Identifies the head under review, whatever event asked for it."""
        if self.pull_by_head:
            target = "pull-of-head"
        else:
            target = f"pull/{self.pull_number}" if self.pull_number is not None else "merge-group"
        return f"{self.repository}/{target}@{self.head_sha}"

    def as_task_kwargs(self) -> dict[str, Any]:
        kwargs = asdict(self)
        if not self.pull_by_head:  # a job workers of the previous release can still take
            del kwargs["pull_by_head"]
        return kwargs
