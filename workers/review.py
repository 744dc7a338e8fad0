"""One review of one pull request head (or merge group): from check run to posted comments.

The steps, each safe to repeat (a retried task or a redelivered webhook runs them again):
1. stop at once if the pull request is closed or its head moved on;
2. open the check run `goreef` (in_progress), or take up the one this task opened before;
3. read the configuration from the base branch, fetch the changed files, run `reviewers`;
4. check the head again, then post one review holding only comments whose fingerprint is not
   on the pull request yet, each checked against the lines GitHub accepts comments on;
5. mark comments whose finding is gone as fixed (thread resolved, comment edited), and
   complete the check run.

The gate never opens by failing. Files not read by the reading deadline are reviewed from
their diff alone, and the review then concludes `failure` when its findings reach `fail_on`,
else `on_error` (default `failure`): it could not read everything. A review that fails later
on still completes its check run, with what it found when it got that far.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded
from github import GithubException

from reviewers import ChangedFile, Config, ConfigError, Finding, ReviewResult, from_patches, load_config, review
from reviewers.render import github as render
from workers import metrics
from workers.github_client import GitHubApp, PullRequest, RepositoryClient, ReviewComment, ReviewRefused
from workers.jobs import ReviewJob

log = logging.getLogger(__name__)

CHECK_NAME = "goreef"
CONFIG_PATH = ".github/goreef.yml"
FIXED_MARK = "<!-- goreef:fixed -->"
SUMMARY_LIMIT = 65_535  # GitHub's limit on a check run's summary
MAX_LISTED_FILES = 3000  # GitHub's files list of a pull request stops there


@dataclass(frozen=True)
class Outcome:
    status: str  # 'success' | 'failure' | 'superseded' | 'duplicate' | an on_error conclusion
    check_run_id: int | None = None
    rules: tuple[str, ...] = ()  # the rule of each finding
    comments_posted: int = 0
    comments_marked_fixed: int = 0
    complete: bool = True  # False when the review could not read or finish everything


class Superseded(Exception):
    """The pull request moved on (new head, closed) while it was being reviewed."""


class CheckRunNotCompleted(Exception):
    """A review failed and its check run could not be completed either (no installation token,
    GitHub unreachable): nothing on GitHub says so, and the review must run again."""


@dataclass
class Review:
    """The state of one review as it goes: kept so that a failure can still complete the check run."""

    github: GitHubApp
    job: ReviewJob
    docs_url: str | None
    check_runs: CheckRunRegistry
    last_on_error: LastOnError
    read_until: float | None = None  # time.monotonic() past which no file is read from GitHub
    repo: RepositoryClient = field(init=False)
    config: Config | None = None  # None until read from the base branch
    check_run_id: int | None = None
    step: str = "starting"  # what the review is doing: a failure's title names it
    result: ReviewResult | None = None  # the findings, once analysed
    commented: int = 0  # how many of the findings have an inline comment
    unread: list[str] = field(default_factory=list)  # files left unread at the reading deadline

    def __post_init__(self) -> None:
        self.repo = self.github.repository(self.job.installation_id, self.job.repository)

    def run(self) -> Outcome:
        job = self.job
        base_sha = job.base_sha
        self.step = "reading the pull request"
        if job.pull_number is not None:
            base_sha = self._current_pull().base_sha
        self.step = "opening the check run"
        self.check_run_id = self.check_runs.open(self.repo, job.head_sha)

        self.step = "reading the configuration"
        config, config_note = self._configuration(base_sha)
        self.config = config
        self.step = "listing the changed files"
        listed = self._changed_files(base_sha)
        changes = from_patches(listed)
        self.step = "reading and analysing the changed Go files"
        result = review(
            changes,
            head=self._reader(job.head_sha),
            base=self._reader(base_sha),
            config=config,
        )
        result.notes[:0] = [note for note in (config_note, *_listing_notes(listed, changes)) if note]
        if self.unread:
            result.notes.append(_unread_note(self.unread))
        self.result = result
        self.commented = len(result.findings)  # a merge group has no pull request: the check run holds all

        posted = marked_fixed = 0
        if job.pull_number is not None:
            self.step = "posting the review"
            posted, marked_fixed, self.commented = self._comment(result, changes, config.comment_cap)

        self.step = "completing the check run"
        conclusion, output = self._judged(config)
        self._complete(conclusion, output, render.annotations(result.findings, self.docs_url))
        rules = tuple(f.rule for f in result.findings)
        return Outcome(conclusion, self.check_run_id, rules, posted, marked_fixed, complete=not self.unread)

    def _judged(self, config: Config, failure: str | None = None) -> tuple[str, dict[str, Any]]:
        """The conclusion and output of the findings. A review left incomplete (files not read,
        or `failure` after the analysis) fails when its findings reach `fail_on`, and
        otherwise concludes as `on_error` says: what it could not do may hide a trap."""
        output = _output(self.result, config, self.docs_url, self.commented)
        fails = config.fails(self.result.findings)
        why = failure or (self.unread and f"{len(self.unread)} file(s) could not be read in time")
        if not why:
            return ("failure" if fails else "success"), output
        conclusion = "failure" if fails else config.on_error
        verdict = "The findings fail the check." if fails else f"The conclusion is `{conclusion}` (`on_error`)."
        output["title"] = f"{output['title']}; {why}: Re-run to finish"
        output["summary"] = (
            f"**Incomplete review: {why}.** {verdict} Re-run the check to finish it.\n\n{output['summary']}"
        )
        return conclusion, output

    def _comment(self, result: ReviewResult, changes: list[ChangedFile], comment_cap: int) -> tuple[int, int, int]:
        """Post the new findings as one review and mark the comments of vanished ones fixed.

        Answers how many comments were posted, how many marked fixed, and how many of the
        findings now have a comment."""
        number, head_sha = self.job.pull_number, self.job.head_sha
        existing = [c for c in self.repo.review_comments(number) if c.author_is_bot]
        open_comments = {fp: c for c in existing if (fp := _fingerprint(c)) and FIXED_MARK not in c.body}
        new = [f for f in result.findings if f.fingerprint not in open_comments]
        comments, off_diff = _comments_for(new, changes, self.docs_url)
        # The cap is per push: the comments a cut-short run of this push posted count against it.
        room = comment_cap - sum(1 for c in existing if c.commit_sha == head_sha)
        comments = comments[: max(0, room)]
        if off_diff:
            result.notes.append(
                f"{len(off_diff)} finding(s) are on lines outside the diff, where GitHub takes no comment: "
                + ", ".join(f"{f.path}:{f.line}" for f in off_diff)
            )
        self._current_pull()  # nothing is posted for a head that is no longer current
        comments, refused = self._post_review(comments)
        if refused:
            result.notes.append(
                f"GitHub refused {len(refused)} inline comment(s), so they are reported here only: "
                + "; ".join(f"{c['path']}:{c['line']} ({reason})" for c, reason in refused)
            )
        current = {f.fingerprint for f in result.findings}
        vanished = [c for fp, c in open_comments.items() if fp not in current]
        self._mark_fixed(vanished)
        return len(comments), len(vanished), len(result.findings) - len(new) + len(comments)

    def _mark_fixed(self, comments: list[ReviewComment]) -> None:
        """Resolve the threads of `comments`, whose findings are gone, and say so in each comment.

        The thread is resolved first: the edit takes the comment out of the open ones, so a run
        cut short between the two finds the thread still to resolve."""
        if not comments:
            return
        number, head_sha = self.job.pull_number, self.job.head_sha
        threads = self.repo.review_threads(number)
        for comment in comments:
            thread = threads.get(comment.id)
            if thread is not None and not thread.resolved:
                self.repo.resolve_review_thread(thread.id)
            self.repo.edit_review_comment(number, comment.id, _fixed_body(comment.body, head_sha))

    def _post_review(
        self, comments: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
        """Post one review of `comments`; answers the comments posted, and those GitHub refused with why.

        GitHub refuses a whole review for one comment it does not take (422), at times even on
        a line inside the diff. The refused ones are found by bisection and the review is posted
        without them."""
        if not comments:
            return [], []
        number, head_sha = self.job.pull_number, self.job.head_sha
        if discarded := self.repo.discard_pending_reviews(number):
            log.warning("%s: discarded %d pending review(s) left by a review cut short", self.job.head_key, discarded)
        try:
            self.repo.create_review(number, head_sha, _review_body(len(comments)), comments)
            return comments, []
        except ReviewRefused as refusal:
            self._current_pull()  # a head that moved on is refused too: that is no comment's fault
            refused = _refused_comments(
                comments, refusal.reason, lambda some: self.repo.review_refusal(number, head_sha, some)
            )
        accepted = [c for c in comments if not any(c is r for r, _ in refused)]
        if accepted:
            self.repo.create_review(number, head_sha, _review_body(len(accepted)), accepted)
        return accepted, refused

    def stop_superseded(self, reason: str) -> Outcome:
        # A check run opened by an earlier attempt of this task must not stay in progress.
        self.check_run_id = self.check_run_id or self.check_runs.known()
        if self.check_run_id is not None:
            self._complete("skipped", {"title": "Superseded by a newer commit", "summary": reason}, [])
        return Outcome("superseded", self.check_run_id, complete=False)  # reopened, it is reviewed again

    def fail(self, error: BaseException) -> Outcome:
        """Complete the check run after an error no retry will cure: with what the review found
        when it got that far, else as `on_error` says. Raises CheckRunNotCompleted when even
        that cannot be done."""
        cause = f"goreef could not finish: {_cause(error)} while {self.step}"
        try:
            self.check_run_id = self.check_run_id or self.check_runs.open(self.repo, self.job.head_sha)
            if self.result is not None:
                conclusion, output = self._judged(self.config, cause)
                annotations = render.annotations(self.result.findings, self.docs_url)
            else:
                conclusion, chosen_by = self._on_error()
                summary = (
                    f"{cause} (`{type(error).__name__}`).\n\n"
                    f"The conclusion is `{conclusion}` ({chosen_by}). Re-run the check to try again."
                )
                output, annotations = {"title": f"{cause}: Re-run to try again", "summary": summary}, []
            self._complete(conclusion, output, annotations)
        except Exception as failed:
            raise CheckRunNotCompleted(f"{cause}, then {_cause(failed)} while completing the check run") from error
        rules = tuple(f.rule for f in self.result.findings) if self.result is not None else ()
        return Outcome(conclusion, self.check_run_id, rules, complete=False)

    def _on_error(self) -> tuple[str, str]:
        """The conclusion of a review that failed, and what chose it.

        A configuration this review could not read (GitHub failing) is no reason to drop the
        team's choice: the one last read for the repository stands, else the default."""
        if self.config is not None:
            return self.config.on_error, f"`on_error` in `{CONFIG_PATH}`"
        if (remembered := self.last_on_error.recall()) is not None:
            return remembered, f"`on_error` as last read from `{CONFIG_PATH}`, which could not be read this time"
        return Config().on_error, f"the default `on_error`: `{CONFIG_PATH}` could not be read"

    def _current_pull(self) -> PullRequest:
        pull = self.repo.pull_request(self.job.pull_number)
        if pull.state != "open":
            raise Superseded(f"pull request #{pull.number} is {pull.state}")
        if pull.head_sha != self.job.head_sha:
            raise Superseded(f"pull request #{pull.number} moved on to {pull.head_sha[:7]}")
        return pull

    def _configuration(self, base_sha: str) -> tuple[Config, str | None]:
        """The configuration, and a note when it is malformed (the defaults are used then).

        The `on_error` read is remembered for the reviews that will fail to read it."""
        text, source = self._configuration_file(base_sha)
        try:
            config = load_config(text)  # no file: the defaults
        except ConfigError as error:
            return Config(), f"{source} is malformed, so the defaults were used: {error}"
        self.last_on_error.remember(config.on_error)
        return config, None

    def _configuration_file(self, base_sha: str) -> tuple[bytes | None, str]:
        """The repository's configuration on the base branch, else its organisation's (the Probot
        way), and where it comes from; None when neither has one."""
        text = self.repo.file(CONFIG_PATH, base_sha)
        if text is not None:
            return text, f"{self.job.repository}:{CONFIG_PATH}"
        owner = self.job.repository.split("/")[0]
        return (
            self.github.repository(self.job.installation_id, f"{owner}/.github").file(CONFIG_PATH),
            f"{owner}/.github:{CONFIG_PATH}",
        )

    def _changed_files(self, base_sha: str) -> list[dict[str, Any]]:
        if self.job.pull_number is not None:
            return self.repo.changed_files(self.job.pull_number)
        return self.repo.compared_files(base_sha, self.job.head_sha)

    def _reader(self, ref: str) -> Callable[[str], bytes | None]:
        """A file's bytes at `ref`; None (the file is then reviewed from its diff) for the files
        asked for after the reading deadline, which are listed in `unread`."""

        def read(path: str) -> bytes | None:
            if self.read_until is not None and time.monotonic() > self.read_until:
                self.unread.append(path)
                return None
            return self.repo.file(path, ref)

        return functools.cache(read)

    def _complete(self, conclusion: str, output: dict[str, Any], annotations: list[dict[str, Any]]) -> None:
        if annotations:
            # An earlier attempt may have sent some (an update answered 5xx may have taken
            # effect): GitHub appends annotations, in order, so the count says which it holds.
            annotations = annotations[self.repo.annotation_count(self.check_run_id) :]
        batches = [
            annotations[i : i + render.MAX_ANNOTATIONS_PER_REQUEST]
            for i in range(0, len(annotations), render.MAX_ANNOTATIONS_PER_REQUEST)
        ] or [[]]
        # GitHub appends each request's annotations: all but the last batch go while in progress.
        for batch in batches[:-1]:
            self.repo.update_check_run(self.check_run_id, output={**output, "annotations": batch})
        self.repo.update_check_run(
            self.check_run_id,
            status="completed",
            conclusion=conclusion,
            completed_at=datetime.now(UTC),
            output={**output, "annotations": batches[-1]},
        )


