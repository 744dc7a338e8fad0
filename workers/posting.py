"""Posting goreef's review on a pull request, shared by the app's review (workers/review.py)
and the GitHub Action (workers/action.py): the comments not posted yet (by fingerprint), and
the review GitHub takes (the comments it refuses found and left out)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from reviewers import ChangedFile, Config, ReviewResult
from reviewers import github_core as core
from workers.github_client import RepositoryClient, ReviewComment, ReviewRefused

log = logging.getLogger(__name__)

FIXED_MARK = "<!-- goreef:fixed -->"


def plan_new_comments(
    repo: RepositoryClient,
    number: int,
    head_sha: str,
    result: ReviewResult,
    changes: list[ChangedFile],
    config: Config,
    docs_url: str | None,
) -> tuple[core.CommentPlan, dict[str, ReviewComment]]:
    """The comments to post for `result` on the pull request, leaving out the findings already
    commented (their fingerprint is on an open comment of goreef's), and those open comments by
    fingerprint. The app and the Action (workers/action.py) plan alike."""
    existing = [c for c in repo.review_comments(number) if c.author_is_bot]
    open_comments = {fp: c for c in existing if (fp := _fingerprint(c)) and FIXED_MARK not in c.body}
    plan = core.plan_comments(
        result.findings,
        changes,
        docs_url,
        config.comment_cap,
        # The cap is per push: the comments a cut-short run of this push posted count against it.
        room=config.comment_cap - sum(1 for c in existing if c.commit_sha == head_sha),
        commented=frozenset(open_comments),
        language=config.language,
    )
    return plan, open_comments


def post_review(
    repo: RepositoryClient,
    number: int,
    head_sha: str,
    plan: core.CommentPlan,
    still_current: Callable[[], object] = lambda: None,
) -> core.CommentPlan:
    """Post the plan's review; answers the plan without the comments GitHub refused.

    GitHub refuses a whole review for one comment it does not take (422), at times even on
    a line inside the diff. The refused ones are found by bisection and the review is posted
    without them. `still_current` raises when the head moved on (then the refusal is no
    comment's fault)."""
    payload = core.review_payload(plan)
    if payload is None:
        return plan
    if discarded := repo.discard_pending_reviews(number):
        log.warning(
            "%s#%d: discarded %d pending review(s) left by a review cut short", repo.full_name, number, discarded
        )
    try:
        repo.create_review(number, head_sha, payload["body"], payload["comments"])
        return plan
    except ReviewRefused as refusal:
        still_current()
        refused = _refused_comments(
            payload["comments"], refusal.reason, lambda some: repo.review_refusal(number, head_sha, some)
        )
    plan = plan.without(refused)
    if (payload := core.review_payload(plan)) is not None:
        repo.create_review(number, head_sha, payload["body"], payload["comments"])
    return plan


def _fingerprint(comment: ReviewComment) -> str | None:
    match = core.FINGERPRINT_RE.search(comment.body)
    return match.group(1) if match else None


def _refused_comments(
    comments: list[dict[str, Any]], reason: str, refusal: Callable[[list[dict[str, Any]]], str | None]
) -> list[tuple[dict[str, Any], str]]:
    """The comments GitHub refuses, and why, among `comments`, which it refused together for
    `reason`: bisection, asking `refusal` about each half (log2 n questions for one bad comment)."""
    if len(comments) == 1:
        return [(comments[0], reason)]
    middle = len(comments) // 2
    refused = []
    for half in (comments[:middle], comments[middle:]):
        if (why := refusal(half)) is not None:
            refused += _refused_comments(half, why, refusal)
    return refused
