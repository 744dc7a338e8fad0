"""goreef's GitHub core, without I/O (gidgethub's sans-I/O, for goreef): which webhook
deliveries start which reviews (`decide`), the review job the web process queues and a worker
runs (`ReviewJob`), and the payloads of a review and a check run (`reviews.render.github`,
re-exported here). The web process, the worker, the GitHub Action and the command line
(`--format github`, `replay`) all import this module; none of them imports another, and only
the worker's client talks to GitHub.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .render.github import (
    CHECK_NAME,
    FINGERPRINT_RE,
    MAX_ANNOTATIONS_PER_REQUEST,
    CommentPlan,
    check_run_payload,
    plan_comments,
    review_payload,
)

__all__ = [
    "CHECK_NAME",
    "FINGERPRINT_RE",
    "MAX_ANNOTATIONS_PER_REQUEST",
    "QUEUE",
    "REVIEW_TASK",
    "CommentPlan",
    "Decision",
    "Ignore",
    "InstallationChange",
    "Ping",
    "Review",
    "ReviewJob",
    "check_run_payload",
    "decide",
    "plan_comments",
    "review_payload",
]

# -- the job: what the web process queues for a worker ------------------------------------------
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


# -- the decisions: which deliveries goreef acts on, and what each asks for ----------------------
PULL_REQUEST_ACTIONS = {"opened", "synchronize", "reopened", "ready_for_review"}
CHECK_SUITE_ACTIONS = {"requested", "rerequested"}


@dataclass(frozen=True)
class Review:
    jobs: tuple[ReviewJob, ...]


@dataclass(frozen=True)
class Ignore:
    reason: str


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class InstallationChange:
    """An installation created, suspended, given new permissions...: reviews parked for want of
    its token may run again."""

    installation_id: int
    action: str


Decision = Review | Ignore | Ping | InstallationChange


def decide(event: str, payload: dict[str, Any]) -> Decision:
    action = payload.get("action", "")
    if event == "ping":
        return Ping()
    if event in {"installation", "installation_repositories"}:
        return _installation_change(action, payload)
    if event not in {"pull_request", "check_run", "check_suite", "merge_group"}:
        return Ignore(f"goreef does not act on {event} events")
    # goreef's own writes come back as check_run/check_suite events sent by a bot: those never
    # start a review, so there is no loop. A bot's pull request (Dependabot, Renovate) is
    # reviewed like any other, or a required goreef check would block it forever; goreef
    # itself never opens or pushes to pull requests.
    if event != "pull_request" and payload.get("sender", {}).get("type") == "Bot":
        return Ignore(f"{event}.{action} was sent by a bot")
    match event:
        case "pull_request":
            return _pull_request(action, payload)
        case "check_run":
            return _check_run(action, payload)
        case "check_suite":
            return _check_suite(action, payload)
        case _:
            return _merge_group(action, payload)


def _pull_request(action: str, payload: dict[str, Any]) -> Decision:
    pull = payload["pull_request"]
    if action not in PULL_REQUEST_ACTIONS:
        return Ignore(f"pull_request.{action} is not reviewed")
    if pull.get("draft"):
        return Ignore("draft pull requests are reviewed when marked ready")
    return Review((_job(payload, pull["head"]["sha"], pull["number"]),))


def _check_run(action: str, payload: dict[str, Any]) -> Decision:
    run = payload["check_run"]
    if action != "rerequested" or run.get("name") != CHECK_NAME:
        return Ignore(f"check_run.{action} of {run.get('name')!r} is not acted on")
    # GitHub lists no pull request for a head in a fork: goreef's check run carries its number.
    pulls = run.get("pull_requests") or (
        [{"number": int(external_id)}] if (external_id := str(run.get("external_id") or "")).isdigit() else []
    )
    return _reviews_of(payload, run["head_sha"], pulls, rerun=True)


def _check_suite(action: str, payload: dict[str, Any]) -> Decision:
    suite = payload["check_suite"]
    if action not in CHECK_SUITE_ACTIONS:
        return Ignore(f"check_suite.{action} is not acted on")
    return _reviews_of(payload, suite["head_sha"], suite.get("pull_requests", []), rerun=action == "rerequested")


def _merge_group(action: str, payload: dict[str, Any]) -> Decision:
    if action != "checks_requested":
        return Ignore(f"merge_group.{action} is not acted on")
    group = payload["merge_group"]
    return Review((_job(payload, group["head_sha"], None, base_sha=group["base_sha"]),))


def _reviews_of(payload: dict[str, Any], head_sha: str, pulls: Iterable[dict[str, Any]], *, rerun: bool) -> Decision:
    # GitHub lists only the pull requests of this repository whose head is this commit.
    jobs = tuple(_job(payload, head_sha, pull["number"], rerun=rerun) for pull in pulls)
    if jobs:
        return Review(jobs)
    if rerun:
        # Re-run pressed on a fork's head, where GitHub lists no pull request: the worker looks
        # up the open pull request whose head this is.
        return Review((_job(payload, head_sha, None, rerun=True, pull_by_head=True),))
    return Ignore("the commit belongs to no open pull request")


def _job(payload: dict[str, Any], head_sha: str, number: int | None, **extra: Any) -> ReviewJob:
    return ReviewJob(
        installation_id=payload["installation"]["id"],
        repository=payload["repository"]["full_name"],
        head_sha=head_sha,
        pull_number=number,
        **extra,
    )


def _installation_change(action: str, payload: dict[str, Any]) -> InstallationChange:
    return InstallationChange(installation_id=payload["installation"]["id"], action=action)