class CheckRunRegistry:
    """The check run each task opened, so that a retried or redelivered task takes it up again."""

    TTL = 24 * 3600

    def __init__(self, store: redis.Redis, attempt_id: str):
        self._store = store
        self._key = f"goreef:check-run:{attempt_id}"

    def known(self) -> int | None:
        check_run_id = self._store.get(self._key)
        return int(check_run_id) if check_run_id is not None else None

    def open(self, repo: RepositoryClient, head_sha: str) -> int:
        known = self.known()
        if known is not None:
            return known
        check_run_id = repo.create_check_run(
            head_sha,
            name=CHECK_NAME,
            status="in_progress",
            started_at=datetime.now(UTC),
            output={"title": "Reviewing", "summary": "goreef is reviewing the changed Go files."},
        )
        self._store.set(self._key, check_run_id, ex=self.TTL)
        return check_run_id


class LastOnError:
    """The `on_error` last read from a repository's configuration, for a review that cannot read it."""

    TTL = 90 * 24 * 3600  # refreshed by every review; a repository gone quiet is forgotten

    def __init__(self, store: redis.Redis, repository: str):
        self._store = store
        self._key = f"goreef:on-error:{repository}"

    def remember(self, on_error: str) -> None:
        self._store.set(self._key, on_error, ex=self.TTL)

    def recall(self) -> str | None:
        on_error = self._store.get(self._key)
        return on_error.decode() if on_error is not None else None


