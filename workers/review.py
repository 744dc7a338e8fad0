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

import logging
import posixpath
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded
from github import GithubException

from appcore import metrics
from reviewers import (
    ChangedFile,
    Config,
    ConfigError,
    ReviewResult,
    diff_of_contents,
    from_patches,
    load_config,
    review,
)
from reviewers import github_core as core
from reviewers.config import CONFIG_PATH
from reviewers.engine import FileUnread
from reviewers.github_core import ReviewJob
from reviewers.locale import gettext
from workers import posting
from workers.contents import CommitFiles, review_pool
from workers.github_client import GitHubApp, PullRequest, RepositoryClient, ReviewComment
from workers.posting import FIXED_MARK

log = logging.getLogger(__name__)

MAX_LISTED_FILES = 3000  # GitHub's files list of a pull request stops there


@dataclass(frozen=True)
class Outcome:
    status: str  # 'success' | 'failure' | 'superseded' | 'duplicate' | 'no-pull-request' | an on_error conclusion
    check_run_id: int | None = None
    rules: tuple[str, ...] = ()  # the rule of each finding
    comments_posted: int = 0
    comments_marked_fixed: int = 0
    complete: bool = True  # False when the review could not read or finish everything


class Superseded(Exception):
    """The pull request moved on (new head, closed) while it was being reviewed."""

    def __init__(self, reason: str, title: str):
        super().__init__(reason)
        self.title = title  # the title of the check run completed as skipped


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
    on_error_chosen_by: str = ""  # what set the configuration's `on_error`, as a failure's summary says
    check_run_id: int | None = None
    step: str = "starting"  # what the review is doing: a failure's title names it
    result: ReviewResult | None = None  # the findings, once analysed
    plan: core.CommentPlan | None = None  # the inline comments, once posted (None: the check run holds all)
    unread: list[str] = field(default_factory=list)  # files left unread at the reading deadline

    def __post_init__(self) -> None:
        self.repo = self.github.repository(self.job.installation_id, self.job.repository)

    def run(self) -> Outcome:
        job = self.job
        base_sha = job.base_sha
        self.step = "reading the pull request"
        if job.pull_number is not None:
            base_sha = self._current_pull().base_sha
        # The check run is opened (and remembered) before anything else is asked: a worker that
        # dies later leaves no check run in progress that its retry does not know of.
        self.step = "opening the check run"
        self.check_run_id = self.check_runs.open(self.repo, job)
        with closing_pool() as pool:
            # The reads that do not depend on each other are asked at once; each answer is then
            # taken in the order of the steps, so that a failure names the step it belongs to.
            configuring = pool.submit(self._configuration, base_sha)
            listing = pool.submit(self._changed_files, base_sha)
            head = CommitFiles(self.repo, job.head_sha, pool, self.read_until)
            self.step = "reading the configuration"
            config, config_note, self.on_error_chosen_by = configuring.result()
            self.config = config
            self.step = "listing the changed files"
            listed = listing.result()
            changes = from_patches(listed)
            self.step = "reading and analysing the changed Go files"
            # The engine rebuilds most base files from the head ones: the base is listed only
            # if it reads one (a deleted file, a head file left unread, a file with no patch).
            base = CommitFiles(self.repo, base_sha, pool, self.read_until, list_now=False)
            changes = _patched_from_blobs(changes, listed, config, head, base)
            _prefetch(changes, config, head, base)
            result = review(
                changes,
                head=head.read,
                base=base.read,
                config=config,
                package_paths=head.directory,
            )
        self.unread = list(dict.fromkeys(head.unread + base.unread))
        result.notes[:0] = [note for note in (config_note, *_listing_notes(listed, changes)) if note]
        if self.unread:
            result.notes.append(_unread_note(self.unread, {c.path for c in changes}))
        self.result = result

        posted = marked_fixed = 0
        if job.pull_number is not None:  # a merge group has no pull request: the check run holds all
            self.step = "posting the review"
            self.plan, marked_fixed = self._comment(result, changes, config)
            posted = len(self.plan.comments)

        self.step = "completing the check run"
        conclusion, output = self._judged(config)
        self._complete(conclusion, output)
        rules = tuple(f.rule for f in result.findings)
        return Outcome(conclusion, self.check_run_id, rules, posted, marked_fixed, complete=not self.unread)

    def _judged(self, config: Config, failure: str | None = None) -> tuple[str, dict[str, Any]]:
        """The conclusion and output (annotations included) of the findings, as
        `goreef review --format github` shows them. A review left incomplete (files not read,
        or `failure` after the analysis) fails when its findings reach `fail_on`, and
        otherwise concludes as `on_error` says: what it could not do may hide a trap."""
        payload = core.check_run_payload(self.result, config, self.docs_url, self.plan)
        output = payload["output"]
        fails = config.fails(self.result.findings)
        language = config.language
        unread = self.unread and gettext(language, "{count} file(s) could not be read in time", count=len(self.unread))
        why = failure or unread
        if not why:
            return payload["conclusion"], output
        conclusion = "failure" if fails else config.on_error
        verdict = (
            gettext(language, "The findings fail the check.")
            if fails
            else gettext(language, "The conclusion is `{conclusion}` (`on_error`).", conclusion=conclusion)
        )
        output["title"] = gettext(language, "{title}; {why}: Re-run to finish", title=output["title"], why=why)
        output["summary"] = gettext(
            language,
            "**Incomplete review: {why}.** {verdict} Re-run the check to finish it.\n\n{summary}",
            why=why,
            verdict=verdict,
            summary=output["summary"],
        )
        return conclusion, output

    def _comment(
        self, result: ReviewResult, changes: list[ChangedFile], config: Config
    ) -> tuple[core.CommentPlan, int]:
        """Post the new findings as one review and mark the comments of vanished ones fixed.

        Answers the comments as posted (GitHub's refusals taken out), and how many comments
        were marked fixed."""
        plan, open_comments = posting.plan_new_comments(
            self.repo, self.job.pull_number, self.job.head_sha, result, changes, config, self.docs_url
        )
        self._current_pull()  # nothing is posted for a head that is no longer current
        plan = posting.post_review(self.repo, self.job.pull_number, self.job.head_sha, plan, self._current_pull)
        current = {f.fingerprint for f in result.findings}
        vanished = [c for fp, c in open_comments.items() if fp not in current]
        self._mark_fixed(vanished)
        return plan, len(vanished)

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

    def stop_superseded(self, moved: Superseded) -> Outcome:
        # A check run opened by an earlier attempt of this task must not stay in progress.
        self.check_run_id = self.check_run_id or self.check_runs.known()
        if self.check_run_id is not None:
            self._complete("skipped", {"title": moved.title, "summary": f"goreef stopped: {moved}."})
        return Outcome("superseded", self.check_run_id, complete=False)  # reopened, it is reviewed again

    def fail(self, error: BaseException) -> Outcome:
        """Complete the check run after an error no retry will cure: with what the review found
        when it got that far, else as `on_error` says. Raises CheckRunNotCompleted when even
        that cannot be done."""
        cause = f"goreef could not finish: {_cause(error)} while {self.step}"
        try:
            self.check_run_id = self.check_run_id or self.check_runs.open(self.repo, self.job)
            if self.result is not None:
                conclusion, output = self._judged(self.config, cause)
            else:
                conclusion, chosen_by = self._on_error()
                summary = (
                    f"{cause} (`{type(error).__name__}`).\n\n"
                    f"The conclusion is `{conclusion}` ({chosen_by}). Re-run the check to try again."
                )
                output = {"title": f"{cause}: Re-run to try again", "summary": summary}
            self._complete(conclusion, output)
        except Exception as failed:
            raise CheckRunNotCompleted(f"{cause}, then {_cause(failed)} while completing the check run") from error
        rules = tuple(f.rule for f in self.result.findings) if self.result is not None else ()
        return Outcome(conclusion, self.check_run_id, rules, complete=False)

    def _on_error(self) -> tuple[str, str]:
        """The conclusion of a review that failed, and what chose it.

        A configuration this review could not read (GitHub failing) is no reason to drop the
        team's choice: the one last read for the repository stands, else the default."""
        if self.config is not None:
            return self.config.on_error, self.on_error_chosen_by
        if (remembered := self.last_on_error.recall()) is not None:
            on_error, chosen_by = remembered
            return on_error, f"{chosen_by}, as last read: the configuration could not be read this time"
        return Config().on_error, "the default `on_error`: the configuration could not be read"

    def _current_pull(self) -> PullRequest:
        pull = self.repo.pull_request(self.job.pull_number)
        if pull.state != "open":
            raise Superseded(
                f"pull request #{pull.number} is {pull.state}", f"Not reviewed: the pull request is {pull.state}"
            )
        if pull.head_sha != self.job.head_sha:
            raise Superseded(
                f"pull request #{pull.number} moved on to {pull.head_sha[:7]}", "Superseded by a newer commit"
            )
        return pull

    def _configuration(self, base_sha: str) -> tuple[Config, str | None, str]:
        """The configuration, a note when it is malformed (the defaults are used then), and
        what set its `on_error` (a file, or the default when there is none).

        The `on_error` read is remembered for the reviews that will fail to read it."""
        text, source = self._configuration_file(base_sha)
        if text is None:
            config, chosen_by = (
                Config(),
                f"the default `on_error`: no `{CONFIG_PATH}` in the repository or its organisation",
            )
        else:
            try:
                config, chosen_by = load_config(text), f"`on_error` in `{source}`"
            except ConfigError as error:
                note = f"{source} is malformed, so the defaults were used: {error}"
                return Config(), note, f"the default `on_error`: `{source}` is malformed"
        self.last_on_error.remember(config.on_error, chosen_by)
        return config, None, chosen_by

    def _configuration_file(self, base_sha: str) -> tuple[bytes | None, str | None]:
        """The repository's configuration on the base branch, else its organisation's (the Probot
        way), and where it comes from; None when neither has one."""
        text = self.repo.file(CONFIG_PATH, base_sha)
        if text is not None:
            return text, f"{self.job.repository}:{CONFIG_PATH}"
        owner = self.job.repository.split("/")[0]
        text = self.github.repository(self.job.installation_id, f"{owner}/.github").file(CONFIG_PATH)
        return (text, f"{owner}/.github:{CONFIG_PATH}") if text is not None else (None, None)

    def _changed_files(self, base_sha: str) -> list[dict[str, Any]]:
        if self.job.pull_number is not None:
            return self.repo.changed_files(self.job.pull_number)
        return self.repo.compared_files(base_sha, self.job.head_sha)

    def _complete(self, conclusion: str, output: dict[str, Any]) -> None:
        """Complete the check run with `output`, its annotations (if any) sent 50 a request."""
        annotations = output.get("annotations", [])
        if annotations:
            # An earlier attempt may have sent some (an update answered 5xx may have taken
            # effect): GitHub appends annotations, in order, so the count says which it holds.
            annotations = annotations[self.repo.annotation_count(self.check_run_id) :]
        batches = [
            annotations[i : i + core.MAX_ANNOTATIONS_PER_REQUEST]
            for i in range(0, len(annotations), core.MAX_ANNOTATIONS_PER_REQUEST)
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

    def open(self, repo: RepositoryClient, job: ReviewJob) -> int:
        known = self.known()
        if known is not None:
            return known
        check_run_id = repo.create_check_run(
            job.head_sha,
            # The Re-run button sends the check run back without its pull request when the head
            # is in a fork: the number travels in the check run itself.
            external_id=str(job.pull_number) if job.pull_number is not None else "",
            name=core.CHECK_NAME,
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

    def remember(self, on_error: str, chosen_by: str) -> None:
        """Remember `on_error` and what set it (a file, the default)."""
        self._store.set(self._key, f"{on_error}\t{chosen_by}", ex=self.TTL)

    def recall(self) -> tuple[str, str] | None:
        remembered = self._store.get(self._key)
        if remembered is None:
            return None
        on_error, _, chosen_by = remembered.decode().partition("\t")
        # A value remembered before goreef kept what set it came from the file.
        return on_error, chosen_by or f"`on_error` in `{CONFIG_PATH}`"


def pull_request_jobs(github: GitHubApp, job: ReviewJob) -> list[ReviewJob]:
    """`job`, or for a job whose pull request is to be looked up by its head (a re-run on a
    fork's head), one job per open pull request whose head it is (none when it has none)."""
    if not job.pull_by_head:
        return [job]
    numbers = github.repository(job.installation_id, job.repository).pulls_of_head(job.head_sha)
    return [replace(job, pull_number=number, pull_by_head=False) for number in numbers]


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
        return current.stop_superseded(moved)
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


def _patched_from_blobs(
    changes: list[ChangedFile], listed: list[dict[str, Any]], config: Config, head: CommitFiles, base: CommitFiles
) -> list[ChangedFile]:
    """The Go files GitHub lists with no patch (their diff is over its size limit, or binary)
    diffed here from their blobs, so that they are reviewed like the others (`max_file_bytes`
    still applies); left as they are when a blob cannot be read in time."""
    missing = [c for c in changes if c.status == "no_patch" and c.is_go and not config.ignores(c.path)]
    if not missing:
        return changes
    added = {entry["filename"] for entry in listed if entry.get("status") == "added"}
    head.prefetch(c.path for c in missing)
    base.prefetch(c.old_path for c in missing if c.old_path and c.path not in added)
    diffed: dict[str, ChangedFile] = {}
    for change in missing:
        try:
            new = head.read(change.path)
            old = None if change.path in added or change.old_path is None else base.read(change.old_path)
        except FileUnread:
            continue
        if new is not None and len(new) > config.max_file_bytes:  # not diffed: the engine says which limit
            diffed[change.path] = replace(change, status="modified")
        elif new is not None and (old is not None or change.path in added):
            diffed[change.path] = diff_of_contents(change.path, change.old_path, old, new)
    return [diffed.get(c.path, c) for c in changes]


def _prefetch(changes: list[ChangedFile], config: Config, head: CommitFiles, base: CommitFiles) -> None:
    """Start fetching what the review will read, in the order it reads: each package's go.mod,
    the changed Go files, the other Go files of their packages; last, the deleted Go files at
    base (the others are rebuilt from head)."""
    changed = [c for c in changes if c.is_go and c.reviewable and not config.ignores(c.path)]
    directories = dict.fromkeys(posixpath.dirname(c.path) for c in changed)
    head.prefetch(filter(None, map(head.nearest_go_mod, directories)))
    head.prefetch(c.path for c in changed)
    head.prefetch(p for d in directories for p in head.directory(d) if p.endswith(".go"))
    base.prefetch(
        c.old_path
        for c in changes
        if c.is_go and c.status == "deleted" and c.old_path and not config.ignores(c.old_path)
    )


@contextmanager
def closing_pool() -> Iterator[ThreadPoolExecutor]:
    """The review's reading threads; what is still queued when it ends (a deadline, an error)
    is dropped."""
    pool = review_pool()
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _unread_note(paths: list[str], changed: set[str]) -> str:
    def listed(some: list[str]) -> str:
        return ", ".join(some[:10]) + (", …" if len(some) > 10 else "")

    diffed = [p for p in paths if p in changed]
    others = [p for p in paths if p not in changed]
    parts = []
    if diffed:
        parts.append(f"only the diff of the changed ones was reviewed: {listed(diffed)}")
    if others:
        parts.append(f"the unchanged ones (other files of the packages, go.mod) were left out: {listed(others)}")
    return f"{len(paths)} file(s) could not be read from GitHub before the review had to finish; " + "; ".join(parts)


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


def _fixed_body(body: str, sha: str) -> str:
    return (
        f"✅ Fixed in {sha[:7]}. {FIXED_MARK}\n\n<details><summary>Original comment</summary>\n\n{body}\n\n</details>"
    )