def run_review(
    github: GitHubApp,
    store: redis.Redis,
    job: ReviewJob,
    *,
    attempt_id: str,
    docs_url: str | None,
    retryable: Callable[[Exception], bool] = lambda error: False,
    read_until: float | None = None,
) -> Outcome:
    """Review `job` once, reading from GitHub until `read_until` (time.monotonic()). A
    superseded head completes quietly; an error the caller will retry propagates, any other
    completes the check run as failed to review (see `Review.fail`)."""
    started = time.monotonic()
    current = Review(
        github, job, docs_url, CheckRunRegistry(store, attempt_id), LastOnError(store, job.repository), read_until
    )
    try:
        outcome = current.run()
    except Superseded as moved:
        log.info("%s: %s, not posting", job.head_key, moved)
        return current.stop_superseded(str(moved))
    except Exception as error:
        if retryable(error):
            raise
        log.exception("%s: review failed for good", job.head_key)
        outcome = current.fail(error)
    metrics.record_review(store, time.monotonic() - started, outcome.status, outcome.rules)
    return outcome


def _listing_notes(listed: list[dict[str, Any]], changes: list[ChangedFile]) -> list[str]:
    """What the summary says about files not reviewed for what the listing shows."""
    notes = []
    if len(listed) >= MAX_LISTED_FILES:
        notes.append(
            f"GitHub lists only the first {MAX_LISTED_FILES:,} files of a pull request: "
            "the files after them were not reviewed."
        )
    deleted = [c.path for c in changes if c.is_go and c.status == "deleted"]
    if deleted:
        notes.append(
            f"{len(deleted)} deleted Go file(s), nothing to review: {', '.join(deleted[:10])}"
            + (", …" if len(deleted) > 10 else "")
        )
    return notes


def _unread_note(paths: list[str]) -> str:
    shown = ", ".join(paths[:10]) + (", …" if len(paths) > 10 else "")
    return (
        f"{len(paths)} file(s) could not be read from GitHub before the review had to finish, so only "
        f"their diff was reviewed: {shown}"
    )


def _cause(error: BaseException) -> str:
    match error:
        case SoftTimeLimitExceeded():
            return "the review ran out of time"
        case GithubException(status=status):
            return f"GitHub answered {status}"
        case redis.RedisError():
            return "Redis was unreachable"
        case _:
            return f"an internal error ({type(error).__name__})"


def _fingerprint(comment: ReviewComment) -> str | None:
    match = render.FINGERPRINT_RE.search(comment.body)
    return match.group(1) if match else None


def _comments_for(
    findings: list[Finding], changes: list[ChangedFile], docs_url: str | None
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Review comments for the findings GitHub will accept a comment on, and the findings it would refuse.

    One comment off the diff makes GitHub refuse the whole review (422), so each is checked
    here: a multi-line comment whose first lines fall outside the diff keeps only its last line.
    """
    commentable = {c.path: c.commentable_lines for c in changes}
    comments, refused = [], []
    for finding in findings:
        lines = commentable.get(finding.path, frozenset())
        comment = render.review_comment(finding, docs_url)
        if comment["line"] not in lines:
            refused.append(finding)
            continue
        if "start_line" in comment and not set(range(comment["start_line"], comment["line"] + 1)) <= lines:
            del comment["start_line"], comment["start_side"]
        comments.append(comment)
    return comments, refused


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


def _review_body(count: int) -> str:
    return f"goreef found {count} new Go trap{'s' if count != 1 else ''} in this push. See the `goreef` check for the summary."


def _fixed_body(body: str, sha: str) -> str:
    return (
        f"✅ Fixed in {sha[:7]}. {FIXED_MARK}\n\n<details><summary>Original comment</summary>\n\n{body}\n\n</details>"
    )


def _output(result: ReviewResult, config: Config, docs_url: str | None, commented: int) -> dict[str, Any]:
    output = render.check_run_output(result, config, docs_url, commented=commented)
    if len(output["summary"]) > SUMMARY_LIMIT:
        output["summary"] = output["summary"][: SUMMARY_LIMIT - 100] + "\n\n… (summary truncated; see the annotations)"
    return output
